package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.averager.AveragerException;
import io.averager.cli.Main;
import io.averager.config.AveragerConfig;
import io.averager.ema.TensorSpec;
import io.averager.publish.SnapshotOptions;
import io.averager.publish.SnapshotPublisher;
import io.averager.publish.TensorSource;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.RewindAnswer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A trainer that dies after step 36 resumes from its own checkpoint at step 24: `averager rewind`
 * takes the run back there on a real broker, and the steps after it are published again with
 * other weights. Every profile's final checkpoint file must hold, bitwise, the tensors of a run
 * that never saw the abandoned steps, and so must a replay's with a new decay.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ResumeTest {

    private static final byte[] SIGNING_KEY = HexFormat.of().parseHex("8e7d6c5b4a3928170615243342516070"
            + "8e7d6c5b4a3928170615243342516070");

    private static final List<String> PROFILES = List.of("ema", "slow", "power");
    private static final long LAST = 48;
    /** The weights of the steps published again after the rewind differ from the first ones. */
    private static final long RESUMED = 1_000_000;

    @TempDir
    Path dir;

    @Test
    void aRunRewoundWithTheCommandEndsBitwiseAsARunThatNeverSawTheAbandonedSteps() throws Exception {
        String live = SharedKafka.unique("resumed");
        String reference = SharedKafka.unique("uninterrupted");
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            service.withEveryKindOfProfile();
            service.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "30");
            service.settings.put(AveragerConfig.HTTP_PORT_CONFIG, "0");
            service.settings.put(AveragerConfig.HTTP_ADVERTISED_CONFIG, "127.0.0.1");
            service.start();
            HttpApi api = new HttpApi(service.service().opsPort());
            Map<String, Object> producer = Map.of("bootstrap.servers", SharedKafka.bootstrapServers());
            try (SnapshotPublisher publisher = new SnapshotPublisher(producer, service.snapshotsTopic(), 1024)) {
                for (long step = 3; step <= 36; step += 3) {
                    publish(publisher, live, step, step);
                }
                for (long step = 3; step <= 24; step += 3) {
                    publish(publisher, reference, step, step);
                }
            }
            // The trainer's own checkpoint is at 24; it asked for the EMA's there.
            CheckpointManifest live24 = service.awaitCheckpoints(live, 24, PROFILES, Duration.ofSeconds(60)).get("ema");
            CheckpointManifest abandoned30 = service.awaitCheckpoints(live, 30, PROFILES, Duration.ofSeconds(60)).get("ema");
            StringWriter out = new StringWriter();
            CommandLine rewind = Main.commandLine();
            rewind.setOut(new PrintWriter(out));
            String[] command = {"rewind", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                "-D", AveragerConfig.TOPIC_SNAPSHOTS_CONFIG + "=" + service.snapshotsTopic(),
                "-D", AveragerConfig.TOPIC_RUN_EVENTS_CONFIG + "=" + service.runEventsTopic(), "--run", live, "--to-step", "21"};
            assertThat(rewind.execute(command)).as("a rewind to a step without a restore point").isNotZero();
            command[command.length - 1] = "24";
            assertThat(rewind.execute(command)).isZero();
            assertThat(out.toString()).contains("Run " + live + " rewound to step 24", "its rewinds so far: 1");
            // Before any step after it: the run stands at 24, and its live EMA is that of step 24.
            JsonNode rewound = api.await("/runs", j -> j.toString().contains("\"resumedFrom\":24"), Duration.ofSeconds(60));
            assertThat(rewound.toString()).contains("\"run\":\"" + live + "\",\"lastStep\":24", "\"rewinds\":1");
            HttpResponse<byte[]> emaAt24 = api.bytes("/runs/" + HttpApi.segment(live) + "/ema?profile=ema");
            assertThat(emaAt24.statusCode()).isEqualTo(200);
            Path downloaded = dir.resolve("live-ema-24.safetensors");
            Files.write(downloaded, emaAt24.body());
            CheckpointManifest at24 = service.awaitCheckpoints(reference, 24, PROFILES, Duration.ofSeconds(60)).get("ema");
            CheckpointComparison.assertSameTensors("ema", downloaded, file(at24));

            // The checkpoint of the abandoned step 30 stays stored, superseded; the latest is 24's.
            String listed = cli(service, "checkpoints", "--run", live, "--profile", "ema");
            assertThat(row(listed, abandoned30)).contains("superseded (rewind 1 to step 24)");
            assertThat(row(listed, live24)).contains(" live ");
            Path latest = dir.resolve("latest-after-rewind.safetensors");
            cli(service, "get", "--run", live, "--profile", "ema", "--latest", "-o", latest.toString());
            assertThat(Files.mismatch(latest, file(live24))).as("get --latest is the restore point's file").isEqualTo(-1);
            api.await("/runs", j -> lastCheckpointStep(j, live) == 24, Duration.ofSeconds(60));
            try (SnapshotPublisher publisher = new SnapshotPublisher(producer, service.snapshotsTopic(), 1024)) {
                for (long step = 27; step <= LAST; step += 3) {
                    publish(publisher, live, step, RESUMED + step);
                    publish(publisher, reference, step, RESUMED + step);
                }
            }

            Map<String, CheckpointManifest> resumed = service.awaitCheckpoints(live, LAST, PROFILES, Duration.ofSeconds(60));
            Map<String, CheckpointManifest> uninterrupted =
                    service.awaitCheckpoints(reference, LAST, PROFILES, Duration.ofSeconds(60));
            for (String profile : PROFILES) {
                CheckpointComparison.assertSameTensors(profile, file(resumed.get(profile)), file(uninterrupted.get(profile)));
            }
            // Step 30 was checkpointed on both branches: two files, the live branch's chosen.
            CheckpointManifest live30 = service.awaitCheckpoints(live, 30, PROFILES, Duration.ofSeconds(60)).get("ema");
            assertThat(live30.getRewinds()).isEqualTo(1);
            assertThat(live30.getUri()).endsWith("/step-30.rewind-1.safetensors");
            assertThat(Files.mismatch(file(abandoned30), file(live30))).as("the abandoned file left in place").isNotEqualTo(-1);
            listed = cli(service, "checkpoints", "--run", live, "--profile", "ema");
            assertThat(row(listed, abandoned30)).contains("superseded (rewind 1 to step 24)");
            assertThat(row(listed, live30)).contains(" live ");
            assertThat(cli(service, "checkpoints", "--run", live, "--profile", "ema", "--live")).doesNotContain("superseded");
            Path at30 = dir.resolve("step-30.safetensors");
            cli(service, "get", "--run", live, "--profile", "ema", "--step", "30", "-o", at30.toString());
            assertThat(Files.mismatch(at30, file(live30))).isEqualTo(-1);
            api.await("/runs", j -> lastCheckpointStep(j, live) == LAST, Duration.ofSeconds(60));

            // A replay with a new decay follows the rewind as the live service did.
            Path replayed = dir.resolve("replayed");
            assertThat(Main.commandLine().execute("replay", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                    "-D", AveragerConfig.TOPIC_SNAPSHOTS_CONFIG + "=" + service.snapshotsTopic(),
                    "-D", AveragerConfig.TOPIC_MANIFESTS_CONFIG + "=" + SharedKafka.unique("replay-manifests"),
                    "-D", AveragerConfig.CHECKPOINT_STORE_CONFIG + "=" + replayed,
                    "-D", AveragerConfig.TOPIC_PARTITIONS_CONFIG + "=2",
                    "--run", live, "--run", reference, "--profile", "wide", "--decay", "0.95")).isZero();
            // The replay rewinds as the service did, so its live checkpoints too are of rewind 1.
            CheckpointComparison.assertSameTensors("wide", replayed.resolve("runs").resolve(live).resolve("wide").resolve("step-48.rewind-1.safetensors"),
                    replayed.resolve("runs").resolve(reference).resolve("wide").resolve("step-48.safetensors"));
        }
    }

    /**
     * The dead trainer is a zombie: its snapshot of step 36 is half sent, its transaction open,
     * when the resumed trainer starts with the same transactional id. Kafka fences the zombie
     * (aborting what it left open) before the rewind is sent, so nothing of step 36 counts, even
     * once the zombie sends the rest, and a whole snapshot it tries after the rewind is refused.
     */
    @Test
    void aZombieTrainersSnapshotNeverCountsOnceTheResumedTrainerStartsWithItsTransactionalId() throws Exception {
        String live = SharedKafka.unique("zombie");
        String reference = SharedKafka.unique("uninterrupted");
        String transactionalId = "trainer-" + live + "-rank0";
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            service.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "0");
            service.start();
            Map<String, Object> trainer = Map.of("bootstrap.servers", SharedKafka.bootstrapServers(),
                    ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
            Map<String, Object> other = Map.of("bootstrap.servers", SharedKafka.bootstrapServers());
            SnapshotPublisher zombie = new SnapshotPublisher(trainer, service.snapshotsTopic(), 1024);
            try (SnapshotPublisher publisher = new SnapshotPublisher(other, service.snapshotsTopic(), 1024)) {
                for (long step = 3; step <= 33; step += 3) {
                    publish(zombie, live, step, step);
                }
                for (long step = 3; step <= 24; step += 3) {
                    publish(publisher, reference, step, step);
                }
            }
            CountDownLatch halfSent = new CountDownLatch(1);
            CountDownLatch resumed = new CountDownLatch(1);
            CompletableFuture<Void> dying = CompletableFuture.runAsync(() -> {
                try {
                    zombie.publish(live, 36, SnapshotOptions.update(), halting(TestModel.weights(36), halfSent, resumed));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            assertThat(halfSent.await(60, TimeUnit.SECONDS)).as("the zombie's step 36 half sent").isTrue();

            try (SnapshotPublisher publisher = new SnapshotPublisher(trainer, service.snapshotsTopic(), 1024)) {
                publisher.rewind(live, 24, service.runEventsTopic(), Duration.ofSeconds(60));
                resumed.countDown();
                assertThatThrownBy(() -> dying.get(60, TimeUnit.SECONDS)).as("the zombie, once fenced")
                        .hasCauseInstanceOf(AveragerException.class);
                // A zombie that wakes up later to publish a whole snapshot after the rewind.
                assertThatThrownBy(() -> publish(zombie, live, 39, 39)).isInstanceOf(AveragerException.class)
                        .hasMessageContaining("another publisher started with transactional.id " + transactionalId);
                zombie.close();
                for (long step = 27; step <= LAST; step += 3) {
                    publish(publisher, live, step, RESUMED + step);
                }
            }
            try (SnapshotPublisher publisher = new SnapshotPublisher(other, service.snapshotsTopic(), 1024)) {
                for (long step = 27; step <= LAST; step += 3) {
                    publish(publisher, reference, step, RESUMED + step);
                }
            }

            CheckpointManifest resumedEma = service.awaitCheckpoints(live, LAST, List.of("ema"), Duration.ofSeconds(60)).get("ema");
            CheckpointManifest uninterrupted =
                    service.awaitCheckpoints(reference, LAST, List.of("ema"), Duration.ofSeconds(60)).get("ema");
            CheckpointComparison.assertSameTensors("ema", file(resumedEma), file(uninterrupted));
        }
    }

    /**
     * The trainer resumes from its own checkpoint at 33, where the EMA has none (it checkpointed
     * 24 on request and 30 by cadence): the service's rebuilder publishes the snapshot of 33
     * again after the restore point of 30, and the run ends bitwise as one never interrupted.
     * A run whose history after its restore point is gone is refused, naming that restore point,
     * and goes on unchanged. Every run here is of a signed prefix.
     */
    @Test
    void aResumeBetweenEmaCheckpointsIsRebuiltAndOneWhoseHistoryIsGoneIsRefusedChangingNothing() throws Exception {
        String live = SharedKafka.unique("rebuilt");
        String reference = SharedKafka.unique("uninterrupted");
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            service.withEveryKindOfProfile();
            service.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "30");
            // Every run signed: the rebuild publishes the snapshots again with their MACs, and its marks with the run's.
            service.settings.put(AveragerConfig.SNAPSHOT_SIGNING_KEYS_CONFIG, Files.writeString(dir.resolve("signing.keys"),
                    String.join("", List.of("rebuilt", "uninterrupted", "gone", "kept").stream()
                            .map(prefix -> prefix + " " + HexFormat.of().formatHex(SIGNING_KEY) + "\n").toList())).toString());
            service.start();
            Map<String, Object> producer = Map.of("bootstrap.servers", SharedKafka.bootstrapServers());
            try (SnapshotPublisher publisher = new SnapshotPublisher(producer, service.snapshotsTopic(), 1024, SIGNING_KEY)) {
                for (long step = 3; step <= 39; step += 3) {
                    publish(publisher, live, step, step);
                }
                for (long step = 3; step <= 33; step += 3) {
                    publish(publisher, reference, step, step);
                }
                service.awaitCheckpoints(live, 30, PROFILES, Duration.ofSeconds(60));
                RewindAnswer answer = publisher.rewind(live, 33, service.runEventsTopic(), Duration.ofSeconds(60));
                assertThat(answer.getMessage()).isEqualTo("Run " + live + " rewound to step 33, rebuilt from its restore"
                        + " point at step 30 and the snapshots after it (request " + answer.getRequestId()
                        + "); its rewinds so far: 1");
                for (long step = 36; step <= LAST; step += 3) {
                    publish(publisher, live, step, RESUMED + step);
                    publish(publisher, reference, step, RESUMED + step);
                }
            }
            Map<String, CheckpointManifest> rebuilt = service.awaitCheckpoints(live, LAST, PROFILES, Duration.ofSeconds(60));
            Map<String, CheckpointManifest> uninterrupted =
                    service.awaitCheckpoints(reference, LAST, PROFILES, Duration.ofSeconds(60));
            for (String profile : PROFILES) {
                CheckpointComparison.assertSameTensors(profile, file(rebuilt.get(profile)), file(uninterrupted.get(profile)));
            }
            // A replay reads the snapshots the rebuild published again, and follows it as the service did:
            // with a new decay it ends where the uninterrupted run's replay does.
            Path replayed = dir.resolve("replayed-rebuild");
            assertThat(Main.commandLine().execute("replay", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                    "-D", AveragerConfig.TOPIC_SNAPSHOTS_CONFIG + "=" + service.snapshotsTopic(),
                    "-D", AveragerConfig.TOPIC_MANIFESTS_CONFIG + "=" + SharedKafka.unique("replay-manifests"),
                    "-D", AveragerConfig.CHECKPOINT_STORE_CONFIG + "=" + replayed,
                    "-D", AveragerConfig.TOPIC_PARTITIONS_CONFIG + "=2", "--checkpoint-every", "30",
                    "--run", live, "--run", reference, "--profile", "wide", "--decay", "0.95",
                    "--profile", "ema-again", "--decay", "0.9", "--warmup", "power")).isZero();
            CheckpointComparison.assertSameTensors("wide",
                    replayed.resolve("runs").resolve(live).resolve("wide").resolve("step-48.rewind-1.safetensors"),
                    replayed.resolve("runs").resolve(reference).resolve("wide").resolve("step-48.safetensors"));
            // With the live profile's settings, the replay of the rebuilt run is its live checkpoint, bitwise.
            CheckpointComparison.assertSameTensors("ema",
                    replayed.resolve("runs").resolve(live).resolve("ema-again").resolve("step-48.rewind-1.safetensors"),
                    file(rebuilt.get("ema")));

            // Retention takes the history of both runs' partitions; the restore points stay.
            String gone = SharedKafka.unique("gone");
            String kept = SharedKafka.unique("kept");
            try (SnapshotPublisher publisher = new SnapshotPublisher(producer, service.snapshotsTopic(), 1024, SIGNING_KEY)) {
                for (long step = 3; step <= 36; step += 3) {
                    publish(publisher, gone, step, step);
                    publish(publisher, kept, step, step);
                }
                service.awaitCheckpoints(gone, 30, PROFILES, Duration.ofSeconds(60));
                deleteHistory(service.snapshotsTopic());
                assertThatThrownBy(() -> publisher.rewind(gone, 33, service.runEventsTopic(), Duration.ofSeconds(60)))
                        .isInstanceOf(AveragerException.class)
                        .hasMessageContaining("Rewind of run " + gone + " to step 33")
                        .hasMessageContaining("the snapshots after step 30 are no longer retained")
                        .hasMessageContaining("the nearest step below it the run can be rewound to is 30");
                for (long step = 39; step <= LAST; step += 3) {
                    publish(publisher, gone, step, step);
                    publish(publisher, kept, step, step);
                }
            }
            Map<String, CheckpointManifest> refused = service.awaitCheckpoints(gone, LAST, PROFILES, Duration.ofSeconds(60));
            Map<String, CheckpointManifest> untouched = service.awaitCheckpoints(kept, LAST, PROFILES, Duration.ofSeconds(60));
            for (String profile : PROFILES) {
                CheckpointComparison.assertSameTensors(profile, file(refused.get(profile)), file(untouched.get(profile)));
            }
        }
    }

    /** Deletes every record published so far on each partition, as retention would. */
    private static void deleteHistory(String topic) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
            int partitions = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            for (int p = 0; p < partitions; p++) {
                latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
            }
            Map<TopicPartition, RecordsToDelete> cut = new HashMap<>();
            admin.listOffsets(latest).all().get().forEach((tp, info) -> cut.put(tp, RecordsToDelete.beforeOffset(info.offset())));
            admin.deleteRecords(cut).all().get();
        }
    }

    /** The test model's tensors, whose reads stop after the first chunk until {@code go}. */
    private static List<TensorSource> halting(Map<String, ByteBuffer> weights, CountDownLatch halfSent, CountDownLatch go) {
        List<TensorSource> sources = new ArrayList<>();
        for (TensorSource t : TestModel.sources(weights)) {
            sources.add(new TensorSource() {
                @Override
                public TensorSpec spec() {
                    return t.spec();
                }

                @Override
                public ByteBuffer read(long elementOffset, int count) throws IOException {
                    if (sources.indexOf(this) > 0 && halfSent.getCount() > 0) {
                        halfSent.countDown();
                        try {
                            go.await();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new IOException(e);
                        }
                    }
                    return t.read(elementOffset, count);
                }
            });
        }
        return sources;
    }

    /** Publishes the test model's weights of {@code weightsOf} as step {@code step}, asking for a checkpoint at 24. */
    private static void publish(SnapshotPublisher publisher, String run, long step, long weightsOf) throws IOException {
        SnapshotOptions options = SnapshotOptions.update();
        if (step == 24) {
            options = options.withCheckpoint();
        }
        publisher.publish(run, step, step == LAST ? options.withEndOfRun() : options,
                TestModel.sources(TestModel.weights(weightsOf)));
    }

    /** Runs a CLI command against the service's topics; its output, or a failure with it. */
    private static String cli(ServiceUnderTest service, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine command = Main.commandLine();
        command.setOut(new PrintWriter(out));
        command.setErr(new PrintWriter(err));
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--bootstrap-servers", SharedKafka.bootstrapServers(),
                "-D", AveragerConfig.TOPIC_MANIFESTS_CONFIG + "=" + service.manifestsTopic(),
                "-D", AveragerConfig.TOPIC_RUN_EVENTS_CONFIG + "=" + service.runEventsTopic()));
        assertThat(command.execute(all.toArray(String[]::new))).as(String.join(" ", args) + ": " + err).isZero();
        return out.toString();
    }

    /** The line of a checkpoints table that lists {@code m}'s file. */
    private static String row(String table, CheckpointManifest m) {
        return table.lines().filter(l -> l.endsWith(" " + m.getUri())).findFirst()
                .orElseThrow(() -> new AssertionError("no row for " + m.getUri() + " in\n" + table));
    }

    /** The step of the run's last checkpoint of profile ema in a /runs answer; -1 if none. */
    private static long lastCheckpointStep(JsonNode runs, String run) {
        for (JsonNode r : runs.path("runs")) {
            if (r.path("run").asText().equals(run)) {
                return r.path("profiles").get(0).path("lastCheckpoint").path("step").asLong(-1);
            }
        }
        return -1;
    }

    private static Path file(CheckpointManifest m) {
        return Path.of(URI.create(m.getUri()));
    }

}
