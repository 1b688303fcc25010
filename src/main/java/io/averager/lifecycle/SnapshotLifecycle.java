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
import io.averager.wire.avro.ForkRequest;
import io.averager.wire.avro.PendingRebuild;
import io.averager.wire.avro.PendingSnapshot;
import io.averager.wire.avro.RebuildMark;
import io.averager.wire.avro.RebuildPhase;
import io.averager.wire.avro.RestorePoint;
import io.averager.wire.avro.RewindRequest;
import io.averager.wire.avro.SeedChunk;
import io.averager.wire.avro.SeedMark;
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
import org.apache.avro.specific.SpecificRecordBase;
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
    /** When the next checkpoint of a run in {@code progress} is due, for a log line. */
    public String nextCheckpoint(RunProgress progress) {
        return cadence.describeNext(progress);
    }

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
        if (!set && progress.getSeeded()) {
            String problem = SnapshotRules.describeSeedMismatch(run.layout(), h);
            if (problem != null) {
                return d.reject(DeadLetterReason.LAYOUT_MISMATCH, at + ": the run was forked from run "
                        + progress.getParent() + " at step " + progress.getParentStep() + ", whose EMA " + problem).build();
            }
            run = new Run(new RunLayout(run.layout().getStep(), h.getTensors(), h.getGrid(), h.getChunkCount(),
                    h.getCopy()), progress);
            progress.setSeeded(false);
            d.layoutChanged = true;
        }
        if (!set && (!run.layout().getTensors().equals(h.getTensors()) || run.layout().getGrid() != h.getGrid())) {
            return d.reject(DeadLetterReason.LAYOUT_MISMATCH, at + ": tensor layout differs from the run's ("
                    + SnapshotRules.describeLayoutChange(run.layout(), h)
                    + "); publish with mode SET to restart the EMA with a new layout").build();
        }
        boolean checkpoint = cadence.isDue(progress, h.getStep(), timestamp, h.getEndOfRun() || h.getCheckpoint());
        if (progress == null) {
            progress = new RunProgress(h.getStep(), -1L, 0L, h.getStep(), timestamp, null, 0, -1L, -1L, null, null, -1L,
                    false, -1L, -1L);
        }
        RunLayout layout = set ? new RunLayout(h.getStep(), h.getTensors(), h.getGrid(), h.getChunkCount(), h.getCopy())
                : run.layout();
        if (!layout.getCopy().equals(h.getCopy())) {
            layout = new RunLayout(layout.getStep(), layout.getTensors(), layout.getGrid(), layout.getChunkCount(),
                    h.getCopy());
            d.layoutChanged = true;
        }
        if (set) {
            progress.setSeeded(false);
            progress.setLayoutStep(h.getStep());
        }
        progress.setPending(new PendingSnapshot(h.getStep(), set, checkpoint, timestamp, 0, 0L,
                ReceivedChunks.none(h.getChunkCount()), null));
        d.run = new Run(layout, progress);
        d.progressChanged = true;
        d.layoutChanged |= set;
        d.opened = true;
        if (checkpoint) {
            long averaged = set ? 1 : progress.getSnapshots() + 1;
            d.checkpoint.add(new CheckpointEvent.Begin(h, averaged, progress.getBranch(), progress.getParent(),
                    progress.getParentStep()));
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
        boolean copied = pending.getSet() || layout.getCopy().contains(c.getTensor());
        for (Profile profile : profiles) {
            EmaEntry entry = entries.apply(profile.name());
            if (entry != null && entry.lastStep() >= c.getStep()) {
                continue; // this profile applied the chunk already
            }
            if (distance == null) {
                distance = distances.get();
            }
            entry = update(copied || profile.copies(c.getTensor()), profile, entry, c.getStep(), run.progress().getBranch(), spec.dtype(), x, count, distance);
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
     * The EMA rule of one entry: {@code x} of step {@code step} sets it (the snapshot sets the EMA
     * or copies this tensor, the entry is new or of another size) or is averaged into it with the
     * profile's decay.
     * Returns the entry updated, a new one if it had to be allocated.
     */
    private EmaEntry update(boolean copy, Profile profile, EmaEntry entry, long step, int branch, Dtype input,
                            ByteBuffer x, int count, PendingDistances distance) {
        Dtype acc = input.accumulator();
        double decay = copy || entry == null ? 0.0 : profile.decayAt(step, entry.lastStep());
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
                        layout.getStep(), null, -1L);
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
     * Whether a record of the run may go on to the lifecycle: while a rewind is rebuilt, only the
     * snapshot records its rebuilder publishes again, after the rebuild's BEGIN, and only inside
     * such a rebuild may a record carry a rebuild id.
     *
     * The rebuilder's own records (its marks and seed chunks) always may.
     *
     * @param rebuildId the record's {@code averager.rebuild} header, or null
     * @return the rejection of a record that may not, or null
     */
    public Decision admit(Run run, SpecificRecordBase message, String rebuildId) {
        if (message instanceof RebuildMark || message instanceof SeedMark || message instanceof SeedChunk) {
            return null;
        }
        PendingRebuild rebuild = run == null ? null : run.progress().getRebuild();
        if (rebuild == null && rebuildId == null
                || rebuild != null && rebuild.getBegun() && rebuild.getRequestId().equals(rebuildId)) {
            return null;
        }
        String why = rebuild == null ? "it was published again by the rebuild of request " + rebuildId
                + ", which is not in progress"
                : run.progress().getSeeded() && run.progress().getLastStep() < 0 ? "the run is being forked from run "
                + run.progress().getParent() + " at step " + run.progress().getParentStep() + " (request "
                + rebuild.getRequestId() + "); publish once the fork is answered"
                : "the run is being rewound to step " + rebuild.getToStep() + " (request " + rebuild.getRequestId()
                + "), rebuilt from its restore point at step " + rebuild.getFromStep()
                + "; publish once the rewind is answered";
        return new Decision.Builder(run).reject(DeadLetterReason.REWIND_IN_PROGRESS, describe(message) + ": " + why)
                .build();
    }

    /** How messages name a record a publisher sent. */
    private static String describe(SpecificRecordBase message) {
        if (message instanceof SnapshotHeader h) {
            return "Snapshot header for run " + h.getRun() + " step " + h.getStep();
        } else if (message instanceof SnapshotChunk c) {
            return "Chunk for run " + c.getRun() + " step " + c.getStep() + " tensor " + c.getTensor();
        } else if (message instanceof SnapshotCommit c) {
            return "Commit for run " + c.getRun() + " step " + c.getStep();
        } else if (message instanceof ForkRequest f) {
            return forkAt(f.getRun(), f.getParent(), f.getStep(), f.getRequestId());
        }
        RewindRequest r = (RewindRequest) message;
        return "Rewind of run " + r.getRun() + " to step " + r.getToStep() + " (request " + r.getRequestId() + ")";
    }

    /**
     * A request to rewind the run to a step. To its last step: a snapshot still open is closed,
     * as its trainer will not finish it. To a step it holds a restore point of: the run takes the
     * restore point's values (last step, snapshot count, last checkpoint), the EMA entries of
     * earlier branches read as the restore point's copies from then on (the {@code branch} goes
     * up), and restore points of later steps are dropped with the steps they belonged to. To a
     * step between a restore point of the current branch and the last step: a rebuild, asked of
     * the rebuilder, which publishes the snapshots after the restore point again (see
     * {@link #mark}); nothing changes until then. Refused, changing nothing, for a step ahead of
     * the run, one no restore point at or below it can rebuild, or one before a SET that changed
     * the run's layout since.
     *
     * @param points the run's complete restore points, oldest first
     * @param offset the request's offset on the run's partition
     */
    public Decision rewind(Run run, List<RestorePoint> points, RewindRequest r, long offset) {
        Decision.Builder d = new Decision.Builder(run);
        long to = r.getToStep();
        String at = "Rewind of run " + r.getRun() + " to step " + to + " (request " + r.getRequestId() + ")";
        if (run == null) {
            return refuse(d, r.getRequestId(), to, at + ": the run has no snapshot yet (or none retained);"
                    + " publish without a rewind to start its EMA at the next snapshot");
        }
        RunProgress progress = run.progress();
        long last = progress.getLastStep();
        PendingSnapshot open = progress.getPending();
        if (to == last && (open == null || open.getChunksSeen() == 0)) {
            if (open != null) {
                abandon(d, r.getRun(), run, "the run was rewound to its last step " + last);
                progress.setLastStep(last);
            }
            d.answer = new Decision.Answer(r.getRequestId(), to, true, "");
            return d.build();
        }
        if (to > last) {
            return refuse(d, r.getRequestId(), to, at + ": the run's last step is " + last
                    + (open == null ? "" : " (step " + open.getStep() + " is open)") + "; " + restorable(run, points, to));
        }
        RestorePoint point = points.stream().filter(p -> p.getStep() == to).findFirst().orElse(null);
        if (point != null && point.getLayoutStep() != run.layout().getStep()) {
            return refuse(d, r.getRequestId(), to, at + ": the SET snapshot of step " + run.layout().getStep()
                    + " changed the run's layout since; " + restorable(run, points, to));
        }
        if (point != null) {
            restore(d, r.getRun(), run, points, point, offset, "the run was rewound to step " + to);
            d.answer = new Decision.Answer(r.getRequestId(), to, true, "");
            return d.build();
        }
        RestorePoint from = rebuildFrom(run, points, to);
        if (from == null) {
            String why = to == last ? "the open snapshot of step " + open.getStep() + " was applied to "
                    + open.getChunksSeen() + " of its chunks already, and no restore point at or below that step can rebuild it"
                    : "no restore point at or below that step can rebuild it";
            return refuse(d, r.getRequestId(), to, at + ": " + why + "; " + restorable(run, points, to));
        }
        progress.setRebuild(new PendingRebuild(r.getRequestId(), from.getStep(), to, false));
        d.rebuild = new Decision.RebuildNeeded(r.getRequestId(), from.getStep(), to, historyStart(progress, from));
        d.progressChanged = true;
        return d.build();
    }

    /**
     * A mark of the rebuilder for the run's rebuild. BEGIN rewinds the run to the restore point
     * the rebuild starts from; the snapshots published again follow, and END answers the rewind at
     * the step asked for, closing a snapshot left open. ABORT (the history is gone) refuses it, and
     * nothing has changed.
     *
     * @param points the run's complete restore points, oldest first
     * @param offset the mark's offset on the run's partition
     */
    public Decision mark(Run run, List<RestorePoint> points, RebuildMark m, long offset) {
        Decision.Builder d = new Decision.Builder(run);
        PendingRebuild rebuild = run == null ? null : run.progress().getRebuild();
        String at = "Rebuild " + m.getPhase() + " of run " + m.getRun() + " (request " + m.getRequestId() + ")";
        boolean expected = rebuild != null && rebuild.getRequestId().equals(m.getRequestId())
                && rebuild.getBegun() == (m.getPhase() == RebuildPhase.END);
        if (!expected) {
            return d.reject(DeadLetterReason.REWIND_IN_PROGRESS, at + ": "
                    + (rebuild == null ? "no rebuild is in progress" : "the rebuild in progress is request "
                    + rebuild.getRequestId() + (rebuild.getBegun() ? ", begun" : ", not begun"))).build();
        }
        RunProgress progress = run.progress();
        String asked = "Rewind of run " + m.getRun() + " to step " + rebuild.getToStep() + " (request "
                + rebuild.getRequestId() + ")";
        RestorePoint from = points.stream().filter(p -> p.getStep() == rebuild.getFromStep()).findFirst().orElse(null);
        if (m.getPhase() == RebuildPhase.ABORT || m.getPhase() == RebuildPhase.BEGIN && from == null) {
            progress.setRebuild(null);
            d.progressChanged = true;
            String why = m.getPhase() == RebuildPhase.ABORT ? m.getMessage()
                    : "the restore point of step " + rebuild.getFromStep() + " is gone";
            return refuse(d, rebuild.getRequestId(), rebuild.getToStep(), asked + ": " + why + "; "
                    + restorable(run, points, rebuild.getToStep()));
        }
        if (m.getPhase() == RebuildPhase.BEGIN) {
            restore(d, m.getRun(), run, points, from, offset, "the run is rewound to step " + rebuild.getToStep());
            rebuild.setBegun(true);
            return d.build();
        }
        if (progress.getPending() != null) {
            abandon(d, m.getRun(), run, "the rewind to step " + rebuild.getToStep() + " ends before its commit");
        }
        progress.setLastStep(rebuild.getToStep());
        progress.setRebuild(null);
        d.progressChanged = true;
        d.answer = new Decision.Answer(rebuild.getRequestId(), rebuild.getToStep(), true, ", rebuilt from its restore"
                + " point at step " + rebuild.getFromStep() + " and the snapshots after it");
        return d.build();
    }

    /**
     * A request to start the run from another run's EMA. Only a run without any snapshot can be
     * forked; the rebuilder is asked to publish the parent's EMA (see {@link #seed}).
     */
    public Decision fork(Run run, ForkRequest r) {
        Decision.Builder d = new Decision.Builder(run);
        if (run != null) {
            return refuseFork(d, r.getRequestId(), r.getParent(), r.getStep(), forkAt(r.getRun(), r.getParent(), r.getStep(),
                    r.getRequestId()) + ": run " + r.getRun() + " has snapshots already; a fork starts a new run");
        }
        d.seed = new Decision.SeedNeeded(r.getRequestId(), r.getParent(), r.getStep(), r.getGrid());
        return d.build();
    }

    /**
     * A mark of the rebuilder seeding a fork. BEGIN opens the run at the parent's step with the
     * parent's EMA tensors as its layout (its first header sets its own, which must fit them) and
     * takes the seed chunks that follow; END answers the fork. ABORT refuses it.
     *
     * @param timestamp the mark's timestamp, the run's last checkpoint time for a cadence in time
     */
    public Decision seed(Run run, SeedMark m, long timestamp) {
        Decision.Builder d = new Decision.Builder(run);
        String at = forkAt(m.getRun(), m.getParent(), m.getStep(), m.getRequestId());
        if (m.getPhase() == RebuildPhase.ABORT) {
            return refuseFork(d, m.getRequestId(), m.getParent(), m.getStep(), at + ": " + m.getMessage());
        }
        if (m.getPhase() == RebuildPhase.BEGIN) {
            if (run != null) {
                return refuseFork(d, m.getRequestId(), m.getParent(), m.getStep(), at + ": run " + m.getRun()
                        + " has snapshots already; a fork starts a new run");
            }
            long chunks = m.getTensors().stream().mapToLong(t -> SnapshotRules.chunksOf(Tensors.spec(t).numel(), m.getGrid()))
                    .sum();
            RunLayout layout = new RunLayout(m.getStep(), m.getTensors(), m.getGrid(), (int) chunks, List.of());
            RunProgress progress = new RunProgress(m.getStep(), -1L, m.getSnapshots(), m.getStep(), timestamp, null, 0,
                    -1L, -1L, new PendingRebuild(m.getRequestId(), m.getStep(), m.getStep(), true), m.getParent(),
                    m.getStep(), true, -1L, -1L);
            d.run = new Run(layout, progress);
            d.progressChanged = true;
            d.layoutChanged = true;
            return d.build();
        }
        if (!seeding(run, m.getRequestId())) {
            return d.reject(DeadLetterReason.FORK_REFUSED, at + ": END without a fork of that request being seeded").build();
        }
        RunProgress progress = run.progress();
        progress.setRebuild(null);
        progress.setLastStep(m.getStep());
        d.progressChanged = true;
        d.fork = new Decision.ForkOutcome(m.getRequestId(), m.getParent(), m.getStep(), true, "Run " + m.getRun()
                + " forked from run " + m.getParent() + " at step " + m.getStep() + " (request " + m.getRequestId()
                + "): every profile's EMA is the parent's there, " + progress.getSnapshots() + " snapshots averaged");
        return d.build();
    }

    /** One EMA entry of a fork being seeded: becomes the run's entry, as of the parent's step. */
    public Decision seedChunk(Run run, SeedChunk c) {
        Decision.Builder d = new Decision.Builder(run);
        String at = "Seed chunk of run " + c.getRun() + " profile " + c.getProfile() + " tensor " + c.getTensor()
                + " offset " + c.getOffset() + " (request " + c.getRequestId() + ")";
        if (!seeding(run, c.getRequestId())) {
            return d.reject(DeadLetterReason.FORK_REFUSED, at + ": no fork of that request is being seeded").build();
        }
        if (profiles.stream().noneMatch(p -> p.name().equals(c.getProfile()))) {
            return d.reject(DeadLetterReason.FORK_REFUSED, at + ": no such profile").build();
        }
        TensorInfo info = run.layout().getTensors().stream().filter(t -> t.getName().equals(c.getTensor())).findFirst()
                .orElse(null);
        long grid = run.layout().getGrid();
        if (info == null || c.getOffset() % grid != 0 || c.getOffset() >= Tensors.spec(info).numel()
                || c.getData().remaining() != Math.min(grid, Tensors.spec(info).numel() - c.getOffset())
                * Tensors.dtype(info.getDtype()).size()) {
            return d.reject(DeadLetterReason.FORK_REFUSED, at + ": does not fit the fork's tensors and grid").build();
        }
        EmaEntry entry = EmaEntry.allocate(c.getData().remaining());
        entry.data().put(c.getData().duplicate());
        entry.stamp(run.progress().getParentStep(), run.progress().getSnapshots(), 0);
        d.entries.add(new Decision.EntryUpdate(c.getProfile(), c.getTensor(), c.getOffset(), entry, entry.dataBytes()));
        return d.build();
    }

    private static boolean seeding(Run run, String requestId) {
        return run != null && run.progress().getSeeded() && run.progress().getRebuild() != null
                && run.progress().getRebuild().getRequestId().equals(requestId) && run.progress().getLastStep() < 0;
    }

    private static String forkAt(String run, String parent, long step, String requestId) {
        return "Fork of run " + run + " from run " + parent + " at step " + step + " (request " + requestId + ")";
    }

    private static Decision refuseFork(Decision.Builder d, String requestId, String parent, long step, String message) {
        d.fork = new Decision.ForkOutcome(requestId, parent, step, false, message);
        return d.reject(DeadLetterReason.FORK_REFUSED, message).build();
    }

    private static Decision refuse(Decision.Builder d, String requestId, long to, String message) {
        d.answer = new Decision.Answer(requestId, to, false, message);
        return d.reject(DeadLetterReason.REWIND_REFUSED, message).build();
    }

    /** Gives the run the values of a restore point, starting a new branch at {@code offset}. */
    private static void restore(Decision.Builder d, String name, Run run, List<RestorePoint> points, RestorePoint point,
                                long offset, String why) {
        RunProgress progress = run.progress();
        if (progress.getPending() != null) {
            abandon(d, name, run, why);
        }
        long to = point.getStep();
        progress.setLastStep(to);
        progress.setSnapshots(point.getSnapshots());
        progress.setLastCheckpointStep(to);
        progress.setLastCheckpointTime(point.getTime());
        progress.setBranch(progress.getBranch() + 1);
        progress.setRestoredFrom(to);
        progress.setBranchOffset(offset);
        points.stream().filter(p -> p.getStep() > to).forEach(p -> d.restorePointsDropped.add(p.getStep()));
        d.distances = new DistanceChange.Restore(point);
        d.progressChanged = true;
    }

    /**
     * The restore point a rewind to {@code to} can be rebuilt from: the latest below it of the
     * run's current layout whose history on the current branch is known; null if none.
     */
    private static RestorePoint rebuildFrom(Run run, List<RestorePoint> points, long to) {
        RestorePoint from = null;
        for (RestorePoint p : points) {
            if (p.getStep() < to && p.getLayoutStep() == run.layout().getStep() && historyStart(run.progress(), p) >= 0
                    && (from == null || p.getStep() > from.getStep())) {
                from = p;
            }
        }
        return from;
    }

    /**
     * Where on the run's partition its current branch's history after restore point {@code p}
     * starts: after the point's commit for a point of the branch, at the record that started the
     * branch for the point it started from; -1 for a point of an earlier branch or one whose
     * place is unknown.
     */
    private static long historyStart(RunProgress progress, RestorePoint p) {
        if (p.getStep() == progress.getRestoredFrom()) {
            return progress.getBranchOffset();
        }
        return p.getStep() > progress.getRestoredFrom() ? p.getOffset() : -1;
    }

    /**
     * Where the run can be rewound to instead of {@code to}: the nearest step it can be rewound
     * to (its last step, a restore point, or any step after a restore point of its current branch
     * up to the last one), with its restore points and last step.
     */
    private static String restorable(Run run, List<RestorePoint> points, long to) {
        long last = run.progress().getLastStep();
        long below = -1;
        long above = Long.MAX_VALUE;
        for (RestorePoint p : points) {
            if (p.getLayoutStep() == run.layout().getStep()) {
                if (p.getStep() < to) {
                    below = Math.max(below, p.getStep());
                } else {
                    above = Math.min(above, p.getStep());
                }
            }
        }
        if (last < to) {
            below = Math.max(below, last);
        }
        String held = points.isEmpty() ? "none" : points.stream().map(p -> Long.toString(p.getStep()))
                .collect(java.util.stream.Collectors.joining(", "));
        String nearest = below >= 0 ? "the nearest step below it the run can be rewound to is " + below
                : above != Long.MAX_VALUE ? "no step below it can be restored; the nearest above it is " + above
                : "no step below it can be restored";
        return nearest + " (restore points: " + held + "; last step: " + last + ")";
    }

    /** "; missing w@0, b@4 and 2 more", or nothing when that is not known or nothing is missing. */
    private static String missing(RunLayout layout, PendingSnapshot pending) {
        String missing = ReceivedChunks.missing(pending.getReceived(), layout.getTensors(), layout.getGrid());
        return missing == null || missing.isEmpty() ? "" : "; missing " + missing;
    }
}
