package io.averager.kernel;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;

/**
 * Element-wise EMA arithmetic over little-endian tensor data held in {@link ByteBuffer}s.
 *
 * <p>Contract, for every implementation:
 * <ul>
 *   <li>Element {@code i} of a buffer starts at byte {@code position() + i * dtype.size()},
 *       whatever the buffer's own byte order; heap, direct and read-only {@code x} buffers are
 *       accepted. The caller's positions, limits and byte orders are left as they were, and no
 *       buffer is retained after a call returns.</li>
 *   <li>{@code accumulator} must be {@code input.accumulator()}: F32 for F32, F16 and BF16
 *       inputs, F64 for F64, the input type itself for integer and bool inputs, whose EMA is
 *       their latest value. Anything else is an {@link IllegalArgumentException} naming both
 *       types, as are a read-only {@code ema}, buffers too short for {@code count} elements, a
 *       negative {@code count} and a decay outside [0, 1].</li>
 *   <li>{@code ema} and {@code x} must not overlap.</li>
 * </ul>
 * Stateless implementations are thread-safe; concurrent calls must use disjoint {@code ema}
 * regions.
 */
public interface Kernel {

    /**
     * Writes {@code count} elements of {@code x}, converted exactly from {@code input} to
     * {@code accumulator}, into {@code ema}: the first snapshot, or a {@code SET}, of a tensor.
     */
    void set(ByteBuffer ema, Dtype accumulator, ByteBuffer x, Dtype input, int count);

    /**
     * Updates {@code ema} in place: {@code ema = decay * ema + (1 - decay) * x} for floating
     * inputs, computed as PyTorch computes it on a tensor of the accumulator type with Python
     * float scalars (for F32: {@code (float) decay} and {@code (float) (1 - decay)}, each
     * product and the sum rounded to float, no fused multiply-add). Integer and bool inputs are
     * copied, as by {@link #set}.
     */
    void update(ByteBuffer ema, Dtype accumulator, ByteBuffer x, Dtype input, int count, double decay);

    /**
     * {@link #update(ByteBuffer, Dtype, ByteBuffer, Dtype, int, double)}, also adding to {@code sums}
     * the squared distance of the updated EMA from {@code x} and the squares of {@code x}, for the
     * relative distance the status page charts. This default makes a second pass over both
     * buffers; a kernel that can fold the sums into its update pass overrides it. The EMA written
     * is the same as without sums, bit for bit; the sums, which only feed a chart, may be rounded
     * to within a relative 1e-6 of the exact sums.
     */
    default void update(ByteBuffer ema, Dtype accumulator, ByteBuffer x, Dtype input, int count, double decay,
                        DistanceSums sums) {
        update(ema, accumulator, x, input, count, decay);
        sums.accumulate(ema, accumulator, x, input, count);
    }
}
