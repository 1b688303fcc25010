package io.averager.store;

import io.averager.wire.avro.RunLayout;
import io.averager.wire.avro.RunProgress;

/**
 * A run's state as the stores keep it, in two parts that change at different rates: its tensor
 * layout, set by its first snapshot and by each {@code SET}, and its progress, which changes with
 * every record applied. The records are Avro's and mutable: the snapshot lifecycle updates them in
 * place and says which part to write back.
 */
public record Run(RunLayout layout, RunProgress progress) {
}
