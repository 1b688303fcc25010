package io.averager.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

/**
 * Little-endian tensor data for kernel tests, written and read independently of the kernels,
 * and the places a caller's buffer may sit: heap or direct, at position 0 or past guard bytes,
 * a slice with a non-zero array offset, read-only.
 */
final class TensorBuffers {

    static final byte GUARD = 0x5A;

    /** Where the data of a buffer handed to a kernel sits. */
    enum Placement {
        HEAP(false, 0, false),
        HEAP_AT_POSITION_3(false, 3, false),
        HEAP_SLICE(false, 0, true),
        DIRECT(true, 0, false),
        DIRECT_AT_POSITION_5(true, 5, false);

        private final boolean direct;
        private final int position;
        private final boolean slice;

        Placement(boolean direct, int position, boolean slice) {
            this.direct = direct;
            this.position = position;
            this.slice = slice;
        }

        /**
         * A buffer whose bytes from its position are {@code data}, with guard bytes before and
         * after, and a limit past the data so a kernel that overruns is caught.
         */
        ByteBuffer holding(byte[] data) {
            int lead = slice ? 7 : position;
            int size = lead + data.length + 9;
            ByteBuffer b = direct ? ByteBuffer.allocateDirect(size) : ByteBuffer.allocate(size);
            for (int i = 0; i < size; i++) {
                b.put(i, GUARD);
            }
            b.put(lead, data);
            b.position(lead);
            return slice ? b.slice() : b;
        }
    }

    private TensorBuffers() {
    }

    static byte[] f32(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }

    static byte[] f64(double... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            b.putDouble(v);
        }
        return b.array();
    }

    static byte[] bits16(short... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (short v : values) {
            b.putShort(v);
        }
        return b.array();
    }

    /** {@code count} floats read from the buffer's position, leaving the buffer as it was. */
    static float[] readF32(ByteBuffer b, int count) {
        float[] out = new float[count];
        for (int i = 0; i < count; i++) {
            out[i] = Float.intBitsToFloat(readInt(b, b.position() + 4 * i));
        }
        return out;
    }

    static double[] readF64(ByteBuffer b, int count) {
        double[] out = new double[count];
        for (int i = 0; i < count; i++) {
            long lo = readInt(b, b.position() + 8 * i) & 0xffffffffL;
            long hi = readInt(b, b.position() + 8 * i + 4);
            out[i] = Double.longBitsToDouble(hi << 32 | lo);
        }
        return out;
    }

    static byte[] readBytes(ByteBuffer b, int from, int count) {
        byte[] out = new byte[count];
        for (int i = 0; i < count; i++) {
            out[i] = b.get(from + i);
        }
        return out;
    }

    /** Whether every byte outside [position, position + length) still holds the guard. */
    static boolean guardsIntact(ByteBuffer b, int length) {
        for (int i = 0; i < b.capacity(); i++) {
            boolean inside = i >= b.position() && i < b.position() + length;
            if (!inside && b.get(i) != GUARD) {
                return false;
            }
        }
        return true;
    }

    /**
     * The value of a half, from the IEEE 754 definition rather than bit manipulation:
     * {@code m * 2^-24} for subnormals, {@code (1024 + m) * 2^(e - 25)} for normals.
     */
    static float halfValue(short bits) {
        int e = (bits >>> 10) & 0x1f;
        int m = bits & 0x3ff;
        double sign = (bits & 0x8000) != 0 ? -1 : 1;
        if (e == 0x1f) {
            return m == 0 ? (float) (sign * Double.POSITIVE_INFINITY) : Float.NaN;
        }
        double magnitude = e == 0 ? Math.scalb((double) m, -24) : Math.scalb(1024.0 + m, e - 25);
        return (float) (sign * magnitude);
    }

    /** Random finite halves, as bits, uniformly over the bit patterns. */
    static short[] randomFiniteHalves(Random random, int count) {
        short[] out = new short[count];
        for (int i = 0; i < count; i++) {
            short h;
            do {
                h = (short) random.nextInt(1 << 16);
            } while (((h >>> 10) & 0x1f) == 0x1f);
            out[i] = h;
        }
        return out;
    }

    static float[] randomFloats(Random random, int count) {
        float[] out = new float[count];
        for (int i = 0; i < count; i++) {
            out[i] = (float) random.nextGaussian();
        }
        return out;
    }

    static float[] filled(int count, float value) {
        float[] out = new float[count];
        Arrays.fill(out, value);
        return out;
    }

    static short[] filled(int count, short value) {
        short[] out = new short[count];
        Arrays.fill(out, value);
        return out;
    }

    private static int readInt(ByteBuffer b, int at) {
        return (b.get(at) & 0xff) | (b.get(at + 1) & 0xff) << 8 | (b.get(at + 2) & 0xff) << 16 | b.get(at + 3) << 24;
    }
}
