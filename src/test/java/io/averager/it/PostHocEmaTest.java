package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.cli.Main;
import io.averager.config.AveragerConfig;
import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.format.SafetensorsReader;
import io.averager.publish.SnapshotPublisher;
import io.averager.publish.TensorSource;
import io.averager.wire.avro.SnapshotMode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Post-hoc EMA end to end: a run published every {@value #EVERY} steps to a service with power
 * profiles of sigma_rel 0.05 and 0.10, checkpointed every {@value #CHECKPOINT_EVERY} steps; then
 * {@code averager synthesize --sigma-rel 0.075} at the last step, compared with an exact replay
 * of the same history with a power profile of sigma_rel 0.075.
 *
 * <p>The weights are a random walk, so EMAs of different widths differ by several percent and a
 * synthesis that got the width wrong would be caught.
 *
 * <p><b>The bound.</b> Every stored EMA, and the replay, weighs the weights {@code x(tau)} (piecewise
 * constant between snapshots) by its continuous power profile: {@code ema = integral p(tau) x(tau)}
 * (see {@code PowerFunctionTest}). So synthesized minus replayed is {@code integral r(tau) x(tau)}
 * with {@code r} the achieved minus the requested profile. The coefficients sum to 1 and every
 * profile integrates to 1, so {@code integral r = 0} and any constant may be subtracted from x:
 * {@code ||synth - replay|| <= integral |r(tau)| ||x(tau) - x(N)|| <= L1 * max_tau ||x(tau) - x(N)||},
 * where {@code L1 = integral |r|} is the reported relative L1 profile error. Divided by
 * {@code ||replay||} that is the bound, plus float32 rounding of the stored and replayed EMAs
 * (about 1e-7 relative each, times the sum of |coefficients|, which is below 3): 1e-5 covers it.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class PostHocEmaTest {

    private static final long EVERY = 10;
    private static final long CHECKPOINT_EVERY = 100;
    private static final long LAST = 800;
    private static final int SIZE = 4096;
    private static final TensorSpec WEIGHT = new TensorSpec("w", Dtype.F32, new long[] {SIZE});
    private static final TensorSpec COUNT = new TensorSpec("count", Dtype.I64, new long[0]);
    private static final double ROUNDING = 1e-5;

    @TempDir
    Path dir;

    @Test
    void synthesizedEmaMatchesTheReplayedOneWithinTheReportedProfileError() throws Exception {
        String run = SharedKafka.unique("posthoc");
        TreeMap<Long, float[]> weights = randomWalk();
        try (ServiceUnderTest live = new ServiceUnderTest(dir.resolve("live"))) {
            live.settings.put(AveragerConfig.PROFILES_CONFIG, "p05,p10");
            live.settings.put("averager.profile.p05.sigma.rel", "0.05");
            live.settings.put("averager.profile.p10.sigma.rel", "0.10");
            live.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, Long.toString(CHECKPOINT_EVERY));
            live.start();
            try (SnapshotPublisher publisher = new SnapshotPublisher(
                    Map.of("bootstrap.servers", SharedKafka.bootstrapServers()), live.snapshotsTopic(), 1024)) {
                for (Map.Entry<Long, float[]> e : weights.entrySet()) {
                    publisher.publish(run, e.getKey(), SnapshotMode.UPDATE, e.getKey() == LAST, Map.of(),
                            sources(e.getKey(), e.getValue()));
                }
            }
            for (long step = CHECKPOINT_EVERY; step <= LAST; step += CHECKPOINT_EVERY) {
                live.awaitCheckpoints(run, step, List.of("p05", "p10"), Duration.ofSeconds(90));
            }

            Path synthesized = dir.resolve("p075.safetensors");
            StringWriter report = new StringWriter();
            CommandLine synthesize = Main.commandLine();
            synthesize.setOut(new PrintWriter(report));
            assertThat(synthesize.execute("synthesize", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                    "--run", run, "--sigma-rel", "0.075", "--step", Long.toString(LAST), "-o", synthesized.toString(),
                    "--work-dir", dir.toString(),
                    "-D", AveragerConfig.TOPIC_MANIFESTS_CONFIG + "=" + live.name + "-manifests")).isZero();

            Path replayStore = dir.resolve("replay");
            assertThat(Main.commandLine().execute("replay", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                    "--run", run, "--profile", "p075", "--sigma-rel", "0.075", "--checkpoint-every", Long.toString(LAST),
                    "-D", AveragerConfig.TOPIC_SNAPSHOTS_CONFIG + "=" + live.snapshotsTopic(),
                    "-D", AveragerConfig.TOPIC_MANIFESTS_CONFIG + "=" + SharedKafka.unique("posthoc-manifests"),
                    "-D", AveragerConfig.CHECKPOINT_STORE_CONFIG + "=" + replayStore,
                    "-D", AveragerConfig.TOPIC_PARTITIONS_CONFIG + "=2")).isZero();
            Path replayed = replayStore.resolve("runs/" + run + "/p075/step-" + LAST + ".safetensors");
            Path stored05 = dir.resolve("live/checkpoints/runs/" + run + "/p05/step-" + LAST + ".safetensors");

            Map<String, String> meta = metadata(synthesized);
            double profileError = Double.parseDouble(meta.get("posthoc.relative_l1_error"));
            float[] replay = floats(replayed);
            double relative = relativeL2(floats(synthesized), replay);
            double widthMatters = relativeL2(floats(stored05), replay);
            double maxDeviation = 0;
            for (float[] x : weights.values()) {
                maxDeviation = Math.max(maxDeviation, norm(difference(x, weights.get(LAST))));
            }
            double bound = profileError * maxDeviation / norm(replay) + ROUNDING;
            System.out.printf("%sRelative L2 to the replay %.3g; bound %.3g; sigma_rel 0.05 checkpoint to the replay %.3g%n",
                    report, relative, bound, widthMatters);

            assertThat(report.toString()).contains("Profile error (relative L1)").doesNotContain("warning");
            assertThat(profileError).as("reported profile error").isPositive().isLessThan(0.05);
            assertThat(relative).as("synthesized vs replayed, relative L2").isLessThanOrEqualTo(bound);
            assertThat(bound).as("the bound discriminates between widths").isLessThan(widthMatters / 2);
            assertThat(meta).containsEntry("ema.type", "power").containsEntry("step", Long.toString(LAST));
            try (SafetensorsReader r = SafetensorsReader.open(synthesized)) {
                assertThat(r.read("count", 0, 1).getLong(0)).as("integer tensors come from the last step").isEqualTo(LAST);
            }
        }
    }

    /** Snapshot weights at steps EVERY, 2 EVERY, ..., LAST: a random walk from a random start. */
    private static TreeMap<Long, float[]> randomWalk() {
        Random random = new Random(9);
        TreeMap<Long, float[]> walk = new TreeMap<>();
        float[] x = new float[SIZE];
        for (int i = 0; i < SIZE; i++) {
            x[i] = (float) (3 * random.nextGaussian());
        }
        for (long step = EVERY; step <= LAST; step += EVERY) {
            x = x.clone();
            for (int i = 0; i < SIZE; i++) {
                x[i] += (float) random.nextGaussian();
            }
            walk.put(step, x);
        }
        return walk;
    }

    private static List<TensorSource> sources(long step, float[] w) {
        ByteBuffer b = ByteBuffer.allocate(SIZE * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : w) {
            b.putFloat(v);
        }
        ByteBuffer c = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, step);
        return new ArrayList<>(List.of(TensorSource.ofBytes(WEIGHT, b.flip()), TensorSource.ofBytes(COUNT, c)));
    }

    private static Map<String, String> metadata(Path file) throws Exception {
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            return r.metadata();
        }
    }

    private static float[] floats(Path file) throws Exception {
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            ByteBuffer b = r.read("w", 0, SIZE);
            float[] out = new float[SIZE];
            for (int i = 0; i < SIZE; i++) {
                out[i] = b.getFloat(i * 4);
            }
            return out;
        }
    }

    private static double relativeL2(float[] actual, float[] expected) {
        return norm(difference(actual, expected)) / norm(expected);
    }

    private static double[] difference(float[] a, float[] b) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = (double) a[i] - b[i];
        }
        return d;
    }

    private static double norm(float[] x) {
        double sum = 0;
        for (float v : x) {
            sum += (double) v * v;
        }
        return Math.sqrt(sum);
    }

    private static double norm(double[] x) {
        double sum = 0;
        for (double v : x) {
            sum += v * v;
        }
        return Math.sqrt(sum);
    }
}
