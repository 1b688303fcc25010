package io.averager.kernel;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The plain-Java {@link Kernel}, the default: runs on the calling thread, on any heap or direct
 * buffers. Stateless and thread-safe.
 *
 * <p>The work is memory-bound. When the JVM runs with {@code --add-modules jdk.incubator.vector}
 * it runs {@link VectorLoops} on heap buffers (the service's), which read and write each vector
 * where it lies. Without the module, and on direct or read-only buffers, it runs scalar loops that
 * move data in blocks:
 * bulk little-endian copies into small per-thread scratch arrays (a plain memory copy on
 * little-endian machines), then a loop over arrays simple enough for the JIT to vectorize (all but
 * the widening of 16-bit inputs), then a bulk copy back. Both give the same EMA, bit for bit.
 */
public final class JavaKernel implements Kernel {

    /** The module whose presence in the boot layer selects the vector loops: give it to {@code --add-modules}. */
    public static final String VECTOR_MODULE = "jdk.incubator.vector";

    /** Whether {@link VectorLoops} can run in this JVM: its module is present and vectors hold 128 bits or more. */
    static final boolean VECTORS = Detection.vectors();

    // Small enough that the blocks of both operands and the lane sums stay in L1 together (2 048 did
    // not: F64 updates with sums ran about 40% slower), large enough to amortize calls.
    private static final int BLOCK = LaneSums.LANES;

    // Stream threads call concurrently; one scratch set a thread avoids allocating on every call.
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private final boolean vectors;

    /** Creates a kernel, with vector loops if this JVM has them; instances hold no state, so one can be shared. */
    public JavaKernel() {
        this(VECTORS);
    }

    /** A kernel with vector loops, which must be available, or the scalar ones. */
    JavaKernel(boolean vectors) {
        if (vectors && !VECTORS) {
            throw new IllegalStateException("Vector loops need the module " + VECTOR_MODULE + " and wide vectors");
        }
        this.vectors = vectors;
    }

    /** The scalar loops, whatever this JVM has: the fallback, and the reference the vector loops are tested against. */
    static JavaKernel scalar() {
        return new JavaKernel(false);
    }

    /** Which loops a default kernel runs in this JVM, for people: "vector, 512-bit" or "scalar". */
    public static String loops() {
        return VECTORS ? "vector, " + VectorLoops.bits() + "-bit" : "scalar";
    }

    @Override
    public void set(ByteBuffer ema, Dtype accumulator, ByteBuffer x, Dtype input, int count) {
        KernelArguments.check(ema, accumulator, x, input, count);
        if (input == accumulator) {
            ema.put(ema.position(), x, x.position(), count * input.size());
            return;
        }
        int done = 0;
        if (vectors && VectorLoops.takes(ema, x)) {
            VectorLoops.widen(ema, x, input, count);
            done = VectorLoops.covered(count);
        }
        widenScalar(at(ema, done, Dtype.F32), at(x, done, input), input, count - done);
    }

    private static void widenScalar(ByteBuffer ema, ByteBuffer x, Dtype input, int count) {
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
        } else {
            updateFloating(ema, accumulator, x, input, count, decay, null);
        }
    }

    /** Folds the distance sums into the update pass, summing each block while it is in L1 (see {@link LaneSums}). */
    @Override
    public void update(ByteBuffer ema, Dtype accumulator, ByteBuffer x, Dtype input, int count, double decay,
                       DistanceSums sums) {
        if (!input.floating()) {
            Kernel.super.update(ema, accumulator, x, input, count, decay, sums);
            return;
        }
        KernelArguments.check(ema, accumulator, x, input, count);
        KernelArguments.checkDecay(decay);
        updateFloating(ema, accumulator, x, input, count, decay, sums);
    }

    // The vector loops stop at the last whole vector; the scalar loops take the rest, or all of it.
    private void updateFloating(ByteBuffer ema, Dtype accumulator, ByteBuffer x, Dtype input, int count, double decay,
                                DistanceSums sums) {
        int done = 0;
        if (vectors && VectorLoops.takes(ema, x)) {
            if (accumulator == Dtype.F64) {
                VectorLoops.updateF64(ema, x, count, decay, 1.0 - decay, sums);
                done = VectorLoops.coveredDoubles(count);
            } else {
                VectorLoops.updateF32(ema, x, input, count, (float) decay, (float) (1.0 - decay), sums);
                done = VectorLoops.covered(count);
            }
        }
        if (done < count) {
            ByteBuffer emaRest = at(ema, done, accumulator);
            ByteBuffer xRest = at(x, done, input);
            if (accumulator == Dtype.F64) {
                updateF64(emaRest, xRest, count - done, decay, sums);
            } else {
                updateF32(emaRest, xRest, input, count - done, decay, sums);
            }
        }
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
        scratch.lanes.start();
        for (int start = 0; start < count; start += BLOCK) {
            int n = Math.min(BLOCK, count - start);
            e.get(start, eb, 0, n);
            if (xf != null) {
                xf.get(start, xb, 0, n);
            } else {
                xs.get(start, halves, 0, n);
                widen(input, halves, xb, n);
            }
            blend(eb, xb, n, d, omd);
            // Written back first: a group the lanes cannot sum in float is summed again from ema.
            e.put(start, eb, 0, n);
            if (sums != null) {
                scratch.lanes.add(eb, xb, n, start, count, ema, x, input, sums);
            }
        }
    }

    private static void updateF64(ByteBuffer ema, ByteBuffer x, int count, double decay, DistanceSums sums) {
        double omd = 1.0 - decay;
        DoubleBuffer e = ema.duplicate().order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer();
        DoubleBuffer xd = x.duplicate().order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer();
        Scratch scratch = SCRATCH.get();
        double[] eb = scratch.ed;
        double[] xb = scratch.xd;
        scratch.lanes.start();
        for (int start = 0; start < count; start += BLOCK) {
            int n = Math.min(BLOCK, count - start);
            e.get(start, eb, 0, n);
            xd.get(start, xb, 0, n);
            for (int i = 0; i < n; i++) {
                eb[i] = decay * eb[i] + omd * xb[i];
            }
            e.put(start, eb, 0, n);
            if (sums != null) {
                scratch.lanes.add(eb, xb, n, start, count, sums);
            }
        }
    }

    // Java forbids fusing these into an FMA, which keeps the result equal to PyTorch's.
    private static void blend(float[] e, float[] x, int n, float d, float omd) {
        for (int i = 0; i < n; i++) {
            e[i] = d * e[i] + omd * x[i];
        }
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

    /** {@code b} from element {@code i} of {@code dtype} on, as the kernel contract lays elements out. */
    static ByteBuffer at(ByteBuffer b, int i, Dtype dtype) {
        ByteBuffer d = b.duplicate();
        return d.position(d.position() + i * dtype.size());
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
        final LaneSums lanes = new LaneSums();
        final float[] ef = new float[BLOCK];
        final float[] xf = new float[BLOCK];
        final double[] ed = new double[BLOCK];
        final double[] xd = new double[BLOCK];
        final short[] halves = new short[BLOCK];
    }

    /** Finds out, once, which loops this JVM can run, and says so. */
    private static final class Detection {

        private static final Logger log = LoggerFactory.getLogger(JavaKernel.class);

        static boolean vectors() {
            if (ModuleLayer.boot().findModule(VECTOR_MODULE).isEmpty()) {
                log.info("Kernel 'java' runs scalar loops: start Java with --add-modules {} for the faster vector loops",
                        VECTOR_MODULE);
                return false;
            }
            // Referenced only here, after the check: loading it without the module would fail.
            int bits = VectorLoops.bits();
            if (bits < 128) {
                log.info("Kernel 'java' runs scalar loops: this JVM's vectors hold {} bits", bits);
                return false;
            }
            try {
                exercise();
            } catch (LinkageError e) {
                log.warn("Kernel 'java' runs scalar loops: the vector loops are written for the Vector API as it"
                        + " incubates in Java 17, and this Java's ({}) lacks {}", Runtime.version().feature(),
                        e.getMessage());
                return false;
            }
            log.info("Kernel 'java' runs vector loops, {}-bit", bits);
            return true;
        }

        /**
         * Runs every vector loop and scan once over a few vectors, so that a Java whose incubating
         * Vector API has changed (Java 20 dropped the byte array loads and stores) fails here, with
         * a {@link LinkageError}, and not on the service's first chunk.
         */
        private static void exercise() {
            int count = 1024;
            for (Dtype input : List.of(Dtype.F32, Dtype.F16, Dtype.BF16, Dtype.F64)) {
                ByteBuffer x = ByteBuffer.allocate(count * input.size()).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < count; i++) {
                    switch (input) {
                        case F32 -> x.putFloat(1f);
                        case F64 -> x.putDouble(1.0);
                        // One subnormal half takes its vector through the exact conversion, the others the fast one.
                        case F16 -> x.putShort((short) (i == 0 ? 0x0001 : 0x3C00));
                        default -> x.putShort((short) 0x3F80);
                    }
                }
                x.flip();
                Dtype acc = input.accumulator();
                ByteBuffer ema = ByteBuffer.allocate(count * acc.size()).order(ByteOrder.LITTLE_ENDIAN);
                VectorScan.suspect(x, input, count);
                if (acc == Dtype.F64) {
                    VectorLoops.updateF64(ema, x, count, 0.5, 0.5, null);
                    VectorLoops.updateF64(ema, x, count, 0.5, 0.5, new DistanceSums());
                } else {
                    if (input != Dtype.F32) {
                        VectorLoops.widen(ema, x, input, count);
                    }
                    VectorLoops.updateF32(ema, x, input, count, 0.5f, 0.5f, null);
                    VectorLoops.updateF32(ema, x, input, count, 0.5f, 0.5f, new DistanceSums());
                }
            }
        }
    }
}
