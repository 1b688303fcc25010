package io.averager.replay;

import io.averager.topology.TopologyObserver;
import io.averager.wire.avro.CheckpointManifest;
import java.io.PrintStream;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Follows a replay: what the topology has read and emitted, which manifests the sink published,
 * and whether the whole history has been read. Renders a progress bar on a terminal and a log
 * line every few seconds elsewhere. Thread-safe.
 */
final class ReplayProgress implements TopologyObserver {

    private final History history;
    private final Map<Integer, Long> read = new ConcurrentHashMap<>();
    private final AtomicLong bytes = new AtomicLong();
    private final Set<String> snapshots = ConcurrentHashMap.newKeySet();
    private final Set<String> emitted = ConcurrentHashMap.newKeySet();
    private final Set<String> stored = ConcurrentHashMap.newKeySet();
    private final Map<String, Long> firstSteps = new ConcurrentHashMap<>();
    private final Map<String, Integer> firstPartitions = new ConcurrentHashMap<>();
    private final long started = System.nanoTime();
    private long lastLine;

    ReplayProgress(History history) {
        this.history = history;
    }

    @Override
    public void consumed(int partition, long offset, int bytes) {
        read.merge(partition, offset, Math::max);
        this.bytes.addAndGet(bytes);
    }

    @Override
    public void snapshotOpened(String run, long step, int partition) {
        if (firstSteps.putIfAbsent(run, step) == null) {
            firstPartitions.put(run, partition);
        }
    }

    @Override
    public void snapshotCommitted(String run, long step) {
        snapshots.add(run + "@" + step);
    }

    @Override
    public void checkpointEmitted(String run, String profile, long step) {
        emitted.add(key(run, profile, step));
    }

    void stored(CheckpointManifest m) {
        stored.add(key(m.getRun(), m.getProfile(), m.getStep()));
    }

    /** Every record of the captured history has been processed. */
    boolean readAll() {
        return history.last().entrySet().stream().allMatch(e -> read.getOrDefault(e.getKey(), -1L) >= e.getValue());
    }

    /** Every checkpoint the topology emitted has been stored. */
    boolean storedAll() {
        return stored.containsAll(emitted);
    }

    Map<String, Long> firstSteps() {
        return firstSteps;
    }

    Integer firstPartition(String run) {
        return firstPartitions.get(run);
    }

    int checkpoints() {
        return stored.size();
    }

    int snapshots() {
        return snapshots.size();
    }

    long bytes() {
        return bytes.get();
    }

    double fraction() {
        long total = history.records();
        if (total == 0) {
            return 1;
        }
        long done = read.entrySet().stream()
                .mapToLong(e -> e.getValue() - history.begin().getOrDefault(e.getKey(), 0L) + 1).sum();
        return Math.min(1.0, done / (double) total);
    }

    double seconds() {
        return (System.nanoTime() - started) / 1e9;
    }

    /** Shows progress: redraws the bar on a terminal, else a line every five seconds. */
    void render(PrintStream out, boolean terminal) {
        long now = System.nanoTime();
        if (!terminal && now - lastLine < 5_000_000_000L) {
            return;
        }
        lastLine = now;
        double f = fraction();
        double seconds = seconds();
        String eta = f > 0.01 && f < 1 ? " ETA " + duration(seconds * (1 - f) / f) : "";
        String line = String.format("%5.1f%%  %d snapshots  %s  %s/s  %d checkpoints stored%s", f * 100, snapshots(),
                size(bytes()), size((long) (bytes() / Math.max(seconds, 1e-3))), checkpoints(), eta);
        if (terminal) {
            int width = 30;
            int filled = (int) Math.round(f * width);
            out.print("\r[" + "#".repeat(filled) + ".".repeat(width - filled) + "] " + line + "   ");
        } else {
            out.println("replay: " + line);
        }
        out.flush();
    }

    private static String key(String run, String profile, long step) {
        return run.length() + ":" + run + "/" + profile + "@" + step;
    }

    static String size(long n) {
        if (n < 1024) {
            return n + " B";
        }
        int unit = (63 - Long.numberOfLeadingZeros(n)) / 10;
        return String.format("%.1f %siB", n / (double) (1L << (unit * 10)), " KMGTPE".charAt(unit));
    }

    private static String duration(double seconds) {
        long s = Math.round(seconds);
        return String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }
}
