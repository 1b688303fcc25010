package io.averager.kernel;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link NonFinite}'s scan in the Vector API, reading each vector of element bits where it lies
 * (through the heap array when there is one). Loaded only when {@link JavaKernel#VECTORS} holds.
 * Stateless and thread-safe.
 *
 * <p>An exponent field is all ones exactly when adding its lowest bit carries out of it into the
 * sign bit above; the sums of {@link #UNROLL} vectors are OR-ed and their sign bits tested once,
 * so a test and a branch cover {@link #UNROLL} vectors.
 */
final class VectorScan {

    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> SHORTS = ShortVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int UNROLL = 4;

    private VectorScan() {
    }

    /**
     * Where the element-by-element search for the first non-finite element among the first
     * {@code count} from {@code b}'s position must start: the first of {@link #UNROLL} vectors
     * that hold one, or where the whole groups of vectors end.
     */
    static int suspect(ByteBuffer b, Dtype dtype, int count) {
        byte[] array = b.hasArray() ? b.array() : null;
        int at = array != null ? b.arrayOffset() + b.position() : b.position();
        switch (dtype) {
            case F32:
                return ints(array, b, at, count);
            case F64:
                return longs(array, b, at, count);
            case F16:
                return shorts(array, b, at, count, (short) 0x7C00, (short) 0x0400);
            default:
                return shorts(array, b, at, count, (short) 0x7F80, (short) 0x0080);
        }
    }

    private static int ints(byte[] array, ByteBuffer b, int at, int count) {
        int step = INTS.length();
        int end = count - count % (UNROLL * step);
        for (int i = 0; i < end; i += UNROLL * step) {
            IntVector any = carry(array, b, at + 4 * i)
                    .or(carry(array, b, at + 4 * (i + step)))
                    .or(carry(array, b, at + 4 * (i + 2 * step)))
                    .or(carry(array, b, at + 4 * (i + 3 * step)));
            if (any.compare(VectorOperators.LT, 0).anyTrue()) {
                return i;
            }
        }
        return end;
    }

    private static IntVector carry(byte[] array, ByteBuffer b, int at) {
        IntVector v = array != null ? IntVector.fromByteArray(INTS, array, at, LE) : IntVector.fromByteBuffer(INTS, b, at, LE);
        return v.and(0x7F80_0000).add(0x0080_0000);
    }

    private static int longs(byte[] array, ByteBuffer b, int at, int count) {
        int step = LONGS.length();
        int end = count - count % (UNROLL * step);
        for (int i = 0; i < end; i += UNROLL * step) {
            LongVector any = carry64(array, b, at + 8 * i)
                    .or(carry64(array, b, at + 8 * (i + step)))
                    .or(carry64(array, b, at + 8 * (i + 2 * step)))
                    .or(carry64(array, b, at + 8 * (i + 3 * step)));
            if (any.compare(VectorOperators.LT, 0).anyTrue()) {
                return i;
            }
        }
        return end;
    }

    private static LongVector carry64(byte[] array, ByteBuffer b, int at) {
        LongVector v = array != null ? LongVector.fromByteArray(LONGS, array, at, LE)
                : LongVector.fromByteBuffer(LONGS, b, at, LE);
        return v.and(0x7FF0_0000_0000_0000L).add(0x0010_0000_0000_0000L);
    }

    private static int shorts(byte[] array, ByteBuffer b, int at, int count, short exponent, short lowest) {
        int step = SHORTS.length();
        int end = count - count % (UNROLL * step);
        for (int i = 0; i < end; i += UNROLL * step) {
            ShortVector any = carry16(array, b, at + 2 * i, exponent, lowest)
                    .or(carry16(array, b, at + 2 * (i + step), exponent, lowest))
                    .or(carry16(array, b, at + 2 * (i + 2 * step), exponent, lowest))
                    .or(carry16(array, b, at + 2 * (i + 3 * step), exponent, lowest));
            if (any.compare(VectorOperators.LT, (short) 0).anyTrue()) {
                return i;
            }
        }
        return end;
    }

    private static ShortVector carry16(byte[] array, ByteBuffer b, int at, short exponent, short lowest) {
        ShortVector v = array != null ? ShortVector.fromByteArray(SHORTS, array, at, LE)
                : ShortVector.fromByteBuffer(SHORTS, b, at, LE);
        return v.and(exponent).add(lowest);
    }
}
