package io.averager.topology;

import io.averager.ema.Dtype;
import io.averager.ema.Profile;
import io.averager.ema.TensorSpec;
import io.averager.kernel.Kernel;
import io.averager.kernel.NonFinite;
import io.averager.metrics.RunMeters;
import io.averager.store.PendingDistances;
import io.averager.store.EmaEntry;
import io.averager.store.EmaKey;
import io.averager.store.Stores;
import io.averager.wire.ChunkDigest;
import io.averager.wire.Tensors;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.PendingSnapshot;
import io.averager.wire.avro.RunState;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import io.averager.wire.avro.SnapshotMode;
import io.averager.wire.avro.TensorInfo;
import io.micrometer.core.instrument.Metrics;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies snapshots to the EMA state, one record at a time: a header opens the run's pending
 * snapshot, each chunk updates one EMA entry per profile, the commit closes the snapshot. Records
 * that do not fit the run's state are dead-lettered and change nothing. An entry remembers the
 * last step applied to it, so a chunk delivered twice is applied once. Snapshots that close
 * without being averaged whole (commit missing or not matching, a chunk rejected) are counted in
 * {@value #INCOMPLETE_METRIC}, tagged with the reason, on Micrometer's global registry.
 */
final class ApplyProcessor implements Processor<String, Inbound, Object, Object> {

    private static final Logger log = LoggerFactory.getLogger(ApplyProcessor.class);

    /** Counter of snapshots closed without being averaged whole; tag {@code reason}. */
    static final String INCOMPLETE_METRIC = "averager.snapshots.incomplete";

    private final List<Profile> profiles;
    private final Kernel kernel;
    private final CheckpointCadence cadence;
    private final NonFinitePolicy nonFinite;
    private final TopologyObserver observer;
    private ProcessorContext<Object, Object> context;
    private KeyValueStore<Bytes, byte[]> ema;
    private KeyValueStore<String, byte[]> runs;
    private DistanceTracker distances;

    ApplyProcessor(TopologySettings settings) {
        this.profiles = settings.profiles();
        this.kernel = settings.kernel();
        this.cadence = new CheckpointCadence(settings.checkpointEverySteps(), settings.checkpointEveryMs());
        this.nonFinite = settings.nonFinite();
        this.observer = settings.observer();
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
        this.context = context;
        this.ema = context.getStateStore(Stores.EMA);
        this.runs = context.getStateStore(Stores.RUNS);
        this.distances = new DistanceTracker(context.getStateStore(Stores.DISTANCES), profiles);
    }

    @Override
    public void close() {
        RunMeters.taskClosed(task());
    }

    private String task() {
        return context.applicationId() + "/" + context.taskId();
    }

    @Override
    public void process(Record<String, Inbound> record) {
        String run = record.key();
        RunState state = WireCodec.decodeOrNull(runs.get(run), RunState.class);
        Object message = record.value().message();
        String problem;
        if (message instanceof SnapshotHeader h) {
            problem = open(record, state, h);
        } else if (message instanceof SnapshotChunk c) {
            problem = apply(record, state, c);
        } else {
            problem = close(record, state, (SnapshotCommit) message);
        }
        if (problem != null) {
            DeadLetter.send(context, record, record.value().rawKey(), record.value().rawValue(), problem);
        }
    }

    private String open(Record<String, Inbound> record, RunState state, SnapshotHeader h) {
        if (state != null && state.getPending() != null) {
            abandon(record, state, "its commit never arrived; header of step " + h.getStep() + " came first");
        }
        String at = "Snapshot header for run " + h.getRun() + " step " + h.getStep();
        if (state != null && h.getStep() <= state.getLastStep()) {
            return at + ": step is not newer than the run's last step " + state.getLastStep();
        }
        boolean set = state == null || h.getMode() == SnapshotMode.SET;
        if (!set && (!state.getTensors().equals(h.getTensors()) || state.getGrid() != h.getGrid())) {
            return at + ": tensor layout differs from the run's (" + SnapshotRules.describeLayoutChange(state, h)
                    + "); publish with mode SET to restart the EMA with a new layout";
        }
        boolean checkpoint = cadence.isDue(state, h.getStep(), record.timestamp(), h.getEndOfRun());
        RunState next = state == null
                ? new RunState(h.getTensors(), h.getGrid(), h.getChunkCount(), -1L, 0L, h.getStep(), record.timestamp(), null)
                : state;
        if (set) {
            next.setTensors(h.getTensors());
            next.setGrid(h.getGrid());
            next.setChunkCount(h.getChunkCount());
        }
        next.setPending(new PendingSnapshot(h.getStep(), set, checkpoint, record.timestamp(), 0, 0L,
                ReceivedChunks.none(h.getChunkCount()), null));
        runs.put(h.getRun(), WireCodec.encode(next));
        observer.snapshotOpened(h.getRun(), h.getStep(), context.recordMetadata().map(m -> m.partition()).orElse(-1));
        if (checkpoint) {
            long averaged = set ? 1 : next.getSnapshots() + 1;
            context.forward(record.withValue(new CheckpointEvent.Begin(h, averaged)), AveragerTopology.EMIT);
        }
        return null;
    }

    private String apply(Record<String, Inbound> record, RunState state, SnapshotChunk c) {
        PendingSnapshot pending = state == null ? null : state.getPending();
        if (pending == null || pending.getStep() != c.getStep()) {
            String at = "Chunk for run " + c.getRun() + " step " + c.getStep() + " tensor " + c.getTensor();
            if (state != null && c.getStep() <= state.getLastStep()) {
                return at + ": step already applied (the run's last step is " + state.getLastStep() + ")";
            }
            return at + ": no open snapshot of that step (its header is missing"
                    + (pending == null ? ")" : "; open step is " + pending.getStep() + ")");
        }
        TensorInfo info = state.getTensors().stream().filter(t -> t.getName().equals(c.getTensor())).findFirst().orElse(null);
        String problem = SnapshotRules.checkAgainstLayout(c, info, state.getGrid());
        if (problem != null) {
            return problem;
        }
        TensorSpec spec = Tensors.spec(info);
        ByteBuffer x = c.getData().slice().order(ByteOrder.LITTLE_ENDIAN);
        int count = x.remaining() / spec.dtype().size();
        if (nonFinite == NonFinitePolicy.REJECT) {
            problem = rejectNonFinite(state, pending, c, spec.dtype(), x, count);
            if (problem != null) {
                return problem;
            }
        }
        boolean applied = false;
        PendingDistances distance = distances.pending(c.getRun());
        for (Profile profile : profiles) {
            applied |= update(record, pending, profile, c, spec.dtype(), x, count, distance);
        }
        if (!applied) {
            log.debug("Skipped duplicate chunk of run {} step {} tensor {} offset {}",
                    c.getRun(), c.getStep(), c.getTensor(), c.getOffset());
            return null;
        }
        distances.save(c.getRun(), distance);
        pending.setChunksSeen(pending.getChunksSeen() + 1);
        pending.setDigest(pending.getDigest() + ChunkDigest.of(c.getTensor(), c.getOffset(), x));
        pending.setReceived(ReceivedChunks.mark(pending.getReceived(), state.getTensors(), state.getGrid(),
                c.getTensor(), c.getOffset()));
        runs.put(c.getRun(), WireCodec.encode(state));
        return null;
    }

    /**
     * The reason a chunk holding NaN or an infinity is not applied, or null if it holds none. The
     * first such chunk also marks its snapshot, so that the commit aborts the checkpoint.
     */
    private String rejectNonFinite(RunState state, PendingSnapshot pending, SnapshotChunk c, Dtype dtype,
                                   ByteBuffer x, int count) {
        int bad = NonFinite.firstIndex(x, dtype, count);
        if (bad < 0) {
            return null;
        }
        String reason = "Chunk for run " + c.getRun() + " step " + c.getStep() + ": tensor " + c.getTensor()
                + " at offset " + c.getOffset() + " holds " + NonFinite.describe(x, dtype, bad) + " at element "
                + (c.getOffset() + bad) + " (index " + bad + " of the chunk); not applied (averager.nonfinite=reject)";
        if (pending.getAbortReason() == null) {
            pending.setAbortReason(reason);
            runs.put(c.getRun(), WireCodec.encode(state));
        }
        return reason;
    }

    /** Updates one profile's entry; false if the entry already holds this step (a duplicate). */
    private boolean update(Record<String, Inbound> record, PendingSnapshot pending, Profile profile, SnapshotChunk c,
                           Dtype input, ByteBuffer x, int count, PendingDistances distance) {
        Bytes key = EmaKey.of(c.getRun(), profile.name(), c.getTensor(), c.getOffset());
        EmaEntry entry = stored(key, c, profile);
        if (entry != null && entry.lastStep() >= c.getStep()) {
            return false;
        }
        Dtype acc = input.accumulator();
        double decay = pending.getSet() || entry == null ? 0.0 : profile.decayAt(c.getStep(), entry.lastStep());
        if (entry == null || entry.dataBytes() != count * acc.size()) {
            entry = EmaEntry.allocate(count * acc.size());
            decay = 0.0;
        }
        if (decay == 0.0) {
            kernel.set(entry.data(), acc, x, input, count);
            distance.sums(c.getStep(), profile.name()).accumulate(entry.data(), acc, x, input, count);
            entry.stamp(c.getStep(), 1);
        } else {
            kernel.update(entry.data(), acc, x, input, count, decay, distance.sums(c.getStep(), profile.name()));
            entry.stamp(c.getStep(), entry.updates() + 1);
        }
        ema.put(key, entry.bytes());
        RunMeters.chunkApplied(c.getRun(), profile.name(), x.remaining());
        if (pending.getCheckpoint()) {
            context.forward(record.withValue(new CheckpointEvent.Data(c.getRun(), profile.name(), c.getStep(),
                    c.getTensor(), c.getOffset(), entry.data())), AveragerTopology.EMIT);
        }
        return true;
    }

    /** The entry stored under {@code key}, or null; a corrupted one stops the service, naming it. */
    private EmaEntry stored(Bytes key, SnapshotChunk c, Profile profile) {
        try {
            return EmaEntry.wrap(ema.get(key));
        } catch (IllegalStateException e) {
            throw new IllegalStateException("EMA of run " + c.getRun() + " profile " + profile.name() + " tensor "
                    + c.getTensor() + " at element " + c.getOffset() + ": " + e.getMessage() + "; stop the service and"
                    + " delete its state directory to restore the store from its changelog", e);
        }
    }

    private String close(Record<String, Inbound> record, RunState state, SnapshotCommit m) {
        PendingSnapshot pending = state == null ? null : state.getPending();
        String at = "Commit for run " + m.getRun() + " step " + m.getStep();
        if (pending == null || pending.getStep() != m.getStep()) {
            return at + ": no open snapshot of that step"
                    + (pending == null ? "" : " (open step is " + pending.getStep() + ")");
        }
        String problem = null;
        if (pending.getAbortReason() != null) {
            problem = at + ": not averaged whole, a chunk was rejected: " + pending.getAbortReason();
            countIncomplete("nonfinite");
        } else if (m.getChunkCount() != state.getChunkCount() || pending.getChunksSeen() != state.getChunkCount()) {
            problem = at + ": " + pending.getChunksSeen() + " chunks received, commit says " + m.getChunkCount()
                    + ", header declared " + state.getChunkCount() + missing(state, pending);
            countIncomplete("missing_chunks");
        } else if (m.getDigest() != pending.getDigest()) {
            problem = at + String.format(": digest %016X does not match the chunks received (%016X)",
                    m.getDigest(), pending.getDigest());
            countIncomplete("digest_mismatch");
        }
        state.setLastStep(m.getStep());
        state.setPending(null);
        if (problem == null) {
            observer.snapshotCommitted(m.getRun(), m.getStep());
            distances.complete(m.getRun(), m.getStep(), record.timestamp(), pending.getCheckpoint());
            RunMeters.snapshotApplied(m.getRun(), profiles.stream().map(Profile::name).toList(), m.getStep(),
                    task());
            state.setSnapshots(pending.getSet() ? 1 : state.getSnapshots() + 1);
            if (pending.getCheckpoint()) {
                state.setLastCheckpointStep(m.getStep());
                state.setLastCheckpointTime(pending.getTimestamp());
            }
        }
        if (problem != null) {
            distances.discard(m.getRun());
        }
        runs.put(m.getRun(), WireCodec.encode(state));
        if (pending.getCheckpoint()) {
            context.forward(record.withValue(new CheckpointEvent.End(m.getRun(), m.getStep(), state.getChunkCount(),
                    problem)), AveragerTopology.EMIT);
        }
        return problem;
    }

    /** Closes a snapshot whose commit will not come, and reports it. */
    private void abandon(Record<String, Inbound> record, RunState state, String why) {
        PendingSnapshot pending = state.getPending();
        String run = record.key();
        String reason = "Snapshot of run " + run + " step " + pending.getStep() + " is incomplete ("
                + pending.getChunksSeen() + " of " + state.getChunkCount() + " chunks): " + why
                + missing(state, pending) + ". The entries that received its chunks include it, the others do not.";
        countIncomplete("no_commit");
        distances.discard(run);
        state.setLastStep(Math.max(state.getLastStep(), pending.getStep()));
        state.setPending(null);
        runs.put(run, WireCodec.encode(state));
        if (pending.getCheckpoint()) {
            context.forward(record.withValue(new CheckpointEvent.End(run, pending.getStep(), state.getChunkCount(), reason)),
                    AveragerTopology.EMIT);
        }
        DeadLetter.send(context, record, record.value().rawKey(), null, reason);
    }

    /** "; missing w@0, b@4 and 2 more", or nothing when that is not known or nothing is missing. */
    private static String missing(RunState state, PendingSnapshot pending) {
        String missing = ReceivedChunks.missing(pending.getReceived(), state.getTensors(), state.getGrid());
        return missing == null || missing.isEmpty() ? "" : "; missing " + missing;
    }

    private static void countIncomplete(String reason) {
        Metrics.counter(INCOMPLETE_METRIC, "reason", reason).increment();
    }
}
