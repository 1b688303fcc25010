package io.averager.kernel;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link JavaKernel}'s loops in the Vector API: each vector is read from the buffers where it
 * lies and written back there, with no scratch copies; the elements after the last whole vector
 * are left to the caller's scalar loops. With {@link VectorScan}, the only class that names
 * incubator types, loaded only when the module {@code jdk.incubator.vector} is in the boot layer.
 * Stateless and thread-safe.
 *
 * <p>Heap buffers are read and written through their arrays. The EMA is computed lane by lane as
 * the scalar loops compute it, a multiplication and an addition each rounded (never fused), so the
 * results are the same bit for bit. The distance sums follow {@link LaneSums}: a difference is
 * rounded to float, then every float lane adds at most {@link #FLUSH} squares, each with one fused
 * multiply-add and so one rounding, before the lanes are added into double lanes. Every term is
 * non-negative, so the sums stay within a relative {@code (FLUSH + 1) u < 6e-7} of the exact ones
 * ({@code u = 2^-24}), inside {@link LaneSums}' documented bound; a group of {@link #GROUP}
 * elements whose float sums are not finite or are below {@code 2^-100} is summed again from the
 * buffers in double. Double inputs are summed in double lanes.
 */
final class VectorLoops {

    static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    // Half as wide as the floats: as many lanes, which widen into a whole float vector.
    private static final VectorSpecies<Short> HALVES =
            VectorSpecies.of(short.class, VectorShape.forBitSize(FLOATS.vectorBitSize() / 2));
    // The double lanes of one float vector's two halves.
    private static final VectorSpecies<Double> WIDE =
            VectorSpecies.of(double.class, VectorShape.forBitSize(FLOATS.vectorBitSize()));
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** Float squares a lane adds before they are added into double: the error bound grows with it. */
    static final int FLUSH = 8;

    /** Elements whose sums are trusted, or summed again, together. */
    static final int GROUP = 8192;

    private static final double SMALLEST_TRUSTED = 0x1p-100;

    private VectorLoops() {
    }

    /** Bits of the float vectors the loops use. */
    static int bits() {
        return FLOATS.vectorBitSize();
    }

    /** Elements of {@code count} the vector loops cover: the rest are the caller's. */
    static int covered(int count) {
        return FLOATS.loopBound(count);
    }

    /** Elements of {@code count} the double loops cover. */
    static int coveredDoubles(int count) {
        return DOUBLES.loopBound(count);
    }

    /** Widens the first {@link #covered(int)} elements of 16-bit {@code x} into float {@code ema}. */
    static void widen(ByteBuffer ema, ByteBuffer x, Dtype input, int count) {
        Bytes e = new Bytes(ema);
        Bytes v = new Bytes(x);
        int end = covered(count);
        for (int i = 0; i < end; i += FLOATS.length()) {
            store(load(v, input, i), e, i);
        }
    }

    /**
     * Updates the first {@link #covered(int)} elements of float {@code ema} from {@code x} with
     * {@code d} and {@code omd}, adding their distance sums to {@code sums} when it is not null.
     */
    static void updateF32(ByteBuffer ema, ByteBuffer x, Dtype input, int count, float d, float omd, DistanceSums sums) {
        Bytes e = new Bytes(ema);
        Bytes v = new Bytes(x);
        int end = covered(count);
        if (sums == null) {
            for (int i = 0; i < end; i += FLOATS.length()) {
                store(loadFloats(e, i).mul(d).add(load(v, input, i).mul(omd)), e, i);
            }
            return;
        }
        for (int from = 0; from < end; from += GROUP) {
            int to = Math.min(end, from + GROUP);
            double[] group = blendAndSum(e, v, input, from, to, d, omd);
            if (trusted(group[0]) && trusted(group[1])) {
                sums.addSums(group[0], group[1]);
            } else {
                sums.accumulate(at(ema, from, Dtype.F32), Dtype.F32, at(x, from, input), input, to - from);
            }
        }
    }

    // Each float lane adds FLUSH squares at most, then the lanes go into double lanes.
    private static double[] blendAndSum(Bytes e, Bytes v, Dtype input, int from, int to, float d, float omd) {
        DoubleVector differences = DoubleVector.zero(WIDE);
        DoubleVector raws = DoubleVector.zero(WIDE);
        int step = FLOATS.length();
        for (int i = from; i < to; ) {
            int flushAt = Math.min(to, i + FLUSH * step);
            FloatVector fd = FloatVector.zero(FLOATS);
            FloatVector fr = FloatVector.zero(FLOATS);
            for (; i < flushAt; i += step) {
                FloatVector xi = load(v, input, i);
                FloatVector u = loadFloats(e, i).mul(d).add(xi.mul(omd));
                store(u, e, i);
                FloatVector a = u.sub(xi);
                // Fused: the sums need not equal any other kernel's, and one rounding beats two.
                fd = a.fma(a, fd);
                fr = xi.fma(xi, fr);
            }
            // Written out rather than in a method: compiled on its own, it would not be inlined
            // here, and every flush would allocate its vectors.
            differences = differences.add(fd.convertShape(VectorOperators.F2D, WIDE, 0))
                    .add(fd.convertShape(VectorOperators.F2D, WIDE, 1));
            raws = raws.add(fr.convertShape(VectorOperators.F2D, WIDE, 0))
                    .add(fr.convertShape(VectorOperators.F2D, WIDE, 1));
        }
        return new double[] {differences.reduceLanes(VectorOperators.ADD), raws.reduceLanes(VectorOperators.ADD)};
    }

    /**
     * Updates the first {@link #coveredDoubles(int)} elements of double {@code ema} from
     * {@code x}, adding their distance sums to {@code sums} when it is not null.
     */
    static void updateF64(ByteBuffer ema, ByteBuffer x, int count, double decay, double omd, DistanceSums sums) {
        Bytes e = new Bytes(ema);
        Bytes v = new Bytes(x);
        int end = coveredDoubles(count);
        int step = DOUBLES.length();
        if (sums == null) {
            for (int i = 0; i < end; i += step) {
                store(loadDoubles(e, i).mul(decay).add(loadDoubles(v, i).mul(omd)), e, i);
            }
            return;
        }
        DoubleVector differences = DoubleVector.zero(DOUBLES);
        DoubleVector raws = DoubleVector.zero(DOUBLES);
        for (int i = 0; i < end; i += step) {
            DoubleVector xi = loadDoubles(v, i);
            DoubleVector u = loadDoubles(e, i).mul(decay).add(xi.mul(omd));
            store(u, e, i);
            DoubleVector a = u.sub(xi);
            differences = a.fma(a, differences);
            raws = xi.fma(xi, raws);
        }
        sums.addSums(differences.reduceLanes(VectorOperators.ADD), raws.reduceLanes(VectorOperators.ADD));
    }

    /** Float vector {@code i} (counted in elements) of {@code x}, widened exactly from {@code input}. */
    private static FloatVector load(Bytes x, Dtype input, int i) {
        if (input == Dtype.F32) {
            return loadFloats(x, i);
        }
        int at = x.base + 2 * i;
        ShortVector halves = x.array != null ? ShortVector.fromByteArray(HALVES, x.array, at, LE)
                : ShortVector.fromByteBuffer(HALVES, x.buffer, at, LE);
        IntVector bits = (IntVector) halves.convertShape(VectorOperators.S2I, INTS, 0);
        return input == Dtype.BF16 ? bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats() : halfToFloat(bits);
    }

    private static FloatVector loadFloats(Bytes x, int i) {
        int at = x.base + 4 * i;
        return x.array != null ? FloatVector.fromByteArray(FLOATS, x.array, at, LE)
                : FloatVector.fromByteBuffer(FLOATS, x.buffer, at, LE);
    }

    private static void store(FloatVector v, Bytes e, int i) {
        int at = e.base + 4 * i;
        if (e.array != null) {
            v.intoByteArray(e.array, at, LE);
        } else {
            v.intoByteBuffer(e.buffer, at, LE);
        }
    }

    private static DoubleVector loadDoubles(Bytes x, int i) {
        int at = x.base + 8 * i;
        return x.array != null ? DoubleVector.fromByteArray(DOUBLES, x.array, at, LE)
                : DoubleVector.fromByteBuffer(DOUBLES, x.buffer, at, LE);
    }

    private static void store(DoubleVector v, Bytes e, int i) {
        int at = e.base + 8 * i;
        if (e.array != null) {
            v.intoByteArray(e.array, at, LE);
        } else {
            v.intoByteBuffer(e.buffer, at, LE);
        }
    }

    /**
     * {@link Float16#halfToFloat(short)} lane by lane, on sign-extended half bits. The exponent is
     * rebiased by adding, twice for infinities and NaN (whose payload moves up with the mantissa).
     * A subnormal {@code m * 2^-24} rebiased that way, and given the exponent of the smallest
     * normal half, reads as {@code 2^-14 + m * 2^-24}; subtracting {@code 2^-14} from it is exact.
     */
    static FloatVector halfToFloat(IntVector h) {
        IntVector magnitude = h.and(0x7FFF);
        IntVector bits = magnitude.lanewise(VectorOperators.LSHL, 13).add(112 << 23);
        bits = bits.blend(bits.add(112 << 23), magnitude.compare(VectorOperators.GE, 0x7C00));
        IntVector subnormal = bits.add(1 << 23).reinterpretAsFloats().sub(0x1p-14f).reinterpretAsInts();
        bits = bits.blend(subnormal, magnitude.compare(VectorOperators.LT, 0x400));
        // Sign-extended: the sign is already in the top bit.
        return bits.or(h.and(0x8000_0000)).reinterpretAsFloats();
    }

    private static boolean trusted(double sum) {
        return sum >= SMALLEST_TRUSTED && sum < Double.POSITIVE_INFINITY;
    }

    /** {@code b} from element {@code i} of {@code dtype} on, as the kernel contract lays elements out. */
    private static ByteBuffer at(ByteBuffer b, int i, Dtype dtype) {
        ByteBuffer d = b.duplicate();
        return d.position(d.position() + i * dtype.size());
    }

    /**
     * Where a buffer's elements lie: its backing array from the buffer's position, which Java 17
     * reads and writes about a third faster than the buffer itself, or else (direct and read-only
     * buffers) the buffer, at absolute indexes.
     */
    private static final class Bytes {
        final byte[] array;
        final ByteBuffer buffer;
        final int base;

        Bytes(ByteBuffer b) {
            array = b.hasArray() ? b.array() : null;
            buffer = array != null ? null : b;
            base = array != null ? b.arrayOffset() + b.position() : b.position();
        }
    }
}
