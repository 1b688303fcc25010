package io.averager.bench;

import io.averager.ema.Dtype;
import io.averager.kernel.DistanceSums;
import io.averager.kernel.JavaKernel;
import io.averager.kernel.Kernel;
import io.averager.kernel.Kernels;
import io.averager.kernel.NonFinite;
import io.averager.publish.SnapshotPublisher;
import io.averager.store.EmaEntry;
import io.averager.wire.Signatures;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.SplittableRandom;

/**
 * EMA kernel throughput against the memory bandwidth of the same machine: a plain-Java triad
 * {@code ema = d * ema + (1 - d) * x} over two large float arrays sets the limit, and the kernel
 * updates the same number of elements for each floating input type, one grid-sized chunk a call
 * on heap buffers laid out as the topology hands them over (an {@link EmaEntry}'s data and a
 * little-endian input chunk), first summing the distance of the EMA from its input in the same
 * pass, as the service's update does for the status page, then without. Rates are bytes moved a
 * second: accumulator read, input read and accumulator write. Then the scan for NaN and
 * infinities the service runs on every chunk before the update, as input bytes read a second.
 *
 * <p>Every pass of a row alternates with a triad pass, and the row's ratio divides its best pass
 * by the best triad pass of the same rounds: on a shared machine the bandwidth left to one thread
 * changes from second to second, and a triad measured once, before the rows, made their ratios
 * move by 0.15 from run to run. Single-threaded; not thread-safe.
 */
public final class KernelBench {

    /** Elements one pass touches: large enough that neither pass runs from cache. */
    private static final int ELEMENTS = 64 << 20;
    private static final int GRID = Math.toIntExact(SnapshotPublisher.DEFAULT_GRID);
    private static final int WARM_UPS = 3;
    private static final int REPETITIONS = 5;
    private static final double DECAY = 0.999;
    private static final List<Dtype> INPUTS = List.of(Dtype.F32, Dtype.F16, Dtype.BF16, Dtype.F64);

    private final String kernelName;
    private final PrintStream out;
    private final int elements;

    /** A bench of the kernel {@link Kernels#byName(String) named} {@code kernelName}, printing to {@code out}. */
    public KernelBench(String kernelName, PrintStream out) {
        this(kernelName, out, ELEMENTS);
    }

    /** The same over {@code elements} (whole grid chunks) a pass: fewer than the default run from cache. */
    KernelBench(String kernelName, PrintStream out, int elements) {
        if (elements <= 0 || elements % GRID != 0) {
            throw new IllegalArgumentException("Kernel bench elements " + elements + ": expected whole chunks of " + GRID);
        }
        this.kernelName = kernelName;
        this.out = out;
        this.elements = elements;
    }

    /** Measures the triad, then the kernel for each input type, and prints one table. */
    public void run() {
        Kernel kernel = Kernels.byName(kernelName);
        out.printf("averager bench kernels: kernel '%s', %d Mi elements a pass in chunks of %d, best of %d passes"
                        + " after %d warm-ups, each after a triad pass; %d cores, Java %s (%s)%n",
                kernelName, elements >> 20, GRID, REPETITIONS, WARM_UPS, Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.version"), System.getProperty("java.vm.name"));
        if (Kernels.JAVA.equals(kernelName)) {
            // Why, when they are scalar, the kernel logged when it started.
            out.printf("kernel 'java' runs %s loops%n", JavaKernel.loops());
        }
        out.println("update+sums is what the service runs (the status page's distance sums in the same pass), update"
                + " alone for comparison; the scan for NaN and infinities, run on every chunk before the update, is"
                + " rated by input bytes read.");
        Triad triad = new Triad(elements);
        out.printf("%-46s %8s %8s %8s%n", "what", "GB/s", "triad", "ratio");
        for (boolean withSums : new boolean[] {true, false}) {
            for (Dtype input : INPUTS) {
                Dtype acc = input.accumulator();
                String what = String.format("%s update%s, %s into %s (%d B/elem)", kernelName, withSums ? "+sums" : "",
                        input, acc, 2 * acc.size() + input.size());
                row(what, triad, (2L * acc.size() + input.size()) * elements,
                        updates(kernel, input, withSums, elements / GRID));
            }
        }
        for (Dtype input : INPUTS) {
            String what = String.format("non-finite scan, %s (%d B/elem read)", input, input.size());
            row(what, triad, (long) input.size() * elements, scans(input, elements / GRID));
        }
        // What a signed run costs: the MAC of every record, checked before anything else.
        row("signature check, HMAC-SHA256 (B read)", triad, 4L * elements, macs(elements / GRID));
    }

    private static Runnable macs(int chunks) {
        byte[][] xs = new byte[chunks][];
        SplittableRandom random = new SplittableRandom(5);
        for (int c = 0; c < chunks; c++) {
            ByteBuffer b = chunk(Dtype.F32, random);
            xs[c] = new byte[b.remaining()];
            b.get(xs[c]);
        }
        byte[] secret = new byte[Signatures.MIN_KEY_BYTES];
        byte[] key = "team-a/run".getBytes(StandardCharsets.UTF_8);
        byte[][] macs = new byte[chunks][];
        for (int c = 0; c < chunks; c++) {
            macs[c] = Signatures.mac(secret, key, xs[c]);
        }
        return () -> {
            for (int c = 0; c < chunks; c++) {
                if (!Signatures.verify(secret, key, xs[c], macs[c])) {
                    throw new IllegalStateException("Kernel bench chunk " + c + " fails its own MAC");
                }
            }
        };
    }

    /**
     * Runs {@code pass}, moving {@code bytes} a time, in rounds that each begin with a triad pass,
     * and prints the best pass's rate, the best triad pass's and their ratio.
     */
    private void row(String what, Triad triad, long bytes, Runnable pass) {
        long best = Long.MAX_VALUE;
        long bestTriad = Long.MAX_VALUE;
        for (int r = 0; r < WARM_UPS + REPETITIONS; r++) {
            long triadNanos = triad.pass();
            long start = System.nanoTime();
            pass.run();
            long elapsed = System.nanoTime() - start;
            if (r >= WARM_UPS) {
                best = Math.min(best, elapsed);
                bestTriad = Math.min(bestTriad, triadNanos);
            }
        }
        double rate = bytes / (best / 1e9);
        double triadRate = triad.bytes() / (bestTriad / 1e9);
        out.printf("%-46s %8.1f %8.1f %8.2f%n", what, rate / 1e9, triadRate / 1e9, rate / triadRate);
    }

    /** The limit: a plain-Java EMA over two float arrays. */
    private static final class Triad {

        private final float[] ema;
        private final float[] x;
        private final float d = (float) DECAY;
        private final float omd = (float) (1.0 - DECAY);

        Triad(int elements) {
            ema = new float[elements];
            x = new float[elements];
            SplittableRandom random = new SplittableRandom(1);
            for (int i = 0; i < elements; i++) {
                ema[i] = (float) random.nextGaussian();
                x[i] = (float) random.nextGaussian();
            }
        }

        /** Bytes a pass moves: read {@code ema}, read {@code x}, write {@code ema}. */
        long bytes() {
            return 12L * ema.length;
        }

        /** Nanoseconds of one pass. */
        long pass() {
            long start = System.nanoTime();
            for (int i = 0; i < ema.length; i++) {
                ema[i] = d * ema[i] + omd * x[i];
            }
            return System.nanoTime() - start;
        }
    }

    /** A pass of kernel updates over every chunk, with or without distance sums. */
    private static Runnable updates(Kernel kernel, Dtype input, boolean withSums, int chunks) {
        Dtype acc = input.accumulator();
        ByteBuffer[] emas = new ByteBuffer[chunks];
        ByteBuffer[] xs = new ByteBuffer[chunks];
        SplittableRandom random = new SplittableRandom(2);
        for (int c = 0; c < chunks; c++) {
            xs[c] = chunk(input, random);
            emas[c] = EmaEntry.allocate(GRID * acc.size()).data();
            kernel.set(emas[c], acc, xs[c], input, GRID);
            xs[c] = chunk(input, random);
        }
        return () -> {
            DistanceSums sums = new DistanceSums();
            for (int c = 0; c < chunks; c++) {
                if (withSums) {
                    kernel.update(emas[c], acc, xs[c], input, GRID, DECAY, sums);
                } else {
                    kernel.update(emas[c], acc, xs[c], input, GRID, DECAY);
                }
            }
        };
    }

    /** A pass of non-finite scans over every chunk (all finite: read to the end). */
    private static Runnable scans(Dtype input, int chunks) {
        ByteBuffer[] xs = new ByteBuffer[chunks];
        SplittableRandom random = new SplittableRandom(3);
        for (int c = 0; c < chunks; c++) {
            xs[c] = chunk(input, random);
        }
        return () -> {
            for (int c = 0; c < chunks; c++) {
                if (NonFinite.firstIndex(xs[c], input, GRID) >= 0) {
                    throw new IllegalStateException("Kernel bench chunk " + c + " of " + input + " is not finite");
                }
            }
        };
    }

    /** A little-endian input chunk of weight-like values (normal, no NaN or infinity). */
    private static ByteBuffer chunk(Dtype input, SplittableRandom random) {
        ByteBuffer b = ByteBuffer.allocate(GRID * input.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < GRID; i++) {
            float v = (float) random.nextGaussian();
            switch (input) {
                case F32 -> b.putFloat(v);
                case F64 -> b.putDouble(v);
                case BF16 -> b.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
                case F16 -> b.putShort(half(v));
                default -> throw new IllegalArgumentException("Kernel bench input " + input + ": expected a floating type");
            }
        }
        return b.flip();
    }

    /** A half near {@code v}, truncated; normal halves only, as weights are. */
    private static short half(float v) {
        int bits = Float.floatToRawIntBits(v);
        int sign = (bits >>> 16) & 0x8000;
        int exponent = Math.max(1, Math.min(30, ((bits >>> 23) & 0xff) - 112));
        return (short) (sign | exponent << 10 | (bits >>> 13) & 0x3ff);
    }
}
