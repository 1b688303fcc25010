package io.averager.lifecycle;

import io.averager.store.EmaEntry;
import io.averager.store.PendingDistances;
import io.averager.store.Run;
import io.averager.wire.avro.RestorePoint;
import java.util.ArrayList;
import java.util.List;

/**
 * What one snapshot record does to its run, as decided by {@link SnapshotLifecycle}: the state
 * to write back, the EMA entries updated, the distances to keep, the checkpoint events and the
 * dead letters. The caller writes and forwards it as it is, in the order given.
 *
 * @param run the run's state after the record, null while the run has none
 * @param progressChanged {@code run}'s progress is to be written back
 * @param layoutChanged {@code run}'s layout is to be written back too
 * @param entries the EMA entries this chunk updated, one per profile that had not seen it
 * @param distances what becomes of the distance sums of the snapshot being applied
 * @param checkpoint what the checkpoint emitter is told, in order
 * @param rejections the dead letters, in order
 * @param incomplete why a snapshot closed without being averaged whole, or null
 * @param opened a snapshot was opened by this header
 * @param committed the snapshot was averaged whole by this commit
 * @param restorePoint the step whose restore point the updated {@code entries} are also kept
 *     as (the snapshot is checkpointed), or -1
 * @param restorePointCompleted a restore point now complete, to add to the run's list, or null
 * @param restorePointsDropped steps whose restore points are to be deleted, in order
 * @param answer what the sender of a rewind request is told now, or null: the request, or the
 *     rebuild that ends it, was decided
 * @param rebuild the rebuild a rewind request needs, to ask the rebuilder for, or null
 * @param fork what the sender of a fork request is told now, or null
 * @param seed the seeding a fork request needs, to ask the rebuilder for, or null
 */
public record Decision(Run run, boolean progressChanged, boolean layoutChanged, List<EntryUpdate> entries,
                       DistanceChange distances, List<CheckpointEvent> checkpoint, List<Rejection> rejections,
                       Incomplete incomplete, boolean opened, boolean committed, long restorePoint,
                       RestorePoint restorePointCompleted, List<Long> restorePointsDropped, Answer answer,
                       RebuildNeeded rebuild, ForkOutcome fork, SeedNeeded seed) {

    /** The outcome of a fork request. */
    public record ForkOutcome(String requestId, String parent, long step, boolean forked, String message) {
    }

    /** A fork whose new run is to be seeded with {@code parent}'s EMA at {@code step}, on a chunk grid of {@code grid}. */
    public record SeedNeeded(String requestId, String parent, long step, long grid) {
    }

    /**
     * The outcome of a rewind request.
     *
     * @param how for a rewind, how it was done (may be empty); for a refusal, why, naming the
     *     nearest step the run can be rewound to
     */
    public record Answer(String requestId, long toStep, boolean rewound, String how) {
    }

    /**
     * A rewind to {@code toStep} that the run's history must rebuild: the snapshots of steps in
     * ({@code fromStep}, {@code toStep}] found from {@code startOffset} of the run's partition on,
     * published again after the restore point of {@code fromStep}.
     */
    public record RebuildNeeded(String requestId, long fromStep, long toStep, long startOffset) {
    }

    /** The run was rewound by this record. */
    public boolean rewound() {
        return answer != null && answer.rewound();
    }

    /** One profile's EMA entry for the chunk's tensor and offset, after the chunk; {@code bytes} is the chunk's size. */
    public record EntryUpdate(String profile, String tensor, long offset, EmaEntry entry, int bytes) {
    }

    /** What becomes of the distance sums of the run's pending snapshot. */
    public sealed interface DistanceChange {
        /** Nothing. */
        record Keep() implements DistanceChange {
        }

        /** The chunk added to them: write them back. */
        record Save(PendingDistances pending) implements DistanceChange {
        }

        /** The snapshot of {@code step} was averaged whole: they become a point of the run's history. */
        record Complete(long step, long time, boolean checkpoint) implements DistanceChange {
        }

        /** The snapshot will not be averaged whole: drop them. */
        record Discard() implements DistanceChange {
        }

        /** The run was rewound to {@code point}: drop them, and the history becomes the point's. */
        record Restore(RestorePoint point) implements DistanceChange {
        }
    }

    /** A chunk every profile had already applied: nothing to do. */
    public boolean duplicate() {
        return !progressChanged && entries.isEmpty() && rejections.isEmpty();
    }

    /** Collects a decision while the lifecycle works through a record. */
    static final class Builder {
        Run run;
        boolean progressChanged;
        boolean layoutChanged;
        final List<EntryUpdate> entries = new ArrayList<>(2);
        DistanceChange distances = new DistanceChange.Keep();
        final List<CheckpointEvent> checkpoint = new ArrayList<>(2);
        final List<Rejection> rejections = new ArrayList<>(1);
        Incomplete incomplete;
        boolean opened;
        boolean committed;
        long restorePoint = -1;
        RestorePoint restorePointCompleted;
        final List<Long> restorePointsDropped = new ArrayList<>(0);
        Answer answer;
        RebuildNeeded rebuild;
        ForkOutcome fork;
        SeedNeeded seed;

        Builder(Run run) {
            this.run = run;
        }

        Builder reject(DeadLetterReason reason, String message) {
            rejections.add(Rejection.of(reason, message));
            return this;
        }

        Decision build() {
            return new Decision(run, progressChanged, layoutChanged, List.copyOf(entries), distances,
                    List.copyOf(checkpoint), List.copyOf(rejections), incomplete, opened, committed, restorePoint,
                    restorePointCompleted, List.copyOf(restorePointsDropped), answer, rebuild, fork, seed);
        }
    }
}
