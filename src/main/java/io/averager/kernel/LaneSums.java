package io.averager.kernel;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The distance sums of {@link JavaKernel} updates, taken block by block while each block is in
 * L1, in a form the JIT vectorizes. Java 17's C2 does not vectorize a floating-point sum across a
 * loop (it may not reorder the additions), so each square is instead added element-wise into one
 * of {@link #LANES} partial sums, a loop as simple as the update itself; every {@link #GROUP}
 * blocks the partial sums are added up in double and cleared. Mutable; one per thread.
 *
 * <p>Precision, for float blocks: a difference, its square and the at most {@link #GROUP}
 * additions into a lane are each rounded to float. Every term is non-negative, so each rounding
 * adds at most a relative {@code u = 2^-24} to the whole sum, which bounds a group's sums within
 * a relative {@code (GROUP + 2) u < 6e-7} of the exact sums, and the charted relative distance
 * within the same. A group whose float sums are not finite or are below {@code 2^-100} (where
 * float squares could overflow, or lose tiny elements) is summed again from the buffers in
 * double. Double blocks are summed the same way in double lanes.
 */
final class LaneSums {

    /** Elements of the kernel's blocks, and of partial sums. */
    static final int LANES = 1024;

    /** Blocks a partial sum adds before it is added into double: the error bound grows with it. */
    static final int GROUP = 8;

    private static final double SMALLEST_TRUSTED = 0x1p-100;

    private final float[] differences = new float[LANES];
    private final float[] raws = new float[LANES];
    private final double[] wideDifferences = new double[LANES];
    private final double[] wideRaws = new double[LANES];
    private int blocks;
    private int groupStart;

    /** Starts a call's sums: no blocks added yet, partial sums clear. */
    void start() {
        blocks = 0;
        groupStart = 0;
        Arrays.fill(differences, 0f);
        Arrays.fill(raws, 0f);
        Arrays.fill(wideDifferences, 0.0);
        Arrays.fill(wideRaws, 0.0);
    }

    /**
     * Adds the squares of {@code e[i] - x[i]} and of {@code x[i]} for {@code i < n}, the block of
     * elements from {@code start}; when a group is complete, or {@code end} is reached, adds it to
     * {@code sums}, from the buffers in double if its float sums cannot be trusted.
     */
    void add(float[] e, float[] x, int n, int start, int end, ByteBuffer ema, ByteBuffer x0, Dtype input,
             DistanceSums sums) {
        square(e, x, n, differences, raws);
        if (++blocks == GROUP || start + n == end) {
            double d = take(differences);
            double r = take(raws);
            if (trusted(d) && trusted(r)) {
                sums.addSums(d, r);
            } else {
                sums.accumulate(at(ema, groupStart, Dtype.F32), Dtype.F32, at(x0, groupStart, input), input,
                        start + n - groupStart);
            }
            blocks = 0;
            groupStart = start + n;
        }
    }

    /** {@link #add(float[], float[], int, int, int, ByteBuffer, ByteBuffer, Dtype, DistanceSums)} for double blocks. */
    void add(double[] e, double[] x, int n, int start, int end, DistanceSums sums) {
        square(e, x, n, wideDifferences, wideRaws);
        if (++blocks == GROUP || start + n == end) {
            sums.addSums(take(wideDifferences), take(wideRaws));
            blocks = 0;
        }
    }

    // Element-wise, like the update: C2 vectorizes it. Two loops run faster than one here.
    private static void square(float[] e, float[] x, int n, float[] d, float[] r) {
        for (int i = 0; i < n; i++) {
            float a = e[i] - x[i];
            d[i] += a * a;
        }
        for (int i = 0; i < n; i++) {
            r[i] += x[i] * x[i];
        }
    }

    private static void square(double[] e, double[] x, int n, double[] d, double[] r) {
        for (int i = 0; i < n; i++) {
            double a = e[i] - x[i];
            d[i] += a * a;
        }
        for (int i = 0; i < n; i++) {
            r[i] += x[i] * x[i];
        }
    }

    /** The sum of the lanes, in double, in eight chains so that no addition waits for the previous; clears them. */
    private static double take(float[] lanes) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        double s4 = 0;
        double s5 = 0;
        double s6 = 0;
        double s7 = 0;
        for (int i = 0; i < LANES; i += 8) {
            s0 += lanes[i];
            s1 += lanes[i + 1];
            s2 += lanes[i + 2];
            s3 += lanes[i + 3];
            s4 += lanes[i + 4];
            s5 += lanes[i + 5];
            s6 += lanes[i + 6];
            s7 += lanes[i + 7];
        }
        Arrays.fill(lanes, 0f);
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }

    private static double take(double[] lanes) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        double s4 = 0;
        double s5 = 0;
        double s6 = 0;
        double s7 = 0;
        for (int i = 0; i < LANES; i += 8) {
            s0 += lanes[i];
            s1 += lanes[i + 1];
            s2 += lanes[i + 2];
            s3 += lanes[i + 3];
            s4 += lanes[i + 4];
            s5 += lanes[i + 5];
            s6 += lanes[i + 6];
            s7 += lanes[i + 7];
        }
        Arrays.fill(lanes, 0.0);
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }

    private static boolean trusted(double sum) {
        return sum >= SMALLEST_TRUSTED && sum < Double.POSITIVE_INFINITY;
    }

    /** {@code b} from element {@code i} of {@code dtype} on, as the kernel contract lays elements out. */
    private static ByteBuffer at(ByteBuffer b, int i, Dtype dtype) {
        ByteBuffer d = b.duplicate();
        return d.position(d.position() + i * dtype.size());
    }
}
