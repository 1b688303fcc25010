package io.averager.lifecycle;

import io.averager.wire.avro.RunProgress;
import java.time.Duration;

/**
 * Decides at a snapshot's header whether its EMA becomes a checkpoint. Uses record timestamps,
 * not the clock, so that a replay of the same history checkpoints the same steps.
 *
 * @param everySteps checkpoint the first snapshot whose step crosses a multiple of this since the
 *     last checkpoint (or the run's first snapshot); 0: off
 * @param everyMs checkpoint once this much snapshot time has passed since the last checkpoint; 0: off
 */
record CheckpointCadence(long everySteps, long everyMs) {

    /**
     * @param state the run's state before this snapshot, null for its first snapshot
     * @param requested the snapshot asks for a checkpoint: the run's last, or one on request
     */
    boolean isDue(RunProgress state, long step, long timestamp, boolean requested) {
        if (requested) {
            return true;
        }
        if (state == null) {
            return false;
        }
        // Measured from the last checkpoint that was stored, not the last snapshot, so that a
        // checkpoint lost to a broken snapshot is taken at the next one.
        if (everySteps > 0 && Math.floorDiv(step, everySteps) > Math.floorDiv(state.getLastCheckpointStep(), everySteps)) {
            return true;
        }
        return everyMs > 0 && timestamp - state.getLastCheckpointTime() >= everyMs;
    }

    /** When the next checkpoint of a run in {@code state} is due, for a log line. */
    String describeNext(RunProgress state) {
        StringBuilder s = new StringBuilder();
        if (everySteps > 0) {
            s.append("at its first snapshot of step ")
                    .append((Math.floorDiv(state.getLastCheckpointStep(), everySteps) + 1) * everySteps)
                    .append(" or above (every ").append(everySteps).append(" steps), ");
        }
        if (everyMs > 0) {
            s.append(everySteps > 0 ? "or " : "").append("once ").append(Duration.ofMillis(everyMs))
                    .append(" of snapshot time has passed since step ").append(state.getLastCheckpointStep()).append(", ");
        }
        return s.append(s.isEmpty() ? "only " : "or ").append("at its end of run or a snapshot that asks for one").toString();
    }
}
