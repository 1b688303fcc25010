package io.averager.lifecycle;

import static io.averager.lifecycle.InMemoryRuns.profile;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.averager.lifecycle.Decision.DistanceChange;
import io.averager.store.DistanceHistory;
import io.averager.topology.TestSnapshot;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The distance sums each chunk adds to and the point each snapshot averaged whole becomes, as
 * the lifecycle tells the store: save with every chunk applied, complete at a good commit,
 * discard when the snapshot is incomplete; and what the meters are told: the bytes applied per
 * profile and each snapshot committed. Mirrors, without the topology, {@code DistanceHistoryTest}.
 */
class SnapshotLifecycleDistanceTest {

    // Checkpoints every 20 steps; grid 4 makes the 6-element tensor two chunks.
    private final InMemoryRuns runs = new InMemoryRuns(20, 0, profile("slow", 0.9), profile("fast", 0.5));

    @Test
    void keepsTheRelativeDistanceOfEachProfileForEverySnapshotAveragedWhole() {
        float[] w10 = {1, 2, 3, 4, 5, 6};
        float[] w20 = {3, -2, 0.25f, 8, 1e-3f, 6};
        runs.publish(TestSnapshot.of("run-d", 10).f32("w", w10));
        List<Decision> second = runs.publish(TestSnapshot.of("run-d", 20).f32("w", w20).at(2_000_000L));

        assertThat(second.get(0).distances()).as("a header opening a snapshot").isInstanceOf(DistanceChange.Keep.class);
        assertThat(second.subList(1, 3)).extracting(Decision::distances).allSatisfy(d -> assertThat(d)
                .isInstanceOfSatisfying(DistanceChange.Save.class, s -> assertThat(s.pending().step()).isEqualTo(20)));
        assertThat(second.get(3).distances()).isEqualTo(new DistanceChange.Complete(20, 2_000_000L, true));

        DistanceHistory history = runs.history("run-d");
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
        runs.publish(TestSnapshot.of("run-i", 10).f32("w", 1, 2, 3, 4, 5, 6));
        TestSnapshot torn = TestSnapshot.of("run-i", 20).f32("w", 1, 1, 1, 1, 1, 1);
        runs.send(torn.header());
        assertThat(runs.send(torn.chunks().get(0)).distances()).isInstanceOf(DistanceChange.Save.class);

        Decision commit = runs.send(torn.commit());

        assertThat(commit.distances()).isInstanceOf(DistanceChange.Discard.class);
        assertThat(commit.rejections()).extracting(Rejection::reason).containsExactly(DeadLetterReason.INCOMPLETE_SNAPSHOT);
        assertThat(runs.history("run-i").points()).extracting(DistanceHistory.Point::step).containsExactly(10L);
    }

    @Test
    void tellsTheBytesAppliedPerProfileAndEachSnapshotCommitted() {
        List<Decision> decisions = new ArrayList<>(runs.publish(TestSnapshot.of("run-m", 10).f32("w", 1, 2, 3, 4, 5, 6)));
        decisions.addAll(runs.publish(TestSnapshot.of("run-m", 20).f32("w", 1, 2, 3, 4, 5, 6)));

        for (String p : List.of("slow", "fast")) {
            assertThat(decisions.stream().flatMap(d -> d.entries().stream()).filter(e -> e.profile().equals(p))
                    .mapToInt(Decision.EntryUpdate::bytes).sum()).as(p).isEqualTo(48);
        }
        assertThat(decisions).filteredOn(Decision::committed).extracting(d -> d.run().progress().getLastStep())
                .containsExactly(10L, 20L);
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
