package io.averager.topology;

import static io.averager.topology.AveragerDriver.profile;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.averager.metrics.RunMeters;
import io.averager.store.DistanceHistory;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The topology sums, chunk by chunk, how far each profile's EMA is from the raw weights, and keeps
 * one point a snapshot averaged whole; it also records the per-run meters.
 */
class DistanceHistoryTest {

    @TempDir
    Path stateDir;

    private AveragerDriver driver;

    @BeforeEach
    void start() {
        // Checkpoints every 20 steps; grid 4 makes the 6-element tensor two chunks.
        driver = new AveragerDriver(stateDir, 20, 0, profile("slow", 0.9), profile("fast", 0.5));
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    @Test
    void keepsTheRelativeDistanceOfEachProfileForEverySnapshotAveragedWhole() {
        float[] w10 = {1, 2, 3, 4, 5, 6};
        float[] w20 = {3, -2, 0.25f, 8, 1e-3f, 6};
        driver.publish(TestSnapshot.of("run-d", 10).f32("w", w10));
        driver.publish(TestSnapshot.of("run-d", 20).f32("w", w20).at(2_000_000L));

        DistanceHistory history = driver.distances("run-d");
        assertThat(history.profiles()).containsExactly("slow", "fast");
        List<DistanceHistory.Point> points = history.points();
        assertThat(points).extracting(DistanceHistory.Point::step).containsExactly(10L, 20L);
        assertThat(points.get(0).relative()).containsExactly(0.0, 0.0);
        assertThat(points.get(0).checkpoint()).isFalse();
        assertThat(points.get(1).checkpoint()).as("step 20 is on the cadence").isTrue();
        assertThat(points.get(1).time()).isEqualTo(2_000_000L);
        assertThat(points.get(1).relative()[0]).isCloseTo(expected(w10, w20, 0.9), within(1e-6));
        assertThat(points.get(1).relative()[1]).isCloseTo(expected(w10, w20, 0.5), within(1e-6));
    }

    @Test
    void anIncompleteSnapshotAddsNoPoint() {
        driver.publish(TestSnapshot.of("run-i", 10).f32("w", 1, 2, 3, 4, 5, 6));
        TestSnapshot torn = TestSnapshot.of("run-i", 20).f32("w", 1, 1, 1, 1, 1, 1);
        driver.send(torn.header());
        driver.send(torn.chunks().get(0));
        driver.send(torn.commit());

        assertThat(driver.distances("run-i").points()).extracting(DistanceHistory.Point::step).containsExactly(10L);
        assertThat(driver.meters().get(RunMeters.DEAD_LETTERS).tag("reason", "incomplete_snapshot").counter().count())
                .isEqualTo(1.0);
    }

    @Test
    void recordsStepsSnapshotsAndBytesPerRunAndProfile() {
        driver.publish(TestSnapshot.of("run-m", 10).f32("w", 1, 2, 3, 4, 5, 6));
        driver.publish(TestSnapshot.of("run-m", 20).f32("w", 1, 2, 3, 4, 5, 6));

        for (String p : List.of("slow", "fast")) {
            assertThat(driver.meters().get(RunMeters.LAST_STEP).tags("run", "run-m", "profile", p).gauge().value()).isEqualTo(20.0);
            assertThat(driver.meters().get(RunMeters.SNAPSHOTS).tags("run", "run-m", "profile", p).counter().count()).isEqualTo(2.0);
            assertThat(driver.meters().get(RunMeters.BYTES).tags("run", "run-m", "profile", p).counter().count()).isEqualTo(48.0);
        }
    }

    /** ||ema - x|| / ||x|| after one update of the EMA set to {@code first}, in float like the kernel. */
    private static double expected(float[] first, float[] x, double decay) {
        double differences = 0;
        double raws = 0;
        for (int i = 0; i < x.length; i++) {
            float ema = (float) decay * first[i] + (float) (1 - decay) * x[i];
            differences += ((double) ema - x[i]) * ((double) ema - x[i]);
            raws += (double) x[i] * x[i];
        }
        return Math.sqrt(differences / raws);
    }
}
