package io.averager.topology;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Little-endian tensor bytes for snapshots, and the expected EMA, written out independently of
 * the kernels: F32 as PyTorch computes it with Python float scalars ({@code d} and {@code 1 - d}
 * each rounded to float, every product and the sum rounded to float), F64 in double.
 */
public final class TensorData {

    private TensorData() {
    }

    public static byte[] f32(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }

    public static byte[] f64(double... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            b.putDouble(v);
        }
        return b.array();
    }

    public static byte[] i64(long... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            b.putLong(v);
        }
        return b.array();
    }

    /** The bfloat16 bits of floats that bfloat16 holds exactly: a float's upper half. */
    public static byte[] bf16(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            int bits = Float.floatToIntBits(v);
            if ((bits & 0xffff) != 0) {
                throw new IllegalArgumentException(v + " is not exactly a bfloat16");
            }
            b.putShort((short) (bits >>> 16));
        }
        return b.array();
    }

    public static float[] readF32(ByteBuffer data) {
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.getFloat(b.position() + 4 * i);
        }
        return out;
    }

    public static double[] readF64(ByteBuffer data) {
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        double[] out = new double[b.remaining() / 8];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.getDouble(b.position() + 8 * i);
        }
        return out;
    }

    public static long[] readI64(ByteBuffer data) {
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        long[] out = new long[b.remaining() / 8];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.getLong(b.position() + 8 * i);
        }
        return out;
    }

    /** {@code decay * ema + (1 - decay) * x} in float32. */
    public static float[] emaF32(double decay, float[] ema, float[] x) {
        float d = (float) decay;
        float omd = (float) (1.0 - decay);
        float[] out = new float[ema.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = d * ema[i] + omd * x[i];
        }
        return out;
    }

    /** {@code decay * ema + (1 - decay) * x} in float64. */
    public static double[] emaF64(double decay, double[] ema, double[] x) {
        double[] out = new double[ema.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = decay * ema[i] + (1.0 - decay) * x[i];
        }
        return out;
    }
}
