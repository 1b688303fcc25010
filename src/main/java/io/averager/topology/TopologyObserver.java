package io.averager.topology;

/**
 * Told what the topology does, from its stream threads: for progress reports and completion
 * checks. Calls may repeat when a task reprocesses records after a failure, so implementations
 * must be idempotent or tolerate over-counting, and must be thread-safe and quick.
 */
public interface TopologyObserver {

    /** Does nothing. */
    TopologyObserver NONE = new TopologyObserver() {
    };

    /** A snapshots-topic record was read (selected or not). */
    default void consumed(int partition, long offset, int bytes) {
    }

    /** A selected snapshot's header opened the run's snapshot of {@code step}. */
    default void snapshotOpened(String run, long step, int partition) {
    }

    /** A snapshot was committed and averaged. */
    default void snapshotCommitted(String run, long step) {
    }

    /** A complete checkpoint was emitted to the checkpoints topic. */
    default void checkpointEmitted(String run, String profile, long step) {
    }
}
