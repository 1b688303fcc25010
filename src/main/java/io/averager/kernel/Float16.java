package io.averager.kernel;

/**
 * Exact widening of IEEE 754 half-precision and bfloat16 values to float. Java 17 has no
 * {@code Float.float16ToFloat}; every half and every bfloat16 is exactly a float.
 */
final class Float16 {

    // Every half's float bits: a table lookup has no branches on the exponent, which keeps the
    // widening loop as fast as the memory it reads. 256 KiB, filled from halfToFloat itself.
    private static final int[] HALF_BITS = new int[1 << 16];

    static {
        for (int h = 0; h < HALF_BITS.length; h++) {
            HALF_BITS[h] = Float.floatToRawIntBits(halfToFloat((short) h));
        }
    }

    private Float16() {
    }

    /** Equal to {@link #halfToFloat(short)}, bit for bit, NaN payloads included. */
    static float halfToFloatByTable(short bits) {
        return Float.intBitsToFloat(HALF_BITS[bits & 0xffff]);
    }

    /** The float equal to the half with these bits; NaN payloads and signed zeros are kept. */
    static float halfToFloat(short bits) {
        int h = bits & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1f;
        int mantissa = h & 0x3ff;
        if (exponent == 0) {
            // Half subnormals are normal floats; scaling by a power of two is exact.
            float magnitude = mantissa * 0x1p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        if (exponent == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
        }
        // Rebias the exponent from 15 to 127.
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }

    /** The float equal to the bfloat16 with these bits: bfloat16 is a float's upper half. */
    static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }
}
