package io.averager.publish;

import io.averager.wire.avro.SnapshotMode;
import java.util.Collection;
import java.util.List;
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
 * @param copy names of tensors whose EMA is to be their latest weights rather than an average
 *     (buffers such as BatchNorm's running statistics); integer tensors always are
 */
public record SnapshotOptions(SnapshotMode mode, boolean endOfRun, boolean checkpoint, Map<String, String> metadata,
                              List<String> copy) {

    public SnapshotOptions {
        Objects.requireNonNull(mode, "mode");
        metadata = Map.copyOf(metadata);
        copy = List.copyOf(copy);
    }

    /** Options that copy no tensor beyond the integer ones. */
    public SnapshotOptions(SnapshotMode mode, boolean endOfRun, boolean checkpoint, Map<String, String> metadata) {
        this(mode, endOfRun, checkpoint, metadata, List.of());
    }

    /** An UPDATE snapshot with no checkpoint requested and no metadata. */
    public static SnapshotOptions update() {
        return new SnapshotOptions(SnapshotMode.UPDATE, false, false, Map.of(), List.of());
    }

    /** A SET snapshot: the EMA restarts from these weights. */
    public static SnapshotOptions set() {
        return new SnapshotOptions(SnapshotMode.SET, false, false, Map.of(), List.of());
    }

    /** The same, marked as the run's last snapshot. */
    public SnapshotOptions withEndOfRun() {
        return new SnapshotOptions(mode, true, checkpoint, metadata, copy);
    }

    /** The same, asking for a checkpoint at this step. */
    public SnapshotOptions withCheckpoint() {
        return new SnapshotOptions(mode, endOfRun, true, metadata, copy);
    }

    /** The same, with the EMA of these tensors their latest weights. */
    public SnapshotOptions withCopy(Collection<String> copy) {
        return new SnapshotOptions(mode, endOfRun, checkpoint, metadata, List.copyOf(copy));
    }

    /** The same, with these metadata. */
    public SnapshotOptions withMetadata(Map<String, String> metadata) {
        return new SnapshotOptions(mode, endOfRun, checkpoint, metadata, copy);
    }
}
