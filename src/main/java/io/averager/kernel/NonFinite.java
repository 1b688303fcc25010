package io.averager.kernel;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Finds NaN and infinite elements in little-endian tensor data, by their bits: an element is
 * non-finite when its exponent field is all ones. Pure and thread-safe; reads the buffer's
 * remaining bytes without moving it.
 */
public final class NonFinite {

    private NonFinite() {
    }

    /**
     * The index of the first NaN or infinite element among the first {@code count} elements of
     * {@code x} (counted from its position), or -1 if all are finite. Integer and bool data have
     * no non-finite values: always -1.
     *
     * @throws IllegalArgumentException if {@code x} holds fewer than {@code count} elements
     */
    public static int firstIndex(ByteBuffer x, Dtype dtype, int count) {
        if (count < 0 || (long) count * dtype.size() > x.remaining()) {
            throw new IllegalArgumentException(count + " " + dtype + " elements do not fit in " + x.remaining() + " bytes");
        }
        ByteBuffer b = x.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int at = b.position();
        switch (dtype) {
            case F32:
                for (int i = 0; i < count; i++) {
                    if ((b.getInt(at + 4 * i) & 0x7F80_0000) == 0x7F80_0000) {
                        return i;
                    }
                }
                return -1;
            case F64:
                for (int i = 0; i < count; i++) {
                    if ((b.getLong(at + 8 * i) & 0x7FF0_0000_0000_0000L) == 0x7FF0_0000_0000_0000L) {
                        return i;
                    }
                }
                return -1;
            case F16:
                return firstAllOnes(b, at, count, 0x7C00);
            case BF16:
                return firstAllOnes(b, at, count, 0x7F80);
            default:
                return -1;
        }
    }

    /** What element {@code i} of {@code x} is: "NaN", "+Inf" or "-Inf" (for a non-finite element). */
    public static String describe(ByteBuffer x, Dtype dtype, int i) {
        ByteBuffer b = x.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int at = b.position() + i * dtype.size();
        double v = switch (dtype) {
            case F32 -> b.getFloat(at);
            case F64 -> b.getDouble(at);
            case F16 -> Float16.halfToFloat(b.getShort(at));
            case BF16 -> Float16.bf16ToFloat(b.getShort(at));
            default -> throw new IllegalArgumentException(dtype + " has no non-finite values");
        };
        return Double.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : v < 0 ? "-Inf" : Double.toString(v);
    }

    private static int firstAllOnes(ByteBuffer b, int at, int count, int exponentMask) {
        for (int i = 0; i < count; i++) {
            if ((b.getShort(at + 2 * i) & exponentMask) == exponentMask) {
                return i;
            }
        }
        return -1;
    }
}
