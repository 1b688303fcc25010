package io.averager.kernel;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link NonFinite}'s scan in the Vector API, reading each vector of element bits where it lies,
 * in a heap buffer's array. Loaded only when {@link JavaKernel#VECTORS} holds.
 * Stateless and thread-safe.
 *
 * <p>An exponent field is all ones exactly when adding its lowest bit carries out of it into the
 * bit above (the sign bit); the sums of {@link #UNROLL} vectors are OR-ed and their sign bits tested once,
 * so a test and a branch cover {@link #UNROLL} vectors.
 */
final class VectorScan {

    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int UNROLL = 4;

    private VectorScan() {
    }

    /** Whether the vector scan takes this buffer: a heap buffer with an accessible array, as the service's are. */
    static boolean takes(ByteBuffer b) {
        return b.hasArray();
    }

    /**
     * Where the element-by-element search for the first non-finite element among the first
     * {@code count} from {@code b}'s position must start: the first of {@link #UNROLL} vectors
     * that hold one, or where the whole groups of vectors end.
     */
    static int suspect(ByteBuffer b, Dtype dtype, int count) {
        byte[] array = b.array();
        int at = b.arrayOffset() + b.position();
        // Half-precision elements are tested two at a time, as the halves of an int, by the same
        // loop as float32: one compiled loop for three types, whichever comes first.
        switch (dtype) {
            case F32:
                return ints(array, at, count, 0x7F80_0000, 0x0080_0000);
            case F64:
                return longs(array, at, count);
            case F16:
                return 2 * ints(array, at, count / 2, 0x7C00_7C00, 0x0400_0400);
            default:
                return 2 * ints(array, at, count / 2, 0x7F80_7F80, 0x0080_0080);
        }
    }

    // Every load written out in its loop, which C2 then keeps in registers; see VectorLoops.

    private static int ints(byte[] x, int at, int count, int mask, int lowest) {
        int step = INTS.length();
        int end = count - count % (UNROLL * step);
        int carries = mask + lowest;
        for (int i = 0; i < end; i += UNROLL * step) {
            int o = at + 4 * i;
            IntVector any = IntVector.fromByteArray(INTS, x, o, LE).and(mask).add(lowest)
                    .or(IntVector.fromByteArray(INTS, x, o + 4 * step, LE).and(mask).add(lowest))
                    .or(IntVector.fromByteArray(INTS, x, o + 8 * step, LE).and(mask).add(lowest))
                    .or(IntVector.fromByteArray(INTS, x, o + 12 * step, LE).and(mask).add(lowest));
            if (any.and(carries).compare(VectorOperators.NE, 0).anyTrue()) {
                return i;
            }
        }
        return end;
    }

    private static int longs(byte[] x, int at, int count) {
        int step = LONGS.length();
        int end = count - count % (UNROLL * step);
        long mask = 0x7FF0_0000_0000_0000L;
        long lowest = 0x0010_0000_0000_0000L;
        for (int i = 0; i < end; i += UNROLL * step) {
            int o = at + 8 * i;
            LongVector any = LongVector.fromByteArray(LONGS, x, o, LE).and(mask).add(lowest)
                    .or(LongVector.fromByteArray(LONGS, x, o + 8 * step, LE).and(mask).add(lowest))
                    .or(LongVector.fromByteArray(LONGS, x, o + 16 * step, LE).and(mask).add(lowest))
                    .or(LongVector.fromByteArray(LONGS, x, o + 24 * step, LE).and(mask).add(lowest));
            if (any.compare(VectorOperators.LT, 0).anyTrue()) {
                return i;
            }
        }
        return end;
    }
}
