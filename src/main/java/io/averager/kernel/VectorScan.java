package io.averager.kernel;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link NonFinite}'s scan in the Vector API: each vector of element bits is read where it lies
 * and its exponent fields compared with all ones; the first vector with a match gives the index
 * directly. Loaded only when {@link JavaKernel#VECTORS} holds. Stateless and thread-safe.
 */
final class VectorScan {

    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> SHORTS = ShortVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private VectorScan() {
    }

    /**
     * The index of the first element, among the whole vectors of the first {@code count} from
     * {@code b}'s position, whose exponent field is all ones; or, if none is, the index where the
     * vectors end, from which the caller searches the rest.
     */
    static int firstIndex(ByteBuffer b, Dtype dtype, int count) {
        int at = b.position();
        switch (dtype) {
            case F32: {
                int end = INTS.loopBound(count);
                for (int i = 0; i < end; i += INTS.length()) {
                    VectorMask<Integer> m = IntVector.fromByteBuffer(INTS, b, at + 4 * i, LE).and(0x7F80_0000)
                            .compare(VectorOperators.EQ, 0x7F80_0000);
                    if (m.anyTrue()) {
                        return i + m.firstTrue();
                    }
                }
                return end;
            }
            case F64: {
                int end = LONGS.loopBound(count);
                for (int i = 0; i < end; i += LONGS.length()) {
                    VectorMask<Long> m = LongVector.fromByteBuffer(LONGS, b, at + 8 * i, LE).and(0x7FF0_0000_0000_0000L)
                            .compare(VectorOperators.EQ, 0x7FF0_0000_0000_0000L);
                    if (m.anyTrue()) {
                        return i + m.firstTrue();
                    }
                }
                return end;
            }
            default:
                return halves(b, at, count, dtype == Dtype.F16 ? (short) 0x7C00 : (short) 0x7F80);
        }
    }

    private static int halves(ByteBuffer b, int at, int count, short exponent) {
        int end = SHORTS.loopBound(count);
        for (int i = 0; i < end; i += SHORTS.length()) {
            VectorMask<Short> m = ShortVector.fromByteBuffer(SHORTS, b, at + 2 * i, LE).and(exponent)
                    .compare(VectorOperators.EQ, exponent);
            if (m.anyTrue()) {
                return i + m.firstTrue();
            }
        }
        return end;
    }
}
