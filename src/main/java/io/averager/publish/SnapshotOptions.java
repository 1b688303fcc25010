package io.averager.publish;

import io.averager.wire.avro.SnapshotMode;
import java.util.Map;
import java.util.Objects;

/**
 * How the service is to take one snapshot.
 *
 * @param mode UPDATE folds the weights into the EMA; SET restarts the EMA from them
 * @param endOfRun the run's last snapshot: the service checkpoints it whatever the cadence
 * @param checkpoint checkpoint the EMA at this step whatever the cadence: publish the step at
 *     which the trainer saves its own checkpoint with it, and an EMA checkpoint exists at exactly
 *     that step
 * @param metadata free-form strings copied into the checkpoint files
 */
public record SnapshotOptions(SnapshotMode mode, boolean endOfRun, boolean checkpoint, Map<String, String> metadata) {

    public SnapshotOptions {
        Objects.requireNonNull(mode, "mode");
        metadata = Map.copyOf(metadata);
    }

    /** An UPDATE snapshot with no checkpoint requested and no metadata. */
    public static SnapshotOptions update() {
        return new SnapshotOptions(SnapshotMode.UPDATE, false, false, Map.of());
    }

    /** A SET snapshot: the EMA restarts from these weights. */
    public static SnapshotOptions set() {
        return new SnapshotOptions(SnapshotMode.SET, false, false, Map.of());
    }

    /** The same, marked as the run's last snapshot. */
    public SnapshotOptions withEndOfRun() {
        return new SnapshotOptions(mode, true, checkpoint, metadata);
    }

    /** The same, asking for a checkpoint at this step. */
    public SnapshotOptions withCheckpoint() {
        return new SnapshotOptions(mode, endOfRun, true, metadata);
    }

    /** The same, with these metadata. */
    public SnapshotOptions withMetadata(Map<String, String> metadata) {
        return new SnapshotOptions(mode, endOfRun, checkpoint, metadata);
    }
}
