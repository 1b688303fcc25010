package io.averager.topology;

import io.averager.AveragerException;
import io.averager.lifecycle.Decision;
import io.averager.lifecycle.Decision.DistanceChange;
import io.averager.store.DistanceHistory;
import io.averager.store.EmaEntries;
import io.averager.store.PendingDistances;
import io.averager.store.RestorePoints;
import io.averager.store.Stores;
import io.averager.wire.Rebuilds;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.RunProgress;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.streams.processor.TaskId;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The EMA store of a task without a changelog ({@code averager.state.changelog=false}). With
 * every change the EMA store keeps a copy of the run's small state (progress, layout, distances,
 * restore points list), which the other stores hold under their changelogs; written in the same
 * store commit as the entries, the copies are the state the entries belong with. When the task
 * starts, a run whose copied progress is not its committed progress is behind: Kafka Streams
 * writes RocksDB without its write-ahead log, so a killed instance's EMA is that of an earlier
 * commit. It catches up: the small stores are put back to the copies, and the run's records
 * between the two are read again from its partition of snapshots and applied again, checked as
 * they were the first time; the result must be the committed state, byte for byte. A run RocksDB
 * never flushed, or whose task moved to an instance without it, has no copy: it catches up from
 * the record that started it, if its partition still holds it. A run that cannot catch up (its
 * history gone, a rewind, rebuild or fork among the records, another result) stops the service
 * naming it: averaging onto a stale EMA would corrupt it without a trace.
 */
final class LocalEma {

    /**
     * The records a run behind has to apply again, offsets {@code from} to {@code to}, and the
     * small state they must lead to: the committed one, as {@link #small} reads it; {@code held}
     * says what the local EMA held, for messages.
     */
    record Gap(long from, long to, List<byte[]> committed, String held) {
    }

    /** Applies one record to its run, as the processor does, forwarding nothing. */
    interface Apply {
        void apply(String run, SpecificRecordBase message, String rebuildId, long timestamp, long offset);
    }

    private static final Logger log = LoggerFactory.getLogger(LocalEma.class);
    private static final String PENDING = "distances/pending";
    private static final String HISTORY = "distances/history";

    private final TaskId task;
    private final EmaEntries ema;
    private final KeyValueStore<String, byte[]> runs;
    private final KeyValueStore<String, byte[]> layouts;
    private final KeyValueStore<String, byte[]> distances;
    private final RestorePoints restorePoints;
    private final SnapshotHistory history;
    private final RecordCheck check;

    LocalEma(TaskId task, EmaEntries ema, KeyValueStore<String, byte[]> runs, KeyValueStore<String, byte[]> layouts,
             KeyValueStore<String, byte[]> distances, RestorePoints restorePoints, SnapshotHistory history, RecordCheck check) {
        this.task = task;
        this.ema = ema;
        this.runs = runs;
        this.layouts = layouts;
        this.distances = distances;
        this.restorePoints = restorePoints;
        this.history = history;
        this.check = check;
    }

    /** The runs whose local EMA is not at their committed progress, with that progress as stored. */
    Map<String, byte[]> behind() {
        Map<String, byte[]> behind = new LinkedHashMap<>();
        try (var it = runs.all()) {
            it.forEachRemaining(kv -> {
                if (!Arrays.equals(ema.copy(kv.key, Stores.RUNS), kv.value)) {
                    behind.put(kv.key, kv.value);
                }
            });
        }
        return behind;
    }

    /**
     * Copies what {@code d} changed of the run's small state, as its stores now hold it, next to
     * its entries: the progress always, the rest only when the decision changed it (a chunk changes
     * the pending distances alone).
     */
    void keep(String run, byte[] progress, Decision d) {
        ema.putCopy(run, Stores.RUNS, progress);
        if (d.layoutChanged()) {
            ema.putCopy(run, Stores.LAYOUTS, layouts.get(run));
        }
        if (!(d.distances() instanceof DistanceChange.Keep)) {
            ema.putCopy(run, PENDING, distances.get(PendingDistances.key(run)));
        }
        if (!(d.distances() instanceof DistanceChange.Keep || d.distances() instanceof DistanceChange.Save)) {
            ema.putCopy(run, HISTORY, distances.get(DistanceHistory.key(run)));
        }
        if (d.restorePointCompleted() != null || !d.restorePointsDropped().isEmpty()) {
            ema.putCopy(run, Stores.RESTORE_POINTS, restorePoints.storedList(run));
        }
    }

    /** The run's small state as its stores hold it: progress, layout, pending distances, history, restore points. */
    private List<byte[]> small(String run) {
        return Arrays.asList(runs.get(run), layouts.get(run), distances.get(PendingDistances.key(run)),
                distances.get(DistanceHistory.key(run)), restorePoints.storedList(run));
    }

    /**
     * Puts the run's small stores back to the copies next to its entries, so that the records
     * after them can be applied again; returns what to apply again and what it must lead to.
     *
     * @throws AveragerException naming the run if it cannot catch up
     */
    Gap rollBack(String run, byte[] committed) {
        RunProgress at = WireCodec.decode(committed, RunProgress.class);
        byte[] copied = ema.copy(run, Stores.RUNS);
        RunProgress was = copied == null ? null : WireCodec.decode(copied, RunProgress.class);
        // None at all (RocksDB never flushed the run): it catches up from the record that started it.
        long from = was == null ? at.getStartOffset() : was.getAppliedOffset() + 1;
        String held = was == null ? "holds none of it"
                : "holds it as of step " + was.getLastStep() + " (offset " + was.getAppliedOffset() + ")";
        if (was == null && at.getStartOffset() < 0 || was != null && was.getAppliedOffset() < 0 || at.getAppliedOffset() < from) {
            throw lost(run, at, held, "");
        }
        if (!history.available()) {
            throw lost(run, at, held, "; no snapshots history to catch up from is configured");
        }
        List<byte[]> state = small(run);
        putBack(runs, run, copied);
        putBack(layouts, run, ema.copy(run, Stores.LAYOUTS));
        putBack(distances, PendingDistances.key(run), ema.copy(run, PENDING));
        putBack(distances, DistanceHistory.key(run), ema.copy(run, HISTORY));
        restorePoints.putStoredList(run, ema.copy(run, Stores.RESTORE_POINTS));
        return new Gap(from, at.getAppliedOffset(), state, held);
    }

    /**
     * Applies the run's records of the gap again, from its partition of snapshots, and checks
     * that they lead to the committed state, byte for byte.
     *
     * @throws AveragerException naming the run if they do not, or cannot be read
     */
    void catchUp(String run, Gap gap, Apply apply) {
        RunProgress at = WireCodec.decode(gap.committed().get(0), RunProgress.class);
        String held = gap.held();
        long start = System.nanoTime();
        long[] applied = new long[2];
        try {
            history.read(task.partition(), gap.from(), gap.to(), r -> {
                RecordCheck.Checked c = check.check(r.key(), r.value(), r.headers());
                if (c.message() == null || !run.equals(c.run())) {
                    return; // another run's, or refused then as now
                }
                if (!(c.message() instanceof SnapshotHeader || c.message() instanceof SnapshotChunk
                        || c.message() instanceof SnapshotCommit)) {
                    throw lost(run, at, held, "; the " + c.message().getSchema().getName() + " at offset " + r.offset()
                            + " lies in between, and catching up replays snapshots only");
                }
                apply.apply(run, c.message(), Rebuilds.idOf(r.headers()), r.timestamp(), r.offset());
                applied[0]++;
                applied[1] += r.serializedValueSize();
            });
        } catch (Lost e) {
            throw e;
        } catch (AveragerException e) {
            throw lost(run, at, held, "; its snapshots could not be read again: " + e.getMessage());
        }
        List<byte[]> reached = small(run);
        for (int i = 0; i < reached.size(); i++) {
            if (!Arrays.equals(reached.get(i), gap.committed().get(i))) {
                throw lost(run, at, held, "; applying offsets " + gap.from() + " to " + gap.to() + " again reached step "
                        + (reached.get(0) == null ? "none" : WireCodec.decode(reached.get(0), RunProgress.class).getLastStep())
                        + " with a state other than the committed one (" + List.of("progress", "layout",
                        "pending distances", "distance history", "restore points").get(i) + " differs)");
            }
        }
        log.info("Run {} (task {}): its local EMA caught up to step {}, {} records ({} bytes) of offsets {} to {}"
                + " applied again in {} ms", run, task, at.getLastStep(), applied[0], applied[1], gap.from(), gap.to(),
                (System.nanoTime() - start) / 1_000_000);
    }

    private static void putBack(KeyValueStore<String, byte[]> store, String key, byte[] stored) {
        if (stored == null) {
            store.delete(key);
        } else {
            store.put(key, stored);
        }
    }

    /** A run that cannot catch up. */
    private static final class Lost extends AveragerException {
        Lost(String message) {
            super(message);
        }
    }

    private Lost lost(String run, RunProgress at, String held, String why) {
        return new Lost("Run " + run + " (task " + task + "): its committed progress is step "
                + at.getLastStep() + " (" + at.getSnapshots() + " snapshots averaged, last checkpoint at step "
                + at.getLastCheckpointStep() + "), but the EMA on this instance's disk " + held + why + ". With"
                + " averager.state.changelog=false the EMA is kept in the local state directory only, and this one was"
                + " lost or left behind: the task moved to an instance without it, the state directory was deleted, or"
                + " the instance was killed (Kafka Streams writes RocksDB without its write-ahead log). The service"
                + " stops rather than average onto a stale EMA. Restore the state directory, or fork the run from its"
                + " last checkpoint (averager fork --from " + run + " --step " + at.getLastCheckpointStep()
                + " --to NEW_RUN)");
    }
}
