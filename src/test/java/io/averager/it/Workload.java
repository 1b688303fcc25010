package io.averager.it;

import io.averager.publish.SnapshotPublisher;
import io.averager.wire.avro.SnapshotMode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Snapshots of several training runs of {@link TestModel}, each run with weights of its own,
 * published round-robin over the runs at steps {@code gap, 2*gap, ...}; the last snapshot of each
 * run ends it. The publisher retries a snapshot whose publishing failed, with a new producer of the
 * same transactional id, so a transaction left open by the failure is aborted at once.
 */
final class Workload {

    private static final Logger log = LoggerFactory.getLogger(Workload.class);
    private static final int ATTEMPTS = 10;

    final List<String> runs;
    final int snapshotsPerRun;
    final long stepGap;
    /** Snapshots published so far; read from any thread. */
    final AtomicInteger published = new AtomicInteger();
    /** Why publishing attempts failed (each was retried); read from any thread. */
    final List<Exception> failures = new CopyOnWriteArrayList<>();

    Workload(String prefix, int runCount, int snapshotsPerRun, long stepGap) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < runCount; i++) {
            names.add(prefix + "-run-" + i);
        }
        this.runs = List.copyOf(names);
        this.snapshotsPerRun = snapshotsPerRun;
        this.stepGap = stepGap;
    }

    int total() {
        return runs.size() * snapshotsPerRun;
    }

    long lastStep() {
        return snapshotsPerRun * stepGap;
    }

    /** The weights of run {@code runIndex} at {@code step}: each run's differ from the others'. */
    static Map<String, ByteBuffer> weights(int runIndex, long step) {
        return TestModel.weights(step + runIndex);
    }

    /**
     * The checkpoints due with {@code averager.checkpoint.every.steps = everySteps}, when that is a
     * multiple of the step gap: every step that is a multiple of it, and the last.
     */
    Set<CheckpointKey> checkpointsEvery(long everySteps, List<String> profiles) {
        Set<CheckpointKey> keys = new TreeSet<>();
        for (String run : runs) {
            for (String profile : profiles) {
                for (long step = stepGap; step <= lastStep(); step += stepGap) {
                    if (step % everySteps == 0 || step == lastStep()) {
                        keys.add(new CheckpointKey(run, profile, step));
                    }
                }
            }
        }
        return keys;
    }

    /**
     * Publishes every snapshot to {@code topic}, pausing {@code pause} after each.
     *
     * @param producer producer settings: at least bootstrap.servers
     */
    void publish(Map<String, Object> producer, String topic, long grid, Duration pause) throws InterruptedException {
        publish(producer, topic, grid, pause, new Semaphore(Integer.MAX_VALUE));
    }

    /**
     * {@link #publish(Map, String, long, Duration, Semaphore)} to the shared broker, for a
     * background task: an interruption ends it unchecked.
     */
    void publishToSharedBroker(String topic, long grid, Duration pause, Semaphore allowance) {
        try {
            publish(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()), topic, grid, pause, allowance);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Settings of the two profiles the process tests average with, {@code ema} and {@code slow}, and the cadence. */
    static Map<String, String> emaAndSlow(long everySteps) {
        return Map.of(
                "averager.profiles", "ema,slow",
                "averager.profile.ema.decay", "0.9",
                "averager.profile.slow.halflife.steps", "40",
                "averager.checkpoint.every.steps", Long.toString(everySteps));
    }

    /**
     * Publishes every snapshot to {@code topic}, each once {@code allowance} gives a permit, as a
     * training loop paced by its steps would, pausing {@code pause} after each.
     */
    void publish(Map<String, Object> producer, String topic, long grid, Duration pause, Semaphore allowance)
            throws InterruptedException {
        Map<String, Object> settings = new HashMap<>(producer);
        settings.put("transactional.id", topic + "-publisher");
        // Fail fast while the broker is away, and retry: what a training loop would do.
        settings.putIfAbsent("max.block.ms", 5_000);
        settings.putIfAbsent("request.timeout.ms", 4_000);
        settings.putIfAbsent("delivery.timeout.ms", 5_000);
        SnapshotPublisher publisher = null;
        try {
            for (long step = stepGap; step <= lastStep(); step += stepGap) {
                for (int r = 0; r < runs.size(); r++) {
                    allowance.acquire();
                    for (int attempt = 1; ; attempt++) {
                        try {
                            if (publisher == null) {
                                publisher = new SnapshotPublisher(settings, topic, grid);
                            }
                            publisher.publish(runs.get(r), step, SnapshotMode.UPDATE, step == lastStep(),
                                    Map.of("arch", "test-model"), TestModel.sources(weights(r, step)));
                            break;
                        } catch (IOException | RuntimeException e) {
                            if (attempt == ATTEMPTS) {
                                throw new AssertionError("Publishing run " + runs.get(r) + " step " + step + " failed "
                                        + ATTEMPTS + " times", e);
                            }
                            log.info("Publishing run {} step {} failed ({}); retrying", runs.get(r), step, e.toString());
                            failures.add(e);
                            if (publisher != null) {
                                publisher.close();
                                publisher = null;
                            }
                            Thread.sleep(500);
                        }
                    }
                    published.incrementAndGet();
                    Thread.sleep(pause.toMillis());
                }
            }
        } finally {
            if (publisher != null) {
                publisher.close();
            }
        }
    }

    /** A checkpoint's identity. */
    record CheckpointKey(String run, String profile, long step) implements Comparable<CheckpointKey> {

        static CheckpointKey of(io.averager.wire.avro.CheckpointManifest m) {
            return new CheckpointKey(m.getRun(), m.getProfile(), m.getStep());
        }

        @Override
        public int compareTo(CheckpointKey o) {
            int c = run.compareTo(o.run);
            if (c == 0) {
                c = profile.compareTo(o.profile);
            }
            return c != 0 ? c : Long.compare(step, o.step);
        }
    }
}
