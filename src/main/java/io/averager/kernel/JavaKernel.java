package io.averager.kernel;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

/**
 * The plain-Java {@link Kernel}, the default: runs on the calling thread, on any heap or direct
 * buffers. Stateless and thread-safe.
 *
 * <p>The work is memory-bound, so it moves data in blocks: bulk little-endian copies into small
 * per-thread scratch arrays (a plain memory copy on little-endian machines), then a loop over
 * arrays simple enough for the JIT to vectorize, then a bulk copy back.
 */
public final class JavaKernel implements Kernel {

    // Small enough that the blocks of both operands stay in L1, large enough to amortize calls.
    private static final int BLOCK = 2048;

    // Stream threads call concurrently; one scratch set a thread avoids allocating on every call.
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Creates a kernel; instances hold no state, so one can be shared. */
    public JavaKernel() {
    }

    @Override
    public void set(ByteBuffer ema, Dtype accumulator, ByteBuffer x, Dtype input, int count) {
        KernelArguments.check(ema, accumulator, x, input, count);
        if (input == accumulator) {
            ema.put(ema.position(), x, x.position(), count * input.size());
            return;
        }
        FloatBuffer e = floats(ema);
        ShortBuffer xs = shorts(x);
        Scratch scratch = SCRATCH.get();
        short[] halves = scratch.halves;
        float[] xb = scratch.xf;
        for (int start = 0; start < count; start += BLOCK) {
            int n = Math.min(BLOCK, count - start);
            xs.get(start, halves, 0, n);
            widen(input, halves, xb, n);
            e.put(start, xb, 0, n);
        }
    }

    @Override
    public void update(ByteBuffer ema, Dtype accumulator, ByteBuffer x, Dtype input, int count, double decay) {
        KernelArguments.check(ema, accumulator, x, input, count);
        KernelArguments.checkDecay(decay);
        if (!input.floating()) {
            ema.put(ema.position(), x, x.position(), count * input.size());
        } else if (accumulator == Dtype.F64) {
            updateF64(ema, x, count, decay);
        } else {
            updateF32(ema, x, input, count, decay, null);
        }
    }

    /** Folds the distance sums into the F32 update pass; other types take the default's second pass. */
    @Override
    public void update(ByteBuffer ema, Dtype accumulator, ByteBuffer x, Dtype input, int count, double decay,
                       DistanceSums sums) {
        if (accumulator != Dtype.F32 || !input.floating()) {
            Kernel.super.update(ema, accumulator, x, input, count, decay, sums);
            return;
        }
        KernelArguments.check(ema, accumulator, x, input, count);
        KernelArguments.checkDecay(decay);
        updateF32(ema, x, input, count, decay, sums);
    }

    private static void updateF32(ByteBuffer ema, ByteBuffer x, Dtype input, int count, double decay, DistanceSums sums) {
        // PyTorch casts Python-float scalars to the tensor's type before a float32 op.
        float d = (float) decay;
        float omd = (float) (1.0 - decay);
        FloatBuffer e = floats(ema);
        FloatBuffer xf = input == Dtype.F32 ? floats(x) : null;
        ShortBuffer xs = input == Dtype.F32 ? null : shorts(x);
        Scratch scratch = SCRATCH.get();
        float[] eb = scratch.ef;
        float[] xb = scratch.xf;
        short[] halves = scratch.halves;
        for (int start = 0; start < count; start += BLOCK) {
            int n = Math.min(BLOCK, count - start);
            e.get(start, eb, 0, n);
            if (xf != null) {
                xf.get(start, xb, 0, n);
            } else {
                xs.get(start, halves, 0, n);
                widen(input, halves, xb, n);
            }
            if (sums == null) {
                blend(eb, xb, n, d, omd);
            } else {
                blendMeasured(eb, xb, n, d, omd, sums);
            }
            e.put(start, eb, 0, n);
        }
    }

    private static void updateF64(ByteBuffer ema, ByteBuffer x, int count, double decay) {
        double omd = 1.0 - decay;
        DoubleBuffer e = ema.duplicate().order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer();
        DoubleBuffer xd = x.duplicate().order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer();
        Scratch scratch = SCRATCH.get();
        double[] eb = scratch.ed;
        double[] xb = scratch.xd;
        for (int start = 0; start < count; start += BLOCK) {
            int n = Math.min(BLOCK, count - start);
            e.get(start, eb, 0, n);
            xd.get(start, xb, 0, n);
            for (int i = 0; i < n; i++) {
                eb[i] = decay * eb[i] + omd * xb[i];
            }
            e.put(start, eb, 0, n);
        }
    }

    // Java forbids fusing these into an FMA, which keeps the result equal to PyTorch's.
    private static void blend(float[] e, float[] x, int n, float d, float omd) {
        for (int i = 0; i < n; i++) {
            e[i] = d * e[i] + omd * x[i];
        }
    }

    // blend itself, so the EMA is bit for bit the same with or without sums; then the sums over the
    // block while it is in L1, in four independent pairs so that no addition waits for the previous.
    private static void blendMeasured(float[] e, float[] x, int n, float d, float omd, DistanceSums sums) {
        blend(e, x, n, d, omd);
        double d0 = 0, d1 = 0, d2 = 0, d3 = 0;
        double r0 = 0, r1 = 0, r2 = 0, r3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            double x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
            double a0 = e[i] - x0, a1 = e[i + 1] - x1, a2 = e[i + 2] - x2, a3 = e[i + 3] - x3;
            d0 += a0 * a0;
            d1 += a1 * a1;
            d2 += a2 * a2;
            d3 += a3 * a3;
            r0 += x0 * x0;
            r1 += x1 * x1;
            r2 += x2 * x2;
            r3 += x3 * x3;
        }
        for (; i < n; i++) {
            double a = e[i] - (double) x[i];
            d0 += a * a;
            r0 += (double) x[i] * x[i];
        }
        sums.addSums(d0 + d1 + d2 + d3, r0 + r1 + r2 + r3);
    }

    private static void widen(Dtype input, short[] halves, float[] out, int n) {
        if (input == Dtype.BF16) {
            for (int i = 0; i < n; i++) {
                out[i] = Float16.bf16ToFloat(halves[i]);
            }
        } else {
            for (int i = 0; i < n; i++) {
                out[i] = Float16.halfToFloatByTable(halves[i]);
            }
        }
    }

    // duplicate() resets the byte order to big-endian, hence order() after it.
    private static FloatBuffer floats(ByteBuffer b) {
        return b.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    }

    private static ShortBuffer shorts(ByteBuffer b) {
        return b.duplicate().order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
    }

    /** One thread's blocks; only ever touched by that thread, and within one call. */
    private static final class Scratch {
        final float[] ef = new float[BLOCK];
        final float[] xf = new float[BLOCK];
        final double[] ed = new double[BLOCK];
        final double[] xd = new double[BLOCK];
        final short[] halves = new short[BLOCK];
    }
}
