package io.averager.lifecycle;

import static io.averager.lifecycle.InMemoryRuns.profile;
import static io.averager.lifecycle.SnapshotLifecycleTest.range;
import static io.averager.topology.TensorData.emaF32;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.ema.Profile;
import io.averager.topology.TensorData;
import io.averager.topology.TestSnapshot;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Which snapshots become checkpoints, decided at their header from record time and steps, and
 * the events the lifecycle gives the emitter for one: begin, the EMA of each entry and profile,
 * end. Mirrors, without the topology, {@code CheckpointCadenceTest} and the checkpoint records
 * of {@code EmaUpdateTest} and {@code ProfilesAndDtypesTest}; the records' own fields (EMA dtypes,
 * metadata) are the emitter's and stay with those tests.
 */
class SnapshotLifecycleCheckpointTest {

    private static final double DECAY = 0.9;

    @Test
    void checkpointAtACadenceStepIsBeginEveryEntryAndEndInOrder() {
        InMemoryRuns runs = new InMemoryRuns(20, 0, profile("ema", DECAY));
        float[] w10 = {1, 2, 3, 4, 5, 6};
        float[] b10 = {0.5f, -0.5f};
        float[] w20 = {3, -2, 0.25f, 8, 1e-3f, 6};
        float[] b20 = {1.5f, 100};
        runs.publish(TestSnapshot.of("run-a", 10).f32("w", w10).f32("b", b10));
        assertThat(runs.checkpoints()).isEmpty();
        TestSnapshot s = TestSnapshot.of("run-a", 20).f32("w", w20).f32("b", b20).metadata("epoch", "3");

        List<Decision> decisions = runs.publish(s);

        assertThat(decisions.get(0).checkpoint()).singleElement().isInstanceOfSatisfying(CheckpointEvent.Begin.class, b -> {
            assertThat(b.header()).isEqualTo(s.header());
            assertThat(b.snapshotsAveraged()).isEqualTo(2);
        });
        assertThat(decisions.get(0).run().progress().getPending().getCheckpoint()).isTrue();
        List<CheckpointEvent> events = runs.checkpoints();
        assertThat(events).hasSize(5);
        assertData(events.get(1), "ema", "w", 0, emaF32(DECAY, range(w10, 0, 4), range(w20, 0, 4)));
        assertData(events.get(2), "ema", "w", 4, emaF32(DECAY, range(w10, 4, 6), range(w20, 4, 6)));
        assertData(events.get(3), "ema", "b", 0, emaF32(DECAY, b10, b20));
        assertThat(events.get(4)).isEqualTo(new CheckpointEvent.End("run-a", 20, 3, null));
        assertThat(decisions.get(4).run().progress().getLastCheckpointStep()).isEqualTo(20);
        assertThat(decisions.get(4).run().progress().getLastCheckpointTime()).isEqualTo(TestSnapshot.DEFAULT_TIMESTAMP);
    }

    @Test
    void everyProfileGivesItsEntryToTheCheckpoint() {
        Profile perStep = Profile.builder("slow").decay(0.99).unit(Profile.Unit.STEP).build();
        InMemoryRuns runs = new InMemoryRuns(20, 0, profile("fast", 0.5), perStep);
        float[] x10 = {1, 2, 3};
        float[] x20 = {5, -7, 0.125f};
        runs.publish(TestSnapshot.of("run-a", 10).f32("w", x10));

        runs.publish(TestSnapshot.of("run-a", 20).f32("w", x20));

        List<CheckpointEvent> events = runs.checkpoints();
        assertThat(events).extracting(e -> e.getClass().getSimpleName()).containsExactly("Begin", "Data", "Data", "End");
        assertData(events.get(1), "fast", "w", 0, emaF32(0.5, x10, x20));
        assertData(events.get(2), "slow", "w", 0, emaF32(Math.pow(0.99, 20 - 10), x10, x20));
    }

    @Test
    void endOfRunForcesACheckpointWithEveryCadenceOff() {
        InMemoryRuns runs = new InMemoryRuns(0, 0, profile("ema", DECAY));

        runs.publish(TestSnapshot.of("short", 3).endOfRun().f32("w", 1, 2));
        runs.publish(TestSnapshot.of("long", 3).f32("w", 1, 2));
        runs.publish(TestSnapshot.of("long", 4).f32("w", 1, 2));
        runs.publish(TestSnapshot.of("long", 5).endOfRun().f32("w", 1, 2));

        assertThat(ends(runs)).containsExactly("short@3", "long@5");
    }

    @Test
    void checkpointsTheFirstSnapshotCrossingEachMultipleOfEverySteps() {
        InMemoryRuns runs = new InMemoryRuns(100, 0, profile("ema", DECAY));

        List<Long> checkpointed = new ArrayList<>();
        for (long step : new long[] {30, 60, 90, 130, 160, 199, 200, 230, 420, 450}) {
            if (runs.publish(TestSnapshot.of("run-a", step).f32("w", step)).get(0).run().progress().getPending().getCheckpoint()) {
                checkpointed.add(step);
            }
        }

        assertThat(checkpointed).containsExactly(130L, 200L, 420L);
        assertThat(ends(runs)).containsExactly("run-a@130", "run-a@200", "run-a@420");
    }

    @Test
    void aCheckpointOnRequestIsTakenAtItsStepAndTheStepCadenceKeepsItsMultiples() {
        InMemoryRuns runs = new InMemoryRuns(100, 0, profile("ema", DECAY));

        runs.publish(TestSnapshot.of("run-a", 30).checkpoint().f32("w", 1));
        for (long step : new long[] {60, 90, 130, 160}) {
            runs.publish(TestSnapshot.of("run-a", step).f32("w", step));
        }
        runs.publish(TestSnapshot.of("run-a", 170).checkpoint().f32("w", 170));
        runs.publish(TestSnapshot.of("run-a", 230).f32("w", 230));

        assertThat(ends(runs)).containsExactly("run-a@30", "run-a@130", "run-a@170", "run-a@230");
    }

    @Test
    void checkpointsWhenEveryMsOfRecordTimeHasPassedSinceTheLast() {
        InMemoryRuns runs = new InMemoryRuns(0, 1000, profile("ema", DECAY));
        long t0 = 5_000_000L;

        long[][] stepsAndTimes = {{1, t0}, {2, t0 + 400}, {3, t0 + 1000}, {4, t0 + 1500}, {5, t0 + 1999},
                {6, t0 + 2000}, {7, t0 + 2100}, {8, t0 + 9000}};
        for (long[] stepAndTime : stepsAndTimes) {
            runs.publish(TestSnapshot.of("run-a", stepAndTime[0]).at(stepAndTime[1]).f32("w", 1));
        }

        assertThat(ends(runs)).containsExactly("run-a@3", "run-a@6", "run-a@8");
    }

    @Test
    void aCheckpointLostToAnIncompleteSnapshotIsTakenAtTheNext() {
        InMemoryRuns runs = new InMemoryRuns(100, 0, profile("ema", DECAY));
        runs.publish(TestSnapshot.of("run-a", 50).f32("w", 1));
        TestSnapshot torn = TestSnapshot.of("run-a", 100).f32("w", 1);
        runs.send(torn.header());
        runs.send(torn.chunk("w", 0));

        runs.publish(TestSnapshot.of("run-a", 110).f32("w", 1));

        List<CheckpointEvent> events = runs.checkpoints();
        assertThat(events).filteredOn(CheckpointEvent.End.class::isInstance)
                .extracting(e -> ((CheckpointEvent.End) e).step() + ":" + (((CheckpointEvent.End) e).abortReason() == null))
                .containsExactly("100:false", "110:true");
        assertThat(runs.run("run-a").progress().getLastCheckpointStep()).isEqualTo(110);
    }

    @Test
    void checkpointCountsTheSnapshotsAveragedSinceTheLastSet() {
        InMemoryRuns runs = new InMemoryRuns(0, 0, profile("ema", DECAY));

        runs.publish(TestSnapshot.of("run-a", 10).f32("w", 1));
        runs.publish(TestSnapshot.of("run-a", 11).f32("w", 1));
        runs.publish(TestSnapshot.of("run-a", 12).endOfRun().f32("w", 1));
        runs.publish(TestSnapshot.of("run-a", 13).set().endOfRun().f32("w", 1));

        assertThat(runs.checkpoints()).filteredOn(CheckpointEvent.Begin.class::isInstance)
                .extracting(e -> ((CheckpointEvent.Begin) e).snapshotsAveraged())
                .containsExactly(3L, 1L);
    }

    /** The checkpoints closed so far, as run@step, each of a snapshot averaged whole. */
    private static List<String> ends(InMemoryRuns runs) {
        List<CheckpointEvent.End> ends = runs.checkpoints().stream()
                .filter(CheckpointEvent.End.class::isInstance).map(CheckpointEvent.End.class::cast).toList();
        assertThat(ends).extracting(CheckpointEvent.End::abortReason).containsOnlyNulls();
        return ends.stream().map(e -> e.run() + "@" + e.step()).toList();
    }

    private static void assertData(CheckpointEvent event, String profile, String tensor, long offset, float[] expected) {
        assertThat(event).isInstanceOfSatisfying(CheckpointEvent.Data.class, d -> {
            assertThat(d.profile()).isEqualTo(profile);
            assertThat(d.tensor()).isEqualTo(tensor);
            assertThat(d.offset()).isEqualTo(offset);
            assertThat(TensorData.readF32(d.ema())).as("%s %s at %d", profile, tensor, offset).containsExactly(expected);
        });
    }
}
