package io.averager.topology;

import static io.averager.topology.AveragerDriver.profile;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.CheckpointHeader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointCadenceTest {

    @TempDir
    Path stateDir;

    private AveragerDriver driver;

    @AfterEach
    void stop() {
        driver.close();
    }

    @Test
    void endOfRunForcesACheckpointWithEveryCadenceOff() {
        driver = new AveragerDriver(stateDir, 0, 0, profile("ema", 0.9));

        driver.publish(TestSnapshot.of("short", 3).endOfRun().f32("w", 1, 2));
        driver.publish(TestSnapshot.of("long", 3).f32("w", 1, 2));
        driver.publish(TestSnapshot.of("long", 4).f32("w", 1, 2));
        driver.publish(TestSnapshot.of("long", 5).endOfRun().f32("w", 1, 2));

        List<CheckpointCommit> commits = driver.checkpointCommits();
        assertThat(commits).extracting(c -> c.getRun() + "@" + c.getStep()).containsExactly("short@3", "long@5");
        assertThat(commits).extracting(CheckpointCommit::getAbortReason).containsOnlyNulls();
    }

    @Test
    void checkpointsTheFirstSnapshotCrossingEachMultipleOfEverySteps() {
        driver = new AveragerDriver(stateDir, 100, 0, profile("ema", 0.9));

        List<Long> checkpointed = new ArrayList<>();
        for (long step : new long[] {30, 60, 90, 130, 160, 199, 200, 230, 420, 450}) {
            driver.publish(TestSnapshot.of("run-a", step).f32("w", step));
            driver.checkpointCommits().forEach(c -> checkpointed.add(c.getStep()));
        }

        assertThat(checkpointed).containsExactly(130L, 200L, 420L);
    }

    @Test
    void aSnapshotAsksForACheckpointAtItsOwnStepAndTheCadenceKeepsItsMultiples() {
        driver = new AveragerDriver(stateDir, 100, 0, profile("ema", 0.9));

        List<Long> checkpointed = new ArrayList<>();
        for (long step : new long[] {30, 60, 90, 130, 160, 190, 230}) {
            TestSnapshot snapshot = TestSnapshot.of("run-a", step).f32("w", step);
            driver.publish(step == 60 || step == 160 ? snapshot.checkpoint() : snapshot);
            driver.checkpointCommits().forEach(c -> checkpointed.add(c.getStep()));
        }

        assertThat(checkpointed).containsExactly(60L, 130L, 160L, 230L);
    }

    @Test
    void checkpointsWhenEveryMsOfRecordTimeHasPassedSinceTheLast() {
        driver = new AveragerDriver(stateDir, 0, 1000, profile("ema", 0.9));
        long t0 = 5_000_000L;

        List<Long> checkpointed = new ArrayList<>();
        long[][] stepsAndTimes = {{1, t0}, {2, t0 + 400}, {3, t0 + 1000}, {4, t0 + 1500}, {5, t0 + 1999},
                {6, t0 + 2000}, {7, t0 + 2100}, {8, t0 + 9000}};
        for (long[] stepAndTime : stepsAndTimes) {
            driver.publish(TestSnapshot.of("run-a", stepAndTime[0]).at(stepAndTime[1]).f32("w", 1));
            driver.checkpointCommits().forEach(c -> checkpointed.add(c.getStep()));
        }

        assertThat(checkpointed).containsExactly(3L, 6L, 8L);
    }

    @Test
    void checkpointCountsTheSnapshotsAveragedSinceTheLastSet() {
        driver = new AveragerDriver(stateDir, 0, 0, profile("ema", 0.9));

        driver.publish(TestSnapshot.of("run-a", 10).f32("w", 1));
        driver.publish(TestSnapshot.of("run-a", 11).f32("w", 1));
        driver.publish(TestSnapshot.of("run-a", 12).endOfRun().f32("w", 1));
        driver.publish(TestSnapshot.of("run-a", 13).set().endOfRun().f32("w", 1));

        List<String> averaged = driver.checkpoints().stream()
                .filter(CheckpointHeader.class::isInstance)
                .map(r -> ((CheckpointHeader) r).getMetadata().get("snapshots_averaged"))
                .toList();
        assertThat(averaged).containsExactly("3", "1");
    }
}
