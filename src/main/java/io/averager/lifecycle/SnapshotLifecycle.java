package io.averager.lifecycle;

import io.averager.ema.Dtype;
import io.averager.ema.Profile;
import io.averager.ema.TensorSpec;
import io.averager.kernel.Kernel;
import io.averager.kernel.NonFinite;
import io.averager.lifecycle.Decision.DistanceChange;
import io.averager.store.EmaEntry;
import io.averager.store.PendingDistances;
import io.averager.store.Run;
import io.averager.wire.ChunkDigest;
import io.averager.wire.Tensors;
import io.averager.wire.avro.PendingSnapshot;
import io.averager.wire.avro.RestorePoint;
import io.averager.wire.avro.RewindRequest;
import io.averager.wire.avro.RunLayout;
import io.averager.wire.avro.RunProgress;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import io.averager.wire.avro.SnapshotMode;
import io.averager.wire.avro.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The snapshot lifecycle of a run, and the EMA rule of each entry, with no Kafka in it: given the
 * run's state and one record (header, chunk or commit), it decides what changes, as a
 * {@link Decision}.
 *
 * <ul>
 *   <li>A header opens the run's pending snapshot, if its step is newer than the run's last and
 *       the pending one's, and its layout is the run's (or it is the run's first snapshot, or
 *       mode {@code SET}). A pending snapshot whose commit never came is closed first,
 *       unfinished, by a header of a newer step. The checkpoint cadence is decided here.</li>
 *   <li>A chunk of the pending snapshot updates one EMA entry per profile: set on the run's first
 *       snapshot, on {@code SET} and when the entry's size changed, else averaged with the
 *       profile's decay. An entry remembers the last step applied to it, so a chunk delivered
 *       twice is applied once.</li>
 *   <li>The commit closes the snapshot: averaged whole if every declared chunk came, none was
 *       rejected and the digest matches.</li>
 * </ul>
 * Records that do not fit the run's state are rejected and change nothing, but for the mark a
 * non-finite chunk leaves on its snapshot. The state passed in is updated in place and returned
 * in the decision. Used by one thread at a time.
 */
public final class SnapshotLifecycle {

    private final List<Profile> profiles;
    private final Kernel kernel;
    private final CheckpointCadence cadence;
    private final NonFinitePolicy nonFinite;

    /**
     * @param checkpointEverySteps checkpoint when a snapshot's step crosses a multiple of this; 0: never
     * @param checkpointEveryMs checkpoint when this much snapshot time has passed since the last; 0: never
     */
    public SnapshotLifecycle(List<Profile> profiles, Kernel kernel, long checkpointEverySteps, long checkpointEveryMs,
                             NonFinitePolicy nonFinite) {
        this.profiles = List.copyOf(profiles);
        this.kernel = kernel;
        this.cadence = new CheckpointCadence(checkpointEverySteps, checkpointEveryMs);
        this.nonFinite = nonFinite;
    }

    /**
     * A snapshot header of the run.
     *
     * @param run the run's state, null before its first snapshot
     * @param timestamp the record's timestamp: the snapshot's time for the cadence and checkpoints
     */
    public Decision header(Run run, SnapshotHeader h, long timestamp) {
        Decision.Builder d = new Decision.Builder(run);
        String at = "Snapshot header for run " + h.getRun() + " step " + h.getStep();
        RunProgress progress = run == null ? null : run.progress();
        if (progress != null && h.getStep() <= progress.getLastStep()) {
            return d.reject(DeadLetterReason.STALE_STEP,
                    at + ": step is not newer than the run's last step " + progress.getLastStep()).build();
        }
        PendingSnapshot open = progress == null ? null : progress.getPending();
        // Checked before the open snapshot is closed: a header sent again by a producer retry, or
        // one of an older step, must not tear the snapshot whose chunks are arriving.
        if (open != null && h.getStep() <= open.getStep()) {
            return d.reject(DeadLetterReason.STALE_STEP,
                    at + ": step is not newer than the open snapshot's step " + open.getStep()).build();
        }
        if (open != null) {
            abandon(d, h.getRun(), run, "its commit never arrived; header of step " + h.getStep() + " came first");
        }
        boolean set = run == null || h.getMode() == SnapshotMode.SET;
        if (!set && (!run.layout().getTensors().equals(h.getTensors()) || run.layout().getGrid() != h.getGrid())) {
            return d.reject(DeadLetterReason.LAYOUT_MISMATCH, at + ": tensor layout differs from the run's ("
                    + SnapshotRules.describeLayoutChange(run.layout(), h)
                    + "); publish with mode SET to restart the EMA with a new layout").build();
        }
        boolean checkpoint = cadence.isDue(progress, h.getStep(), timestamp, h.getEndOfRun() || h.getCheckpoint());
        if (progress == null) {
            progress = new RunProgress(h.getStep(), -1L, 0L, h.getStep(), timestamp, null, 0, -1L);
        }
        RunLayout layout = set ? new RunLayout(h.getStep(), h.getTensors(), h.getGrid(), h.getChunkCount()) : run.layout();
        if (set) {
            progress.setLayoutStep(h.getStep());
        }
        progress.setPending(new PendingSnapshot(h.getStep(), set, checkpoint, timestamp, 0, 0L,
                ReceivedChunks.none(h.getChunkCount()), null));
        d.run = new Run(layout, progress);
        d.progressChanged = true;
        d.layoutChanged = set;
        d.opened = true;
        if (checkpoint) {
            long averaged = set ? 1 : progress.getSnapshots() + 1;
            d.checkpoint.add(new CheckpointEvent.Begin(h, averaged, progress.getBranch()));
        }
        return d.build();
    }

    /**
     * A chunk of the run's snapshot.
     *
     * @param entries each profile's stored entry for the chunk's tensor and offset, or null; read
     *     only once the chunk is accepted
     * @param distances the distance sums of the pending snapshot, read once the chunk is accepted
     */
    public Decision chunk(Run run, SnapshotChunk c, Function<String, EmaEntry> entries,
                          Supplier<PendingDistances> distances) {
        Decision.Builder d = new Decision.Builder(run);
        PendingSnapshot pending = run == null ? null : run.progress().getPending();
        if (pending == null || pending.getStep() != c.getStep()) {
            String at = "Chunk for run " + c.getRun() + " step " + c.getStep() + " tensor " + c.getTensor();
            if (run != null && c.getStep() <= run.progress().getLastStep()) {
                return d.reject(DeadLetterReason.STALE_STEP,
                        at + ": step already applied (the run's last step is " + run.progress().getLastStep() + ")").build();
            }
            return d.reject(DeadLetterReason.NO_OPEN_SNAPSHOT, at + ": no open snapshot of that step (its header is missing"
                    + (pending == null ? ")" : "; open step is " + pending.getStep() + ")")).build();
        }
        RunLayout layout = run.layout();
        TensorInfo info = layout.getTensors().stream().filter(t -> t.getName().equals(c.getTensor())).findFirst().orElse(null);
        String problem = SnapshotRules.checkAgainstLayout(c, info, layout.getGrid());
        if (problem != null) {
            return d.reject(DeadLetterReason.LAYOUT_MISMATCH, problem).build();
        }
        TensorSpec spec = Tensors.spec(info);
        ByteBuffer x = c.getData().slice().order(ByteOrder.LITTLE_ENDIAN);
        int count = x.remaining() / spec.dtype().size();
        if (nonFinite == NonFinitePolicy.REJECT) {
            problem = nonFinite(c, spec.dtype(), x, count);
            if (problem != null) {
                if (pending.getAbortReason() == null) {
                    // The first such chunk marks its snapshot, so that the commit aborts the checkpoint.
                    pending.setAbortReason(problem);
                    d.progressChanged = true;
                }
                return d.reject(DeadLetterReason.NONFINITE, problem).build();
            }
        }
        PendingDistances distance = null;
        for (Profile profile : profiles) {
            EmaEntry entry = entries.apply(profile.name());
            if (entry != null && entry.lastStep() >= c.getStep()) {
                continue; // this profile applied the chunk already
            }
            if (distance == null) {
                distance = distances.get();
            }
            entry = update(pending.getSet(), profile, entry, c.getStep(), run.progress().getBranch(), spec.dtype(), x,
                    count, distance);
            d.entries.add(new Decision.EntryUpdate(profile.name(), c.getTensor(), c.getOffset(), entry, x.remaining()));
            if (pending.getCheckpoint()) {
                d.checkpoint.add(new CheckpointEvent.Data(c.getRun(), profile.name(), c.getStep(), c.getTensor(),
                        c.getOffset(), entry.data()));
            }
        }
        if (d.entries.isEmpty()) {
            return d.build(); // a duplicate
        }
        if (pending.getCheckpoint()) {
            d.restorePoint = c.getStep();
        }
        d.distances = new DistanceChange.Save(distance);
        pending.setChunksSeen(pending.getChunksSeen() + 1);
        pending.setDigest(pending.getDigest() + ChunkDigest.of(c.getTensor(), c.getOffset(), x));
        pending.setReceived(ReceivedChunks.mark(pending.getReceived(), layout.getTensors(), layout.getGrid(),
                c.getTensor(), c.getOffset()));
        d.progressChanged = true;
        return d.build();
    }

    /**
     * The EMA rule of one entry: {@code x} of step {@code step} sets it (the snapshot sets the EMA,
     * the entry is new or of another size) or is averaged into it with the profile's decay.
     * Returns the entry updated, a new one if it had to be allocated.
     */
    private EmaEntry update(boolean set, Profile profile, EmaEntry entry, long step, int branch, Dtype input,
                            ByteBuffer x, int count, PendingDistances distance) {
        Dtype acc = input.accumulator();
        double decay = set || entry == null ? 0.0 : profile.decayAt(step, entry.lastStep());
        if (entry == null || entry.dataBytes() != count * acc.size()) {
            entry = EmaEntry.allocate(count * acc.size());
            decay = 0.0;
        }
        if (decay == 0.0) {
            kernel.set(entry.data(), acc, x, input, count);
            distance.sums(step, profile.name()).accumulate(entry.data(), acc, x, input, count);
            entry.stamp(step, 1, branch);
        } else {
            kernel.update(entry.data(), acc, x, input, count, decay, distance.sums(step, profile.name()));
            entry.stamp(step, entry.updates() + 1, branch);
        }
        return entry;
    }

    /** Why a chunk holding NaN or an infinity is not applied, or null if it holds none. */
    private static String nonFinite(SnapshotChunk c, Dtype dtype, ByteBuffer x, int count) {
        int bad = NonFinite.firstIndex(x, dtype, count);
        if (bad < 0) {
            return null;
        }
        return "Chunk for run " + c.getRun() + " step " + c.getStep() + ": tensor " + c.getTensor()
                + " at offset " + c.getOffset() + " holds " + NonFinite.describe(x, dtype, bad) + " at element "
                + (c.getOffset() + bad) + " (index " + bad + " of the chunk); not applied (averager.nonfinite=reject)";
    }

    /**
     * The commit of the run's snapshot.
     *
     * @param timestamp the record's timestamp, for the distance history
     */
    public Decision commit(Run run, SnapshotCommit m, long timestamp) {
        Decision.Builder d = new Decision.Builder(run);
        PendingSnapshot pending = run == null ? null : run.progress().getPending();
        String at = "Commit for run " + m.getRun() + " step " + m.getStep();
        if (pending == null || pending.getStep() != m.getStep()) {
            return d.reject(DeadLetterReason.NO_OPEN_SNAPSHOT, at + ": no open snapshot of that step"
                    + (pending == null ? "" : " (open step is " + pending.getStep() + ")")).build();
        }
        RunLayout layout = run.layout();
        RunProgress progress = run.progress();
        String problem = null;
        if (pending.getAbortReason() != null) {
            problem = at + ": not averaged whole, a chunk was rejected: " + pending.getAbortReason();
            d.incomplete = Incomplete.NONFINITE;
        } else if (m.getChunkCount() != layout.getChunkCount() || pending.getChunksSeen() != layout.getChunkCount()) {
            problem = at + ": " + pending.getChunksSeen() + " chunks received, commit says " + m.getChunkCount()
                    + ", header declared " + layout.getChunkCount() + missing(layout, pending);
            d.incomplete = Incomplete.MISSING_CHUNKS;
        } else if (m.getDigest() != pending.getDigest()) {
            problem = at + String.format(": digest %016X does not match the chunks received (%016X)",
                    m.getDigest(), pending.getDigest());
            d.incomplete = Incomplete.DIGEST_MISMATCH;
        }
        progress.setLastStep(m.getStep());
        progress.setPending(null);
        if (problem == null) {
            d.committed = true;
            d.distances = new DistanceChange.Complete(m.getStep(), timestamp, pending.getCheckpoint());
            progress.setSnapshots(pending.getSet() ? 1 : progress.getSnapshots() + 1);
            if (pending.getCheckpoint()) {
                progress.setLastCheckpointStep(m.getStep());
                progress.setLastCheckpointTime(pending.getTimestamp());
                d.restorePointCompleted = new RestorePoint(m.getStep(), pending.getTimestamp(), progress.getSnapshots(),
                        layout.getStep(), null);
            }
        } else {
            d.distances = new DistanceChange.Discard();
            d.reject(DeadLetterReason.INCOMPLETE_SNAPSHOT, problem);
            if (pending.getCheckpoint()) {
                d.restorePointsDropped.add(m.getStep());
            }
        }
        d.progressChanged = true;
        if (pending.getCheckpoint()) {
            d.checkpoint.add(new CheckpointEvent.End(m.getRun(), m.getStep(), layout.getChunkCount(), problem));
        }
        return d.build();
    }

    /** Closes a snapshot whose commit will not come, and reports it without blaming the record at hand. */
    private static void abandon(Decision.Builder d, String name, Run run, String why) {
        RunProgress progress = run.progress();
        PendingSnapshot pending = progress.getPending();
        d.incomplete = Incomplete.NO_COMMIT;
        d.distances = new DistanceChange.Discard();
        progress.setLastStep(Math.max(progress.getLastStep(), pending.getStep()));
        progress.setPending(null);
        d.progressChanged = true;
        String message = "Snapshot of run " + name + " step " + pending.getStep() + " is incomplete ("
                + pending.getChunksSeen() + " of " + run.layout().getChunkCount() + " chunks): " + why
                + missing(run.layout(), pending) + ". The entries that received its chunks include it, the others do not.";
        if (pending.getCheckpoint()) {
            d.checkpoint.add(new CheckpointEvent.End(name, pending.getStep(), run.layout().getChunkCount(), message));
            d.restorePointsDropped.add(pending.getStep());
        }
        d.rejections.add(new Rejection(DeadLetterReason.INCOMPLETE_SNAPSHOT, message, false));
    }

    /**
     * A request to rewind the run to a step: to its last step (closing a snapshot still open, as
     * its trainer will not finish it), or to a step it holds a restore point of, whose values the
     * run then takes: its last step, snapshot count and last checkpoint; the EMA entries of
     * earlier branches read as the restore point's copies from then on (the {@code branch} goes
     * up), and restore points of later steps are dropped with the steps they belonged to.
     * Refused, changing nothing, for a step the run is not at and holds no restore point of, or
     * one before a SET that changed its layout since.
     *
     * @param points the run's complete restore points, oldest first
     */
    public Decision rewind(Run run, List<RestorePoint> points, RewindRequest r) {
        Decision.Builder d = new Decision.Builder(run);
        long to = r.getToStep();
        String at = "Rewind of run " + r.getRun() + " to step " + to + " (request " + r.getRequestId() + ")";
        if (run == null) {
            return d.reject(DeadLetterReason.REWIND_REFUSED, at + ": the run has no snapshot yet (or none retained);"
                    + " publish without a rewind to start its EMA at the next snapshot").build();
        }
        RunProgress progress = run.progress();
        long last = progress.getLastStep();
        PendingSnapshot open = progress.getPending();
        if (to == last && (open == null || open.getChunksSeen() == 0)) {
            if (open != null) {
                abandon(d, r.getRun(), run, "the run was rewound to its last step " + last);
                progress.setLastStep(last);
            }
            d.rewound = true;
            return d.build();
        }
        RestorePoint point = points.stream().filter(p -> p.getStep() == to).findFirst().orElse(null);
        if (to > last || point == null) {
            String why = to > last ? "the run's last step is " + last
                    + (open == null ? "" : " (step " + open.getStep() + " is open)")
                    : to == last ? "the open snapshot of step " + open.getStep() + " was applied to " + open.getChunksSeen()
                    + " of its chunks already, and there is no restore point at that step"
                    : "no restore point at that step";
            return d.reject(DeadLetterReason.REWIND_REFUSED, at + ": " + why + "; " + restorable(points, to, last)).build();
        }
        if (point.getLayoutStep() != run.layout().getStep()) {
            return d.reject(DeadLetterReason.REWIND_REFUSED, at + ": the SET snapshot of step " + run.layout().getStep()
                    + " changed the run's layout since; " + restorable(points, to, last)).build();
        }
        if (open != null) {
            abandon(d, r.getRun(), run, "the run was rewound to step " + to);
        }
        progress.setLastStep(to);
        progress.setSnapshots(point.getSnapshots());
        progress.setLastCheckpointStep(to);
        progress.setLastCheckpointTime(point.getTime());
        progress.setBranch(progress.getBranch() + 1);
        progress.setRestoredFrom(to);
        points.stream().filter(p -> p.getStep() > to).forEach(p -> d.restorePointsDropped.add(p.getStep()));
        d.distances = new DistanceChange.Restore(point);
        d.progressChanged = true;
        d.rewound = true;
        return d.build();
    }

    /** Where the run can be rewound to instead of {@code to}: its last step and its restore points. */
    private static String restorable(List<RestorePoint> points, long to, long last) {
        long below = java.util.stream.LongStream.concat(points.stream().mapToLong(RestorePoint::getStep),
                java.util.stream.LongStream.of(last)).filter(s -> s < to).max().orElse(-1);
        String held = points.isEmpty() ? "none" : points.stream().map(p -> Long.toString(p.getStep()))
                .collect(java.util.stream.Collectors.joining(", "));
        return (below >= 0 ? "the nearest step below it the run can be rewound to is " + below
                : "no step below it can be restored") + " (restore points: " + held + "; last step: " + last + ")";
    }

    /** "; missing w@0, b@4 and 2 more", or nothing when that is not known or nothing is missing. */
    private static String missing(RunLayout layout, PendingSnapshot pending) {
        String missing = ReceivedChunks.missing(pending.getReceived(), layout.getTensors(), layout.getGrid());
        return missing == null || missing.isEmpty() ? "" : "; missing " + missing;
    }
}
