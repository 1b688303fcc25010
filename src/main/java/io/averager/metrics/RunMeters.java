package io.averager.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The meters one service instance records, on the registry it is given: per run and profile,
 * and the sink's. Each instance has its own, so that two services in one JVM (a test, an
 * embedded replay) each show only their own on {@code /metrics}.
 *
 * <p>Tags {@code run} and {@code profile} make one time series per run and profile for each
 * meter, so the number of series grows with runs × profiles. To keep it bounded on a service that
 * sees a stream of short runs, the meters of a run that has applied no snapshot for
 * {@link #IDLE} are removed (checked at most once a minute, when a snapshot is applied); they
 * come back if the run does. Prometheus keeps what it scraped before. The meters of the runs a
 * stream task applied are also removed when the task closes on this instance (its partition
 * moved to another instance, or the service stops), so that one run's series come from the
 * instance applying it.
 *
 * <p>Thread-safe: stream threads and the sink thread call concurrently.
 */
public final class RunMeters {

    /** Gauge: last step applied, per run and profile. */
    public static final String LAST_STEP = "averager.run.last.step";
    /** Counter: snapshots averaged whole, per run and profile. */
    public static final String SNAPSHOTS = "averager.snapshots.applied";
    /** Counter: snapshot bytes applied to the EMA, per run and profile. */
    public static final String BYTES = "averager.snapshot.bytes.applied";
    /** Timer: snapshot commit to manifest published, per run and profile. */
    public static final String CHECKPOINT_LATENCY = "averager.checkpoint.latency";
    /** Counter: failed attempts to store a checkpoint file. */
    public static final String SINK_RETRIES = "averager.sink.retries";
    /** Counter: sink transactions aborted and read again from the committed offsets. */
    public static final String SINK_ABORTS = "averager.sink.aborts";
    /** Counter: records sent to the dead-letter topic, tag {@code reason} (a {@code DeadLetterReason}). */
    public static final String DEAD_LETTERS = "averager.dead.letters";
    /** Counter: snapshots closed without being averaged whole, tag {@code reason}. */
    public static final String INCOMPLETE = "averager.snapshots.incomplete";

    /** How long a run may apply no snapshot before its meters are removed. */
    public static final Duration IDLE = Duration.ofHours(1);
    private static final long SWEEP_EVERY_NANOS = TimeUnit.MINUTES.toNanos(1);

    private final MeterRegistry registry;
    private final Map<String, Long> lastSeen = new ConcurrentHashMap<>();
    private final Map<String, String> taskOf = new ConcurrentHashMap<>();
    private final Map<List<String>, AtomicLong> steps = new ConcurrentHashMap<>();
    private final AtomicLong lastSweep = new AtomicLong(System.nanoTime());

    public RunMeters(MeterRegistry registry) {
        this.registry = registry;
    }

    /** The registry these meters are on. */
    public MeterRegistry registry() {
        return registry;
    }

    /** A chunk of {@code bytes} bytes was applied to the run's EMA of {@code profile}. */
    public void chunkApplied(String run, String profile, int bytes) {
        registry.counter(BYTES, "run", run, "profile", profile).increment(bytes);
    }

    /** The snapshot of {@code step} was averaged whole into every profile named, by stream task {@code task}. */
    public void snapshotApplied(String run, List<String> profiles, long step, String task) {
        long now = System.nanoTime();
        lastSeen.put(run, now);
        taskOf.put(run, task);
        for (String profile : profiles) {
            registry.counter(SNAPSHOTS, "run", run, "profile", profile).increment();
            steps.computeIfAbsent(List.of(run, profile), k -> {
                AtomicLong holder = new AtomicLong(-1);
                Gauge.builder(LAST_STEP, holder, AtomicLong::get).tags("run", run, "profile", profile)
                        .description("Step of the last snapshot averaged").register(registry);
                return holder;
            }).set(step);
        }
        long last = lastSweep.get();
        if (now - last > SWEEP_EVERY_NANOS && lastSweep.compareAndSet(last, now)) {
            removeIdle(now - IDLE.toNanos());
        }
    }

    /** The manifest of a checkpoint whose snapshot committed at {@code snapshotTimeMs} was published now. */
    public void checkpointPublished(String run, String profile, long snapshotTimeMs) {
        Timer.builder(CHECKPOINT_LATENCY).tags("run", run, "profile", profile)
                .description("Snapshot commit to checkpoint manifest published")
                .register(registry)
                .record(Math.max(0, System.currentTimeMillis() - snapshotTimeMs), TimeUnit.MILLISECONDS);
    }

    /** An attempt to store a checkpoint file failed and will be retried. */
    public void sinkRetry() {
        registry.counter(SINK_RETRIES).increment();
    }

    /**
     * A sink transaction was aborted (the instance fenced, its group rebalanced) and its
     * checkpoints are read again from the committed offsets.
     */
    public void sinkAbort() {
        registry.counter(SINK_ABORTS).increment();
    }

    /** A record went to the dead-letter topic; {@code reason} is its category's tag. */
    public void deadLetter(String reason) {
        Counter.builder(DEAD_LETTERS).tag("reason", reason)
                .description("Records sent to the dead-letter topic").register(registry).increment();
    }

    /** A snapshot of a run closed without being averaged whole; {@code reason} is why, as a tag. */
    public void snapshotIncomplete(String reason) {
        Counter.builder(INCOMPLETE).tag("reason", reason)
                .description("Snapshots closed without being averaged whole").register(registry).increment();
    }

    /** Stream task {@code task} closed here: removes the meters of the runs it applied. */
    public void taskClosed(String task) {
        for (Map.Entry<String, String> e : taskOf.entrySet()) {
            if (e.getValue().equals(task) && taskOf.remove(e.getKey(), task)) {
                lastSeen.remove(e.getKey());
                remove(e.getKey());
            }
        }
    }

    /** Removes the meters of runs that applied no snapshot since {@code seenBeforeNanos}. */
    void removeIdle(long seenBeforeNanos) {
        for (Map.Entry<String, Long> e : lastSeen.entrySet()) {
            if (e.getValue() - seenBeforeNanos < 0 && lastSeen.remove(e.getKey(), e.getValue())) {
                taskOf.remove(e.getKey());
                remove(e.getKey());
            }
        }
    }

    /** Removes every meter tagged with {@code run}. */
    void remove(String run) {
        List<Meter> meters = new ArrayList<>(registry.find(LAST_STEP).tag("run", run).meters());
        for (String name : List.of(SNAPSHOTS, BYTES, CHECKPOINT_LATENCY)) {
            meters.addAll(registry.find(name).tag("run", run).meters());
        }
        meters.forEach(registry::remove);
        steps.keySet().removeIf(k -> k.get(0).equals(run));
    }
}
