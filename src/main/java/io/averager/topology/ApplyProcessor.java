package io.averager.topology;

import io.averager.ema.Profile;
import io.averager.lifecycle.Decision;
import io.averager.lifecycle.Decision.DistanceChange;
import io.averager.lifecycle.CheckpointEvent;
import io.averager.lifecycle.Rejection;
import io.averager.lifecycle.SnapshotLifecycle;
import io.averager.metrics.RunMeters;
import io.averager.store.Distances;
import io.averager.store.EmaEntries;
import io.averager.store.EmaEntry;
import io.averager.store.RestorePoints;
import io.averager.store.Run;
import io.averager.store.RunStore;
import io.averager.store.Stores;
import io.averager.wire.Rebuilds;
import io.averager.wire.avro.ForkAnswer;
import io.averager.wire.avro.ForkRequest;
import io.averager.wire.avro.RebuildMark;
import io.averager.wire.avro.RebuildRequest;
import io.averager.wire.avro.RestorePoint;
import io.averager.wire.avro.RewindAnswer;
import io.averager.wire.avro.RewindRequest;
import io.averager.wire.avro.SeedChunk;
import io.averager.wire.avro.SeedMark;
import io.averager.wire.avro.SeedRequest;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.streams.processor.Cancellable;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies snapshots to the EMA state, one record at a time: gets the run's state, asks the
 * {@link SnapshotLifecycle} what the record does, puts what changed, and forwards the checkpoint
 * events and dead letters. Records meters and tells the observer.
 */
final class ApplyProcessor implements Processor<String, Inbound, Object, Object> {

    private static final Logger log = LoggerFactory.getLogger(ApplyProcessor.class);

    private final SnapshotLifecycle lifecycle;
    private final List<String> profiles;
    private final TopologyObserver observer;
    private final RunMeters meters;
    private final int restorePointsKept;
    /** The EMA store has no changelog: see {@link LocalEma}. */
    private final boolean localEma;
    private final SnapshotHistory history;
    private final RecordCheck check;
    private ProcessorContext<Object, Object> context;
    private LocalEma local;
    /** Runs whose local EMA is behind, with their committed progress: they catch up before the task goes on. */
    private final Map<String, byte[]> behind = new LinkedHashMap<>();
    private Cancellable catchingUp;
    private RunStore runs;
    private EmaEntries ema;
    private Distances distances;
    private RestorePoints restorePoints;

    ApplyProcessor(TopologySettings settings) {
        this.lifecycle = new SnapshotLifecycle(settings.profiles(), settings.kernel(), settings.checkpointEverySteps(),
                settings.checkpointEveryMs(), settings.nonFinite());
        this.profiles = settings.profiles().stream().map(Profile::name).toList();
        this.observer = settings.observer();
        this.meters = settings.meters();
        this.restorePointsKept = settings.restorePoints();
        this.localEma = !settings.changelog();
        this.history = settings.history();
        this.check = new RecordCheck(settings);
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
        this.context = context;
        this.runs = RunStore.writable(context.getStateStore(Stores.RUNS), context.getStateStore(Stores.LAYOUTS));
        this.ema = EmaEntries.writable(context.getStateStore(Stores.EMA));
        this.distances = Distances.writable(context.getStateStore(Stores.DISTANCES), profiles);
        this.restorePoints = RestorePoints.writable(context.getStateStore(Stores.RESTORE_POINTS));
        if (localEma) {
            local = new LocalEma(context.taskId(), ema, context.getStateStore(Stores.RUNS),
                    context.getStateStore(Stores.LAYOUTS), context.getStateStore(Stores.DISTANCES), restorePoints, history, check);
            behind.putAll(local.behind());
            if (!behind.isEmpty()) {
                // Soon after the start, records or not: a punctuation, unlike init, may write to logged stores.
                catchingUp = context.schedule(Duration.ofMillis(1), PunctuationType.WALL_CLOCK_TIME, t -> catchUp());
            }
        }
    }

    /** Brings the runs whose local EMA is behind up to their committed progress, or stops the task (see {@link LocalEma}). */
    private void catchUp() {
        for (Map.Entry<String, byte[]> run : behind.entrySet()) {
            LocalEma.Gap gap = local.rollBack(run.getKey(), run.getValue());
            // Layouts cached from before the roll-back are not the run's until it has caught up.
            runs = RunStore.writable(context.getStateStore(Stores.RUNS), context.getStateStore(Stores.LAYOUTS));
            local.catchUp(run.getKey(), gap, this::apply);
        }
        behind.clear();
        catchingUp.cancel();
    }

    @Override
    public void close() {
        meters.taskClosed(task());
    }

    private String task() {
        return context.applicationId() + "/" + context.taskId();
    }

    @Override
    public void process(Record<String, Inbound> record) {
        if (!behind.isEmpty()) {
            catchUp();
        }
        long offset = offset();
        Decision d = apply(record.key(), record.value().message(), Rebuilds.idOf(record.headers()), record.timestamp(),
                offset);
        forward(record, d, offset);
    }

    /** Gets the run's state, decides what the record does and puts what changed. */
    private Decision apply(String run, SpecificRecordBase message, String rebuildId, long timestamp, long offset) {
        Run state = runs.get(run);
        Decision d = lifecycle.admit(state, message, rebuildId);
        if (d == null) {
            d = decide(run, state, message, timestamp, offset);
        }
        if (state == null && d.run() != null) {
            d.run().progress().setStartOffset(offset);
        }
        put(run, d, offset);
        return d;
    }

    private Decision decide(String run, Run state, Object message, long timestamp, long offset) {
        if (message instanceof SnapshotHeader h) {
            return lifecycle.header(state, h, timestamp);
        } else if (message instanceof SnapshotChunk c) {
            return lifecycle.chunk(state, c, profile -> entry(run, state, profile, c.getTensor(), c.getOffset()),
                    () -> distances.pending(run));
        } else if (message instanceof SnapshotCommit c) {
            return lifecycle.commit(state, c, timestamp);
        } else if (message instanceof RewindRequest r) {
            return lifecycle.rewind(state, restorePoints.list(run), r, offset);
        } else if (message instanceof RebuildMark m) {
            return lifecycle.mark(state, restorePoints.list(run), m, offset);
        } else if (message instanceof ForkRequest f) {
            return lifecycle.fork(state, f);
        } else if (message instanceof SeedMark m) {
            return lifecycle.seed(state, m, timestamp);
        }
        return lifecycle.seedChunk(state, (SeedChunk) message);
    }

    private long offset() {
        return context.recordMetadata().map(m -> m.offset()).orElse(-1L);
    }

    private int partition() {
        return context.recordMetadata().map(m -> m.partition()).orElse(-1);
    }

    /** The entry as of the run's current branch: an entry of an earlier one reads as the restore point's copy. */
    private EmaEntry entry(String run, Run state, String profile, String tensor, long offset) {
        return restorePoints.asOfBranch(ema.get(run, profile, tensor, offset), run, state.progress(), profile, tensor, offset);
    }

    private void put(String run, Decision d, long offset) {
        for (Decision.EntryUpdate e : d.entries()) {
            byte[] sealed = ema.put(run, e.profile(), e.tensor(), e.offset(), e.entry());
            if (d.restorePoint() >= 0 && restorePointsKept > 0) {
                restorePoints.put(run, d.restorePoint(), e.profile(), e.tensor(), e.offset(), sealed);
            }
        }
        if (d.distances() instanceof DistanceChange.Save s) {
            distances.save(run, s.pending());
        } else if (d.distances() instanceof DistanceChange.Complete c) {
            distances.complete(run, c.step(), c.time(), c.checkpoint());
        } else if (d.distances() instanceof DistanceChange.Discard) {
            distances.discard(run);
        } else if (d.distances() instanceof DistanceChange.Restore r) {
            distances.restore(run, r.point().getDistances());
        }
        if (d.restorePointCompleted() != null || !d.restorePointsDropped().isEmpty()) {
            putRestorePoints(run, d, offset);
        }
        if (d.progressChanged() || !d.entries().isEmpty()) {
            // Every change, a fork's seed chunks too, moves the offset: the copy beside a local EMA tells each apart.
            d.run().progress().setAppliedOffset(offset);
            byte[] progress = runs.put(run, d.run(), d.layoutChanged());
            if (local != null) {
                local.keep(run, progress, d);
            }
        }
    }

    /**
     * Drops the restore points the decision names, adds the one it completed with the run's
     * distance history as it now stands, and keeps the latest {@code restorePointsKept}, and the
     * one the run's branch started from, whose copies its older entries read as.
     */
    private void putRestorePoints(String run, Decision d, long offset) {
        List<RestorePoint> points = restorePoints.list(run);
        for (long step : d.restorePointsDropped()) {
            restorePoints.drop(run, step);
            points.removeIf(p -> p.getStep() == step);
        }
        RestorePoint completed = d.restorePointCompleted();
        if (completed != null && restorePointsKept > 0) {
            completed.setDistances(ByteBuffer.wrap(distances.history(run).encode()));
            completed.setOffset(offset);
            points.add(completed);
            long keep = d.run().progress().getRestoredFrom();
            List<RestorePoint> old = points.stream().filter(p -> p.getStep() != keep).toList();
            for (RestorePoint p : old.subList(0, Math.max(0, old.size() - restorePointsKept))) {
                restorePoints.drop(run, p.getStep());
                points.remove(p);
            }
        }
        restorePoints.putList(run, points);
    }

    /** Tells whoever sent the rewind request what became of it, on the run-events topic. */
    private void answer(Record<String, Inbound> record, Decision.Answer a, Decision d) {
        String run = record.key();
        int rewinds = d.run() == null ? 0 : d.run().progress().getBranch();
        String message = a.how();
        if (a.rewound()) {
            message = "Run " + run + " rewound to step " + a.toStep() + a.how() + " (request " + a.requestId()
                    + "); its rewinds so far: " + rewinds;
            log.info(message);
        }
        RewindAnswer answer = new RewindAnswer(run, a.requestId(), a.toStep(), a.rewound(), message, rewinds);
        context.forward(record.withValue((Object) answer), AveragerTopology.RUN_EVENTS);
    }

    /** Asks the rebuilder to publish the run's history after the restore point again. */
    private void askRebuild(Record<String, Inbound> record, Decision.RebuildNeeded r, long offset) {
        int partition = partition();
        log.info("Rewind of run {} to step {} (request {}): rebuilding it from the restore point at step {} and the"
                + " snapshots after it (partition {}, offsets {} to {})", record.key(), r.toStep(), r.requestId(),
                r.fromStep(), partition, r.startOffset(), offset);
        RebuildRequest request = new RebuildRequest(record.key(), r.requestId(), r.fromStep(), r.toStep(), partition,
                r.startOffset(), offset);
        context.forward(record.withValue((Object) request), AveragerTopology.RUN_EVENTS);
    }

    private void forward(Record<String, Inbound> record, Decision d, long offset) {
        String run = record.key();
        for (Decision.EntryUpdate e : d.entries()) {
            meters.chunkApplied(run, e.profile(), e.bytes());
        }
        if (d.incomplete() != null) {
            meters.snapshotIncomplete(d.incomplete().tag());
        }
        if (d.opened()) {
            observer.snapshotOpened(run, d.run().progress().getPending().getStep(),
                    context.recordMetadata().map(m -> m.partition()).orElse(-1));
        }
        if (d.answer() != null) {
            answer(record, d.answer(), d);
        }
        if (d.rebuild() != null) {
            askRebuild(record, d.rebuild(), offset);
        }
        if (d.fork() != null) {
            Decision.ForkOutcome f = d.fork();
            if (f.forked()) {
                log.info(f.message());
            }
            context.forward(record.withValue((Object) new ForkAnswer(run, f.requestId(), f.parent(), f.step(), f.forked(),
                    f.message())), AveragerTopology.RUN_EVENTS);
        }
        if (d.seed() != null) {
            Decision.SeedNeeded s = d.seed();
            context.forward(record.withValue((Object) new SeedRequest(run, s.requestId(), s.parent(), s.step(), s.grid(),
                    partition())), AveragerTopology.RUN_EVENTS);
        }
        if (d.committed()) {
            long step = d.run().progress().getLastStep();
            observer.snapshotCommitted(run, step);
            if (d.run().progress().getSnapshots() == 1) {
                log.info("Averaging run {}: its first snapshot, step {}, is the EMA of profiles {}; the next checkpoint"
                        + " is due {}", run, step, profiles, lifecycle.nextCheckpoint(d.run().progress()));
            }
            meters.snapshotApplied(run, profiles, step, task());
        }
        for (CheckpointEvent event : d.checkpoint()) {
            context.forward(record.withValue(event), AveragerTopology.EMIT);
        }
        for (Rejection r : d.rejections()) {
            DeadLetter.send(context, meters, record, record.value().rawKey(),
                    r.carriesRecord() ? record.value().rawValue() : null, r.reason(), r.message());
        }
        if (d.duplicate() && record.value().message() instanceof SnapshotChunk c) {
            log.debug("Skipped duplicate chunk of run {} step {} tensor {} offset {}",
                    run, c.getStep(), c.getTensor(), c.getOffset());
        }
    }
}
