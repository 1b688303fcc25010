package io.averager.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.ema.Profile;
import io.averager.kernel.Kernels;
import io.averager.lifecycle.Decision.DistanceChange;
import io.averager.store.Run;
import io.averager.wire.avro.Dtype;
import io.averager.wire.avro.PendingSnapshot;
import io.averager.wire.avro.RestorePoint;
import io.averager.wire.avro.RewindRequest;
import io.averager.wire.avro.RunLayout;
import io.averager.wire.avro.RunProgress;
import io.averager.wire.avro.TensorInfo;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The rewind rule on its own, from a run's state and its restore points: which rewinds are taken,
 * what the run's progress becomes, what the processor is told to drop and restore. The topology
 * test {@code RewindTest} checks the EMA this gives, bitwise.
 */
class SnapshotLifecycleRewindTest {

    private final SnapshotLifecycle lifecycle = new SnapshotLifecycle(List.of(Profile.builder("ema").decay(0.9).build()),
            Kernels.byName(Kernels.JAVA), 0, 0, NonFinitePolicy.REJECT);
    private final List<RestorePoint> points = List.of(point(12, 5), point(24, 10));

    @Test
    void aRewindToARestorePointTakesItsValuesStartsABranchAndDropsTheLaterPoints() {
        Run run = run(36, null, 0);

        RestorePoint at24 = point(24, 10);
        Decision d = lifecycle.rewind(run, List.of(point(12, 5), at24, point(30, 12)), request(24), 100L);

        assertThat(d.rejections()).isEmpty();
        assertThat(d.rewound()).isTrue();
        assertThat(d.progressChanged()).isTrue();
        RunProgress p = d.run().progress();
        assertThat(p.getLastStep()).isEqualTo(24);
        assertThat(p.getSnapshots()).isEqualTo(10);
        assertThat(p.getLastCheckpointStep()).isEqualTo(24);
        assertThat(p.getLastCheckpointTime()).isEqualTo(24_000);
        assertThat(p.getBranch()).isEqualTo(1);
        assertThat(p.getRestoredFrom()).isEqualTo(24);
        assertThat(d.restorePointsDropped()).containsExactly(30L);
        assertThat(d.distances()).isEqualTo(new DistanceChange.Restore(at24));
    }

    @Test
    void aRewindToAStepWithoutARestorePointIsRefusedAndChangesNothing() {
        Run run = run(36, null, 0);

        Decision d = lifecycle.rewind(run, points, request(21), 100L);

        assertThat(d.rewound()).isFalse();
        assertThat(d.progressChanged()).isFalse();
        assertThat(d.restorePointsDropped()).isEmpty();
        assertThat(d.rejections()).singleElement().satisfies(r -> {
            assertThat(r.reason()).isEqualTo(DeadLetterReason.REWIND_REFUSED);
            assertThat(r.message()).isEqualTo("Rewind of run run-a to step 21 (request r-21): no restore point at or"
                    + " below that step can rebuild it; the nearest step below it"
                    + " the run can be rewound to is 12 (restore points: 12, 24; last step: 36)");
        });
        assertThat(run.progress().getLastStep()).isEqualTo(36);
    }

    @Test
    void aRewindAheadOfTheRunIsRefusedNamingItsLastStep() {
        Decision d = lifecycle.rewind(run(36, null, 0), points, request(40), 100L);

        assertThat(d.rejections()).singleElement().extracting(Rejection::message).asString()
                .contains("the run's last step is 36", "the nearest step below it the run can be rewound to is 36");
    }

    @Test
    void aRewindOfARunWithoutSnapshotsIsRefused() {
        Decision d = lifecycle.rewind(null, List.of(), request(3), 100L);

        assertThat(d.rejections()).singleElement().extracting(Rejection::message).asString()
                .contains("the run has no snapshot yet", "publish without a rewind to start its EMA at the next snapshot");
    }

    @Test
    void aRewindToTheLastStepClosesASnapshotWithNothingAppliedAndKeepsTheBranch() {
        Run run = run(36, pending(39, 0), 0);

        Decision d = lifecycle.rewind(run, points, request(36), 100L);

        assertThat(d.rewound()).isTrue();
        assertThat(d.incomplete()).isEqualTo(Incomplete.NO_COMMIT);
        assertThat(d.run().progress().getPending()).isNull();
        assertThat(d.run().progress().getLastStep()).isEqualTo(36);
        assertThat(d.run().progress().getBranch()).isZero();
    }

    @Test
    void aRewindToTheLastStepPastAPartlyAppliedSnapshotNeedsARestorePointThere() {
        Decision refused = lifecycle.rewind(run(36, pending(39, 2), 0), points, request(36), 100L);
        assertThat(refused.rejections()).singleElement().extracting(Rejection::message).asString()
                .contains("the open snapshot of step 39 was applied to 2 of its chunks already");

        Decision taken = lifecycle.rewind(run(24, pending(27, 2), 0), points, request(24), 100L);
        assertThat(taken.rewound()).isTrue();
        assertThat(taken.run().progress().getBranch()).isEqualTo(1);
        assertThat(taken.run().progress().getLastStep()).isEqualTo(24);
        assertThat(taken.incomplete()).isEqualTo(Incomplete.NO_COMMIT);
    }

    @Test
    void aRewindAcrossASetThatChangedTheLayoutIsRefused() {
        Run run = run(36, null, 30);

        Decision d = lifecycle.rewind(run, points, request(24), 100L);

        assertThat(d.rejections()).singleElement().extracting(Rejection::message).asString()
                .contains("the SET snapshot of step 30 changed the run's layout since");
    }

    private static Run run(long lastStep, PendingSnapshot pending, long layoutStep) {
        RunLayout layout = new RunLayout(layoutStep, List.of(new TensorInfo("w", Dtype.F32, List.of(8L))), 4L, 2, List.of());
        return new Run(layout, new RunProgress(layoutStep, lastStep, 15L, 30L, 30_000L, pending, 0, -1L, -1L, null, null, -1L, false, -1L, -1L));
    }

    private static PendingSnapshot pending(long step, int chunksSeen) {
        return new PendingSnapshot(step, false, false, step * 1000, chunksSeen, 0L, ByteBuffer.allocate(1), null);
    }

    private static RestorePoint point(long step, long snapshots) {
        return new RestorePoint(step, step * 1000, snapshots, 0L, null, -1L);
    }

    private static RewindRequest request(long step) {
        return new RewindRequest("run-a", step, "r-" + step);
    }
}
