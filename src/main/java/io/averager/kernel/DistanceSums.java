package io.averager.kernel;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

/**
 * Running sums for the relative L2 distance of an EMA from the raw weights it was last updated
 * with: {@code sqrt(sum((ema - x)^2) / sum(x^2))}, summed in double over the floating elements of
 * any number of updates. Integer and bool tensors add nothing: their EMA is their latest value.
 * Mutable and not thread-safe; one instance per snapshot and profile.
 */
public final class DistanceSums {

    private double differenceSquares;
    private double rawSquares;

    /** Empty sums. */
    public DistanceSums() {
    }

    /** Sums resumed from stored values. */
    public DistanceSums(double differenceSquares, double rawSquares) {
        this.differenceSquares = differenceSquares;
        this.rawSquares = rawSquares;
    }

    /** Adds one element pair's contribution: the updated EMA value and the raw value. */
    void add(double difference, double raw) {
        differenceSquares += difference * difference;
        rawSquares += raw * raw;
    }

    /** Adds precomputed partial sums, such as one block's. */
    void addSums(double differences, double raws) {
        differenceSquares += differences;
        rawSquares += raws;
    }

    /**
     * Adds {@code count} elements of an updated {@code ema} (in {@code accumulator}) against the
     * raw {@code x} (in {@code input}), laid out as {@link Kernel} describes; reads only, and leaves
     * both buffers' positions as they were. A second pass over memory: kernels that can fold it
     * into the update do so in {@link Kernel#update(ByteBuffer, Dtype, ByteBuffer, Dtype, int, double, DistanceSums)}.
     */
    public void accumulate(ByteBuffer ema, Dtype accumulator, ByteBuffer x, Dtype input, int count) {
        if (accumulator != input.accumulator() || count < 0
                || ema.remaining() < (long) count * accumulator.size() || x.remaining() < (long) count * input.size()) {
            throw new IllegalArgumentException(String.format(
                    "Cannot sum %d %s elements against %s input: expected accumulator %s and buffers of %d and %d bytes,"
                            + " got %d and %d", count, accumulator, input, input.accumulator(),
                    (long) count * accumulator.size(), (long) count * input.size(), ema.remaining(), x.remaining()));
        }
        if (!input.floating()) {
            return;
        }
        if (accumulator == Dtype.F64) {
            DoubleBuffer e = ema.duplicate().order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer();
            DoubleBuffer xd = x.duplicate().order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer();
            for (int i = 0; i < count; i++) {
                double raw = xd.get(i);
                add(e.get(i) - raw, raw);
            }
            return;
        }
        FloatBuffer e = ema.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        if (input == Dtype.F32) {
            FloatBuffer xf = x.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            for (int i = 0; i < count; i++) {
                double raw = xf.get(i);
                add(e.get(i) - raw, raw);
            }
            return;
        }
        ShortBuffer xs = x.duplicate().order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
        for (int i = 0; i < count; i++) {
            double raw = input == Dtype.BF16 ? Float16.bf16ToFloat(xs.get(i)) : Float16.halfToFloatByTable(xs.get(i));
            add(e.get(i) - raw, raw);
        }
    }

    /** Sum over elements of (ema - x)^2. */
    public double differenceSquares() {
        return differenceSquares;
    }

    /** Sum over elements of x^2. */
    public double rawSquares() {
        return rawSquares;
    }

    /** {@code ||ema - x|| / ||x||}; 0 when nothing was summed, infinite when x is all zeros but the EMA is not. */
    public double relative() {
        if (rawSquares == 0) {
            return differenceSquares == 0 ? 0 : Double.POSITIVE_INFINITY;
        }
        return Math.sqrt(differenceSquares / rawSquares);
    }
}
