package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.catalog.CheckpointSubscriber;
import io.averager.catalog.CheckpointSubscriber.Checkpoint;
import io.averager.catalog.ManifestLog;
import io.averager.catalog.Verification;
import io.averager.cli.Main;
import io.averager.config.AveragerConfig;
import io.averager.publish.SnapshotOptions;
import io.averager.publish.SnapshotPublisher;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Following checkpoints as they land: {@link CheckpointSubscriber} started before a run sees each
 * of its checkpoints once, in step order, and a restart in the same group goes on after the last
 * one finished; {@code averager checkpoints --follow --download} keeps only files that match
 * their manifests. The Python {@code subscribe} is tried, with a real process kill, by
 * {@code clients/python/tests/it_subscribe.py} from {@link PythonClientTest}.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class SubscriberTest {

    private static final int EVERY = 2;
    private static final long LAST = 20;
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    void aSubscriberSeesEveryCheckpointOnceInStepOrderAndARestartInItsGroupMissesNone() throws Exception {
        String run = SharedKafka.unique("followed");
        String other = SharedKafka.unique("other");
        String group = SharedKafka.unique("eval");
        try (ServiceUnderTest service = started()) {
            List<Long> whole = new ArrayList<>();
            List<Long> first = new ArrayList<>();
            try (CheckpointSubscriber all = open(service, run, Optional.empty());
                 CheckpointSubscriber crashing = open(service, run, Optional.of(group))) {
                publish(service, run, other);
                for (int i = 0; i < LAST / EVERY; i++) {
                    Checkpoint c = all.next(WAIT).orElseThrow(() -> new AssertionError("checkpoints so far: " + whole));
                    assertThat(c.run()).isEqualTo(run);
                    assertThat(c.superseded()).isFalse();
                    whole.add(c.step());
                }
                assertThat(all.next(Duration.ofSeconds(2))).as("after the last checkpoint").isEmpty();
                for (int i = 0; i < 4; i++) {
                    first.add(crashing.next(WAIT).orElseThrow().step());
                }
                // Closed while the fourth is in hand: the process handling it died.
            }
            assertThat(whole).containsExactly(2L, 4L, 6L, 8L, 10L, 12L, 14L, 16L, 18L, 20L);
            assertThat(first).containsExactly(2L, 4L, 6L, 8L);

            List<Long> after = new ArrayList<>();
            try (CheckpointSubscriber restarted = open(service, run, Optional.of(group))) {
                for (Optional<Checkpoint> c = restarted.next(WAIT); c.isPresent(); c = restarted.next(Duration.ofSeconds(2))) {
                    after.add(c.get().step());
                }
            }
            assertThat(after).as("the one in hand again, then the rest").containsExactly(8L, 10L, 12L, 14L, 16L, 18L, 20L);
        }
    }

    @Test
    void followWithDownloadKeepsOnlyVerifiedFiles() throws Exception {
        String run = SharedKafka.unique("downloaded");
        try (ServiceUnderTest service = started()) {
            publish(service, run, SharedKafka.unique("other"));
            service.awaitCheckpoints(run, LAST, List.of("ema"), WAIT);
            List<CheckpointManifest> manifests = ManifestLog.readAll(
                    Map.of("bootstrap.servers", SharedKafka.bootstrapServers()), service.manifestsTopic(), WAIT);
            Path corrupted = manifests.stream().filter(m -> m.getRun().equals(run) && m.getStep() == 12)
                    .map(m -> Path.of(URI.create(m.getUri()))).findFirst().orElseThrow();
            Files.write(corrupted, new byte[] {1}, StandardOpenOption.APPEND);

            Path into = dir.resolve("downloads");
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int status = follow(service, run, into, out, err);

            assertThat(status).as("stopped by the file that does not match; output %s", out).isNotZero();
            assertThat(err.toString()).contains("step 12", "does not match its manifest");
            assertThat(out.toString().lines()).hasSize(5).allMatch(l -> l.contains(" live -> "));
            List<Path> files;
            try (Stream<Path> walk = Files.walk(into)) {
                files = walk.filter(Files::isRegularFile).sorted().toList();
            }
            assertThat(files).extracting(f -> f.getFileName().toString())
                    .containsExactlyInAnyOrder("step-2.safetensors", "step-4.safetensors", "step-6.safetensors",
                            "step-8.safetensors", "step-10.safetensors");
            for (Path f : files) {
                Verification v = Verification.of(f, manifests);
                assertThat(v.ok()).as(v.describe()).isTrue();
            }
        }
    }

    private static int follow(ServiceUnderTest service, String run, Path into, StringWriter out, StringWriter err) {
        CommandLine command = Main.commandLine();
        command.setOut(new PrintWriter(out));
        command.setErr(new PrintWriter(err));
        return command.execute("checkpoints", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                "--topic", service.manifestsTopic(), "--run-events-topic", service.runEventsTopic(),
                "--follow", "--run", run, "--from-step", "0", "--download", into.toString(), "--count", "10");
    }

    private ServiceUnderTest started() {
        ServiceUnderTest service = new ServiceUnderTest(dir);
        service.settings.put(AveragerConfig.PROFILES_CONFIG, "ema");
        service.settings.put("averager.profile.ema.decay", "0.9");
        service.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, Integer.toString(EVERY));
        return service.start();
    }

    /** A subscriber of {@code run}'s checkpoints, from the end of the topic or its group's position. */
    private static CheckpointSubscriber open(ServiceUnderTest service, String run, Optional<String> group) {
        CheckpointSubscriber.Options options = CheckpointSubscriber.options().manifestsTopic(service.manifestsTopic())
                .runEventsTopic(service.runEventsTopic()).run(run);
        group.ifPresent(options::group);
        return options.open(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()));
    }

    /** Steps 1 to {@link #LAST} of {@code run}, and of {@code other} interleaved, whose checkpoints must not show. */
    private static void publish(ServiceUnderTest service, String run, String other) throws IOException {
        Map<String, Object> producer = Map.of("bootstrap.servers", SharedKafka.bootstrapServers());
        try (SnapshotPublisher publisher = new SnapshotPublisher(producer, service.snapshotsTopic(), 1024)) {
            for (long step = 1; step <= LAST; step++) {
                SnapshotOptions options = step == LAST ? SnapshotOptions.update().withEndOfRun() : SnapshotOptions.update();
                publisher.publish(run, step, options, TestModel.sources(TestModel.weights(step)));
                publisher.publish(other, step, options, TestModel.sources(TestModel.weights(-step)));
            }
        }
    }
}
