package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.cli.Main;
import io.averager.config.AveragerConfig;
import io.averager.publish.SnapshotPublisher;
import io.averager.sink.FileDigest;
import io.averager.wire.WireSerializer;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SnapshotMode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import software.amazon.awssdk.core.sync.RequestBody;

/**
 * End to end with checkpoints on S3 (s3proxy): the service stores every checkpoint in a bucket
 * below a prefix, {@code averager checkpoints} lists them, and {@code averager get} downloads
 * one, verified against its manifest, equal to an EMA computed here independently.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class S3PipelineTest {

    private static final String BUCKET = "ema-checkpoints";

    @TempDir
    Path dir;

    @Test
    void serviceStoresCheckpointsOnS3AndGetDownloadsOneVerified() throws Exception {
        String run = SharedKafka.unique("s3-run");
        try (S3Server server = new S3Server(dir.resolve("s3")).start();
             ServiceUnderTest service = new ServiceUnderTest(dir)) {
            server.createBucket(BUCKET);
            service.settings.putAll(server.settings());
            service.settings.put(AveragerConfig.CHECKPOINT_STORE_CONFIG, "s3://" + BUCKET + "/fleet");
            service.settings.put("averager.profile.ema.decay", "0.9");
            service.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "20");
            service.start();
            ExpectedEma at40 = new ExpectedEma(0.9, 0);
            try (SnapshotPublisher publisher = new SnapshotPublisher(
                    Map.of("bootstrap.servers", SharedKafka.bootstrapServers()), service.snapshotsTopic(), 1024)) {
                for (long step = 10; step <= 60; step += 10) {
                    Map<String, ByteBuffer> weights = TestModel.weights(step);
                    publisher.publish(run, step, SnapshotMode.UPDATE, step == 60, Map.of(), TestModel.sources(weights));
                    if (step <= 40) {
                        at40.add(weights, step);
                    }
                }
            }
            List<CheckpointManifest> stored = new ArrayList<>();
            for (long step = 20; step <= 60; step += 20) {
                CheckpointManifest m = service.awaitCheckpoints(run, step, List.of("ema"), Duration.ofSeconds(60)).get("ema");
                String key = "fleet/runs/" + run + "/ema/step-" + step + ".safetensors";
                assertThat(m.getUri()).isEqualTo("s3://" + BUCKET + "/" + key);
                assertThat(server.sizeAndSha256(BUCKET, key)).isEqualTo(m.getSize() + " " + m.getSha256());
                stored.add(m);
            }

            String topic = service.name + "-manifests";
            Result list = run("checkpoints", "--bootstrap-servers", SharedKafka.bootstrapServers(), "--topic", topic,
                    "--run", run);
            assertThat(list.status()).as(list.err()).isZero();
            assertThat(list.out().lines()).hasSize(4).first().asString().startsWith("RUN").contains("URI");
            for (CheckpointManifest m : stored) {
                assertThat(list.out()).containsPattern(run + " +ema +" + m.getStep() + " .* " + m.getUri());
            }

            List<String> s3Options = new ArrayList<>();
            server.settings().forEach((k, v) -> s3Options.addAll(List.of("-D", k + "=" + v)));
            Path step40 = dir.resolve("downloaded/step-40.safetensors");
            Files.createDirectories(step40.getParent());
            Result get = run(concat(List.of("get", "--bootstrap-servers", SharedKafka.bootstrapServers(), "--topic", topic,
                    "--run", run, "--step", "40", "-o", step40.toString()), s3Options));
            assertThat(get.status()).as(get.err()).isZero();
            assertThat(FileDigest.sha256(step40)).isEqualTo(stored.get(1).getSha256());
            PipelineTest.assertMatches(step40, at40, 0.0);

            Path latest = dir.resolve("downloaded/latest.safetensors");
            Result getLatest = run(concat(List.of("get", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                    "--topic", topic, "--run", run, "--latest", "-o", latest.toString()), s3Options));
            assertThat(getLatest.status()).as(getLatest.err()).isZero();
            assertThat(getLatest.out()).contains("step=60");
            assertThat(FileDigest.sha256(latest)).isEqualTo(stored.get(2).getSha256());

            Result verify = run(concat(List.of("verify", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                    "--topic", topic, stored.get(0).getUri(), latest.toString()), s3Options));
            assertThat(verify.status()).as(verify.out() + verify.err()).isZero();
            assertThat(verify.out()).contains("OK " + stored.get(0).getUri() + " (run " + run + " profile ema step 20",
                    "OK " + latest + " (run " + run + " profile ema step 60");
        }
    }

    @Test
    void getRefusesAnObjectThatDiffersFromItsManifestAndWritesNothing() throws Exception {
        String topic = SharedKafka.unique("s3-manifests");
        try (S3Server server = new S3Server(dir.resolve("s3")).start()) {
            server.createBucket(BUCKET);
            server.client().putObject(b -> b.bucket(BUCKET).key("runs/r/ema/step-5.safetensors"),
                    RequestBody.fromString("not the checkpoint the manifest describes"));
            publish(topic, new CheckpointManifest("r", "ema", 5L, "s3://" + BUCKET + "/runs/r/ema/step-5.safetensors",
                    "safetensors", 1234L, "ab".repeat(32), List.of(), Instant.ofEpochMilli(1), 0));

            Path output = dir.resolve("out.safetensors");
            List<String> args = new ArrayList<>(List.of("get", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                    "--topic", topic, "--run", "r", "-o", output.toString()));
            server.settings().forEach((k, v) -> args.addAll(List.of("-D", k + "=" + v)));
            Result get = run(args);

            assertThat(get.status()).isEqualTo(1);
            assertThat(get.err()).contains("does not match its manifest").contains("expected 1234 bytes")
                    .contains("s3://" + BUCKET + "/runs/r/ema/step-5.safetensors");
            try (var files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString())).as("files left in the output directory")
                        .doesNotContain("out.safetensors", "out.safetensors.part");
            }
        }
    }

    private static void publish(String topic, CheckpointManifest manifest) throws Exception {
        Map<String, Object> props = Map.of("bootstrap.servers", SharedKafka.bootstrapServers());
        try (Admin admin = Admin.create(props)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
        try (KafkaProducer<String, SpecificRecordBase> producer =
                     new KafkaProducer<>(props, new StringSerializer(), new WireSerializer())) {
            producer.send(new ProducerRecord<>(topic, manifest.getRun(), manifest)).get();
        }
    }

    private record Result(int status, String out, String err) {
    }

    private static Result run(String... args) {
        return run(List.of(args));
    }

    private static Result run(List<String> args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Main.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int status = cli.execute(args.toArray(String[]::new));
        return new Result(status, out.toString(), err.toString());
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }
}
