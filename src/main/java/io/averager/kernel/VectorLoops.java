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
 * <p>They take heap buffers only, read and written through their arrays, which Java 17 does about
 * a third faster than through the buffers; the service's buffers are all on the heap. The EMA is computed lane by lane as
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
    private static final int STEP = FLOATS.length();
    private static final int DOUBLE_STEP = DOUBLES.length();

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

    /** Whether the vector loops take these buffers: heap buffers with accessible arrays, as the service's are. */
    static boolean takes(ByteBuffer ema, ByteBuffer x) {
        return ema.hasArray() && x.hasArray();
    }

    /** Widens the first {@link #covered(int)} elements of 16-bit {@code x} into float {@code ema}. */
    static void widen(ByteBuffer ema, ByteBuffer x, Dtype input, int count) {
        byte[] e = ema.array();
        int e0 = offset(ema);
        byte[] v = x.array();
        int x0 = offset(x);
        int end = covered(count);
        for (int i = 0; i < end; i += STEP) {
            IntVector bits = halves(v, x0, i);
            FloatVector f = input == Dtype.BF16 ? bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                    : halfToFloat(bits);
            f.intoByteArray(e, e0 + 4 * i, LE);
        }
    }

    /**
     * Updates the first {@link #covered(int)} elements of float {@code ema} from {@code x} with
     * {@code d} and {@code omd}, adding their distance sums to {@code sums} when it is not null.
     */
    static void updateF32(ByteBuffer ema, ByteBuffer x, Dtype input, int count, float d, float omd, DistanceSums sums) {
        byte[] e = ema.array();
        int e0 = offset(ema);
        byte[] v = x.array();
        int x0 = offset(x);
        int end = covered(count);
        if (sums == null) {
            switch (input) {
                case F32 -> f32(e, e0, v, x0, end, d, omd);
                case BF16 -> bf16(e, e0, v, x0, end, d, omd);
                default -> f16(e, e0, v, x0, end, d, omd);
            }
            return;
        }
        double[] group = new double[2];
        for (int from = 0; from < end; from += GROUP) {
            int to = Math.min(end, from + GROUP);
            switch (input) {
                case F32 -> f32Sums(e, e0, v, x0, from, to, d, omd, group);
                case BF16 -> bf16Sums(e, e0, v, x0, from, to, d, omd, group);
                default -> f16Sums(e, e0, v, x0, from, to, d, omd, group);
            }
            if (trusted(group[0]) && trusted(group[1])) {
                sums.addSums(group[0], group[1]);
            } else {
                sums.accumulate(JavaKernel.at(ema, from, Dtype.F32), Dtype.F32, JavaKernel.at(x, from, input), input,
                        to - from);
            }
        }
    }

    // One loop for each input type and each of with and without sums, every vector operation
    // written out in it: C2 keeps vectors in registers only where it sees every use, and a loop
    // that merged vectors from several input types, or called a helper compiled on its own,
    // allocated a vector object per iteration, five times slower.

    private static void f32(byte[] e, int e0, byte[] x, int x0, int end, float d, float omd) {
        for (int i = 0; i < end; i += STEP) {
            FloatVector xi = FloatVector.fromByteArray(FLOATS, x, x0 + 4 * i, LE);
            FloatVector.fromByteArray(FLOATS, e, e0 + 4 * i, LE).mul(d).add(xi.mul(omd)).intoByteArray(e, e0 + 4 * i, LE);
        }
    }

    private static void bf16(byte[] e, int e0, byte[] x, int x0, int end, float d, float omd) {
        for (int i = 0; i < end; i += STEP) {
            FloatVector xi = halves(x, x0, i).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector.fromByteArray(FLOATS, e, e0 + 4 * i, LE).mul(d).add(xi.mul(omd)).intoByteArray(e, e0 + 4 * i, LE);
        }
    }

    private static void f16(byte[] e, int e0, byte[] x, int x0, int end, float d, float omd) {
        for (int i = 0; i < end; i += STEP) {
            FloatVector xi = halfToFloat(halves(x, x0, i));
            FloatVector.fromByteArray(FLOATS, e, e0 + 4 * i, LE).mul(d).add(xi.mul(omd)).intoByteArray(e, e0 + 4 * i, LE);
        }
    }

    // In the sums loops each float lane adds FLUSH squares at most, then the lanes go into double
    // lanes. The flush is written out too: the conversion needs a constant part number.

    private static void f32Sums(byte[] e, int e0, byte[] x, int x0, int from, int to, float d, float omd, double[] out) {
        DoubleVector differences = DoubleVector.zero(WIDE);
        DoubleVector raws = DoubleVector.zero(WIDE);
        for (int i = from; i < to; ) {
            int flushAt = Math.min(to, i + FLUSH * STEP);
            FloatVector fd = FloatVector.zero(FLOATS);
            FloatVector fr = FloatVector.zero(FLOATS);
            for (; i < flushAt; i += STEP) {
                FloatVector xi = FloatVector.fromByteArray(FLOATS, x, x0 + 4 * i, LE);
                FloatVector u = FloatVector.fromByteArray(FLOATS, e, e0 + 4 * i, LE).mul(d).add(xi.mul(omd));
                u.intoByteArray(e, e0 + 4 * i, LE);
                FloatVector a = u.sub(xi);
                fd = a.fma(a, fd);
                fr = xi.fma(xi, fr);
            }
            differences = differences.add(fd.convertShape(VectorOperators.F2D, WIDE, 0))
                    .add(fd.convertShape(VectorOperators.F2D, WIDE, 1));
            raws = raws.add(fr.convertShape(VectorOperators.F2D, WIDE, 0)).add(fr.convertShape(VectorOperators.F2D, WIDE, 1));
        }
        out[0] = differences.reduceLanes(VectorOperators.ADD);
        out[1] = raws.reduceLanes(VectorOperators.ADD);
    }

    private static void bf16Sums(byte[] e, int e0, byte[] x, int x0, int from, int to, float d, float omd, double[] out) {
        DoubleVector differences = DoubleVector.zero(WIDE);
        DoubleVector raws = DoubleVector.zero(WIDE);
        for (int i = from; i < to; ) {
            int flushAt = Math.min(to, i + FLUSH * STEP);
            FloatVector fd = FloatVector.zero(FLOATS);
            FloatVector fr = FloatVector.zero(FLOATS);
            for (; i < flushAt; i += STEP) {
                FloatVector xi = halves(x, x0, i).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                FloatVector u = FloatVector.fromByteArray(FLOATS, e, e0 + 4 * i, LE).mul(d).add(xi.mul(omd));
                u.intoByteArray(e, e0 + 4 * i, LE);
                FloatVector a = u.sub(xi);
                fd = a.fma(a, fd);
                fr = xi.fma(xi, fr);
            }
            differences = differences.add(fd.convertShape(VectorOperators.F2D, WIDE, 0))
                    .add(fd.convertShape(VectorOperators.F2D, WIDE, 1));
            raws = raws.add(fr.convertShape(VectorOperators.F2D, WIDE, 0)).add(fr.convertShape(VectorOperators.F2D, WIDE, 1));
        }
        out[0] = differences.reduceLanes(VectorOperators.ADD);
        out[1] = raws.reduceLanes(VectorOperators.ADD);
    }

    private static void f16Sums(byte[] e, int e0, byte[] x, int x0, int from, int to, float d, float omd, double[] out) {
        DoubleVector differences = DoubleVector.zero(WIDE);
        DoubleVector raws = DoubleVector.zero(WIDE);
        for (int i = from; i < to; ) {
            int flushAt = Math.min(to, i + FLUSH * STEP);
            FloatVector fd = FloatVector.zero(FLOATS);
            FloatVector fr = FloatVector.zero(FLOATS);
            for (; i < flushAt; i += STEP) {
                FloatVector xi = halfToFloat(halves(x, x0, i));
                FloatVector u = FloatVector.fromByteArray(FLOATS, e, e0 + 4 * i, LE).mul(d).add(xi.mul(omd));
                u.intoByteArray(e, e0 + 4 * i, LE);
                FloatVector a = u.sub(xi);
                fd = a.fma(a, fd);
                fr = xi.fma(xi, fr);
            }
            differences = differences.add(fd.convertShape(VectorOperators.F2D, WIDE, 0))
                    .add(fd.convertShape(VectorOperators.F2D, WIDE, 1));
            raws = raws.add(fr.convertShape(VectorOperators.F2D, WIDE, 0)).add(fr.convertShape(VectorOperators.F2D, WIDE, 1));
        }
        out[0] = differences.reduceLanes(VectorOperators.ADD);
        out[1] = raws.reduceLanes(VectorOperators.ADD);
    }

    /**
     * Updates the first {@link #coveredDoubles(int)} elements of double {@code ema} from
     * {@code x}, adding their distance sums to {@code sums} when it is not null.
     */
    static void updateF64(ByteBuffer ema, ByteBuffer x, int count, double decay, double omd, DistanceSums sums) {
        byte[] e = ema.array();
        int e0 = offset(ema);
        byte[] v = x.array();
        int x0 = offset(x);
        int end = coveredDoubles(count);
        if (sums == null) {
            f64(e, e0, v, x0, end, decay, omd);
        } else {
            f64Sums(e, e0, v, x0, end, decay, omd, sums);
        }
    }

    private static void f64(byte[] e, int e0, byte[] x, int x0, int end, double decay, double omd) {
        for (int i = 0; i < end; i += DOUBLE_STEP) {
            DoubleVector xi = DoubleVector.fromByteArray(DOUBLES, x, x0 + 8 * i, LE);
            DoubleVector.fromByteArray(DOUBLES, e, e0 + 8 * i, LE).mul(decay).add(xi.mul(omd))
                    .intoByteArray(e, e0 + 8 * i, LE);
        }
    }

    private static void f64Sums(byte[] e, int e0, byte[] x, int x0, int end, double decay, double omd, DistanceSums sums) {
        DoubleVector differences = DoubleVector.zero(DOUBLES);
        DoubleVector raws = DoubleVector.zero(DOUBLES);
        for (int i = 0; i < end; i += DOUBLE_STEP) {
            DoubleVector xi = DoubleVector.fromByteArray(DOUBLES, x, x0 + 8 * i, LE);
            DoubleVector u = DoubleVector.fromByteArray(DOUBLES, e, e0 + 8 * i, LE).mul(decay).add(xi.mul(omd));
            u.intoByteArray(e, e0 + 8 * i, LE);
            DoubleVector a = u.sub(xi);
            differences = a.fma(a, differences);
            raws = xi.fma(xi, raws);
        }
        sums.addSums(differences.reduceLanes(VectorOperators.ADD), raws.reduceLanes(VectorOperators.ADD));
    }

    /** The 16-bit elements of vector {@code i} (counted in elements), sign-extended to ints. */
    private static IntVector halves(byte[] x, int x0, int i) {
        return (IntVector) ShortVector.fromByteArray(HALVES, x, x0 + 2 * i, LE).convertShape(VectorOperators.S2I, INTS, 0);
    }

    /**
     * {@link Float16#halfToFloat(short)} lane by lane, on sign-extended half bits. A vector of
     * normal halves only, which is what weights almost always are, takes three operations after
     * the test: shifted into a float's place (the sign lands on the float's sign, the extension
     * is masked off) and rebiased by an addition. Otherwise, the exponent is rebiased by adding,
     * twice for infinities and NaN (whose payload moves up with the mantissa); a subnormal
     * {@code m * 2^-24} rebiased that way, and given the exponent of the smallest normal half,
     * reads as {@code 2^-14 + m * 2^-24}, and subtracting {@code 2^-14} from it is exact.
     */
    static FloatVector halfToFloat(IntVector h) {
        IntVector magnitude = h.and(0x7FFF);
        // Exponents 1 to 30: magnitudes 0x400 to 0x7BFF, as one unsigned comparison.
        if (magnitude.sub(0x400).compare(VectorOperators.UNSIGNED_LT, 0x7800).allTrue()) {
            return h.lanewise(VectorOperators.LSHL, 13).and(0x8FFF_E000).add(112 << 23).reinterpretAsFloats();
        }
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

    /** Where element 0 of a heap buffer lies in its array. */
    private static int offset(ByteBuffer b) {
        return b.arrayOffset() + b.position();
    }
}
