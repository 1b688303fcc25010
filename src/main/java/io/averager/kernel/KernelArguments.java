package io.averager.kernel;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.util.Objects;

/** Checks of the {@link Kernel} contract's preconditions, shared by every implementation. */
final class KernelArguments {

    private KernelArguments() {
    }

    static void check(ByteBuffer ema, Dtype accumulator, ByteBuffer x, Dtype input, int count) {
        Objects.requireNonNull(ema, "ema buffer must not be null");
        Objects.requireNonNull(accumulator, "accumulator dtype must not be null");
        Objects.requireNonNull(x, "input buffer must not be null");
        Objects.requireNonNull(input, "input dtype must not be null");
        if (accumulator != input.accumulator()) {
            throw new IllegalArgumentException(String.format(
                    "Cannot accumulate %s input in %s; expected accumulator %s", input, accumulator,
                    input.accumulator()));
        }
        if (count < 0) {
            throw new IllegalArgumentException("Element count is " + count + "; expected >= 0");
        }
        if (ema.isReadOnly()) {
            throw new IllegalArgumentException("EMA buffer is read-only; expected a writable buffer");
        }
        checkRoom("EMA", ema, accumulator, count);
        checkRoom("Input", x, input, count);
    }

    static void checkDecay(double decay) {
        if (!(decay >= 0 && decay <= 1)) {
            throw new IllegalArgumentException("Decay is " + decay + "; expected a number in [0, 1]");
        }
    }

    private static void checkRoom(String which, ByteBuffer buffer, Dtype dtype, int count) {
        long needed = (long) count * dtype.size();
        if (buffer.remaining() < needed) {
            throw new IllegalArgumentException(String.format(
                    "%s buffer has %d bytes after its position; %d %s elements need %d",
                    which, buffer.remaining(), count, dtype, needed));
        }
    }
}
