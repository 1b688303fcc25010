package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.averager.cli.Main;
import io.averager.config.AveragerConfig;
import io.averager.ema.Profile;
import io.averager.format.SafetensorsReader;
import io.averager.publish.SnapshotOptions;
import io.averager.publish.SnapshotPublisher;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A run forked from another's EMA at step 24 with `averager fork`: its EMA after four more
 * snapshots must equal, bitwise, that of a run that averaged the parent's snapshots up to 24 and
 * then the same four, and, within float32 rounding, the EMA rule applied by hand to the parent's
 * checkpoint; its checkpoints name the parent. Forks the service cannot take are refused.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ForkTest {

    private static final List<String> PROFILES = List.of("ema", "slow", "power");
    private static final long FORKED_AT = 24;
    private static final long LAST = 36;
    private static final long OTHER = 1_000_000;

    @TempDir
    Path dir;

    @Test
    void aForkedRunContinuesItsParentsEmaBitwiseAndItsCheckpointsNameTheParent() throws Exception {
        String parent = SharedKafka.unique("parent");
        String child = SharedKafka.unique("child");
        String twin = SharedKafka.unique("twin");
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            service.withEveryKindOfProfile();
            service.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "0");
            service.start();
            Map<String, Object> producer = Map.of("bootstrap.servers", SharedKafka.bootstrapServers());
            try (SnapshotPublisher publisher = new SnapshotPublisher(producer, service.snapshotsTopic(), 1024)) {
                for (long step = 3; step <= 30; step += 3) {
                    publish(publisher, parent, step, step);
                }
                for (long step = 3; step <= FORKED_AT; step += 3) {
                    publish(publisher, twin, step, step);
                }
            }
            Map<String, CheckpointManifest> at24 = service.awaitCheckpoints(parent, FORKED_AT, PROFILES, Duration.ofSeconds(60));

            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            assertThat(fork(service, parent, 21, SharedKafka.unique("nowhere"), out, err))
                    .as("a fork from a step the parent has no checkpoint of").isNotZero();
            assertThat(err.toString()).contains("has no live checkpoint at step 21", "live steps: 24");
            assertThat(fork(service, parent, FORKED_AT, twin, out, err)).as("a fork into a run that exists").isNotZero();
            assertThat(err.toString()).contains("run " + twin + " has snapshots already");
            assertThat(fork(service, parent, FORKED_AT, child, out, err)).as(err.toString()).isZero();
            assertThat(out.toString()).contains("Run " + child + " forked from run " + parent + " at step 24",
                    "8 snapshots averaged");

            try (SnapshotPublisher publisher = new SnapshotPublisher(producer, service.snapshotsTopic(), 1024)) {
                for (long step = 27; step <= LAST; step += 3) {
                    publish(publisher, child, step, OTHER + step);
                    publish(publisher, twin, step, OTHER + step);
                }
            }
            Map<String, CheckpointManifest> forked = service.awaitCheckpoints(child, LAST, PROFILES, Duration.ofSeconds(60));
            Map<String, CheckpointManifest> whole = service.awaitCheckpoints(twin, LAST, PROFILES, Duration.ofSeconds(60));
            for (String profile : PROFILES) {
                CheckpointComparison.assertSameTensors(profile, file(forked.get(profile)), file(whole.get(profile)));
                try (SafetensorsReader r = SafetensorsReader.open(file(forked.get(profile)))) {
                    assertThat(r.metadata()).containsEntry("forked_from", parent).containsEntry("forked_from_step", "24")
                            .containsEntry("run", child);
                }
            }
            assertMatchesTheRuleAppliedToTheParentsCheckpoint(file(at24.get("ema")), file(forked.get("ema")));
        }
    }

    /** ema = d * ema + (1 - d) * x, in double, from the parent's checkpoint, for fc.bias. */
    private static void assertMatchesTheRuleAppliedToTheParentsCheckpoint(Path parentAt24, Path childAtLast) throws IOException {
        Profile ema = Profile.builder("ema").decay(0.9).warmup(Profile.Warmup.POWER).build();
        double[] expected;
        try (SafetensorsReader r = SafetensorsReader.open(parentAt24)) {
            expected = floats(r.read("fc.bias", 0, 64));
        }
        long last = FORKED_AT;
        for (long step = 27; step <= LAST; step += 3) {
            double d = ema.decayAt(step, last);
            double[] x = floats(TestModel.weights(OTHER + step).get("fc.bias"));
            for (int i = 0; i < expected.length; i++) {
                expected[i] = d * expected[i] + (1 - d) * x[i];
            }
            last = step;
        }
        try (SafetensorsReader r = SafetensorsReader.open(childAtLast)) {
            double[] got = floats(r.read("fc.bias", 0, 64));
            for (int i = 0; i < got.length; i++) {
                // Float32 arithmetic against double: a few float ulps apart at most.
                assertThat(got[i]).as("fc.bias[%d]", i).isCloseTo(expected[i], within(4.0 * Math.ulp((float) expected[i])));
            }
        }
    }

    private static double[] floats(ByteBuffer b) {
        ByteBuffer le = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        double[] out = new double[le.remaining() / 4];
        for (int i = 0; i < out.length; i++) {
            out[i] = le.getFloat();
        }
        return out;
    }

    private static int fork(ServiceUnderTest service, String parent, long step, String child, StringWriter out,
                            StringWriter err) {
        CommandLine command = Main.commandLine();
        command.setOut(new PrintWriter(out));
        command.setErr(new PrintWriter(err));
        List<String> args = new ArrayList<>(List.of("fork", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                "-D", AveragerConfig.TOPIC_SNAPSHOTS_CONFIG + "=" + service.snapshotsTopic(),
                "-D", AveragerConfig.TOPIC_RUN_EVENTS_CONFIG + "=" + service.runEventsTopic(),
                "--from", parent, "--step", Long.toString(step), "--to", child, "--grid", "1024", "--timeout", "60"));
        return command.execute(args.toArray(String[]::new));
    }

    /** The test model's weights of {@code weightsOf} as step {@code step}; a checkpoint asked for at 24, the end at 36. */
    private static void publish(SnapshotPublisher publisher, String run, long step, long weightsOf) throws IOException {
        SnapshotOptions options = SnapshotOptions.update();
        if (step == FORKED_AT) {
            options = options.withCheckpoint();
        }
        publisher.publish(run, step, step == LAST ? options.withEndOfRun() : options,
                TestModel.sources(TestModel.weights(weightsOf)));
    }

    private static Path file(CheckpointManifest m) {
        return Path.of(URI.create(m.getUri()));
    }
}
