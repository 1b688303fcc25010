package io.averager.kernel;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.LongBuffer;

/**
 * Finds NaN and infinite elements in little-endian tensor data, by their bits: an element is
 * non-finite when its exponent field is all ones. Pure and thread-safe; reads the buffer's
 * remaining bytes without moving it.
 *
 * <p>It runs on every chunk before the kernel. With the module {@code jdk.incubator.vector} it
 * scans heap buffers with {@link VectorScan}; otherwise in blocks the JIT vectorizes: a bulk
 * copy of a block's bits into a per-thread array, then a branch-free test of the whole block;
 * only a block that holds a non-finite element, and the last partial block, are searched element
 * by element. Half-precision elements are tested two at a time, as the halves of an int.
 */
public final class NonFinite {

    // Elements of int or long bits a block: 8 or 16 KiB, in L1 while it is tested.
    private static final int BLOCK = 2048;

    // Partial results left after halving a block; see anyExponentAllOnes.
    private static final int LANES = BLOCK >> 7;

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

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
        return firstIndex(x, dtype, count, JavaKernel.VECTORS);
    }

    /** {@link #firstIndex(ByteBuffer, Dtype, int)}, scanning with vectors, which must be available, or without. */
    static int firstIndex(ByteBuffer x, Dtype dtype, int count, boolean vectors) {
        if (count < 0 || (long) count * dtype.size() > x.remaining()) {
            throw new IllegalArgumentException(count + " " + dtype + " elements do not fit in " + x.remaining() + " bytes");
        }
        if (!dtype.floating()) {
            return -1;
        }
        ByteBuffer b = x.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int at = b.position();
        // Either way the search below starts at the first suspect element, or where the fast scan stopped.
        int from = vectors && VectorScan.takes(b) ? VectorScan.suspect(b, dtype, count) : switch (dtype) {
            case F32 -> suspectBlock(b, count, 0x7F80_0000, 0x0080_0000);
            case F64 -> suspectBlock(b, count);
            case F16 -> 2 * suspectBlock(b, count / 2, 0x7C00_7C00, 0x0400_0400);
            default -> 2 * suspectBlock(b, count / 2, 0x7F80_7F80, 0x0080_0080);
        };
        switch (dtype) {
            case F32:
                for (int i = from; i < count; i++) {
                    if ((b.getInt(at + 4 * i) & 0x7F80_0000) == 0x7F80_0000) {
                        return i;
                    }
                }
                return -1;
            case F64:
                for (int i = from; i < count; i++) {
                    if ((b.getLong(at + 8 * i) & 0x7FF0_0000_0000_0000L) == 0x7FF0_0000_0000_0000L) {
                        return i;
                    }
                }
                return -1;
            case F16:
                return firstAllOnes(b, at, from, count, 0x7C00);
            default:
                return firstAllOnes(b, at, from, count, 0x7F80);
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

    private static int firstAllOnes(ByteBuffer b, int at, int from, int count, int exponentMask) {
        for (int i = from; i < count; i++) {
            if ((b.getShort(at + 2 * i) & exponentMask) == exponentMask) {
                return i;
            }
        }
        return -1;
    }

    /**
     * The index of the first whole block of the first {@code ints} int-sized words of {@code b} in
     * which some field {@code mask} selects is all ones, or else of the partial block after the
     * whole ones: where the element-by-element search starts.
     */
    private static int suspectBlock(ByteBuffer b, int ints, int mask, int lowestBits) {
        IntBuffer words = b.asIntBuffer();
        int[] block = SCRATCH.get().ints;
        int start = 0;
        for (; start + BLOCK <= ints; start += BLOCK) {
            words.get(start, block, 0, BLOCK);
            if (anyExponentAllOnes(block, mask, lowestBits)) {
                return start;
            }
        }
        return start;
    }

    /** {@link #suspectBlock(ByteBuffer, int, int, int)} for float64 words. */
    private static int suspectBlock(ByteBuffer b, int longs) {
        LongBuffer words = b.asLongBuffer();
        long[] block = SCRATCH.get().longs;
        int start = 0;
        for (; start + BLOCK <= longs; start += BLOCK) {
            words.get(start, block, 0, BLOCK);
            if (anyExponentAllOnes(block)) {
                return start;
            }
        }
        return start;
    }

    // An exponent field is all ones exactly when adding its lowest bit carries out of it, into the
    // bit above, which for every masked field is a sign bit: OR the sums over the block and test
    // those bits. The OR is taken by halving the block with element-wise ORs of its two halves,
    // which C2 vectorizes once inlined with constant halves, where it would not vectorize a loop-
    // carried OR; the block is overwritten.
    private static boolean anyExponentAllOnes(int[] block, int mask, int lowestBits) {
        for (int i = 0; i < BLOCK; i++) {
            block[i] = (block[i] & mask) + lowestBits;
        }
        halve(block, BLOCK >> 1);
        halve(block, BLOCK >> 2);
        halve(block, BLOCK >> 3);
        halve(block, BLOCK >> 4);
        halve(block, BLOCK >> 5);
        halve(block, BLOCK >> 6);
        halve(block, BLOCK >> 7);
        int any = 0;
        for (int i = 0; i < LANES; i++) {
            any |= block[i];
        }
        return (any & (mask + lowestBits)) != 0;
    }

    private static boolean anyExponentAllOnes(long[] block) {
        for (int i = 0; i < BLOCK; i++) {
            block[i] = (block[i] & 0x7FF0_0000_0000_0000L) + 0x0010_0000_0000_0000L;
        }
        halve(block, BLOCK >> 1);
        halve(block, BLOCK >> 2);
        halve(block, BLOCK >> 3);
        halve(block, BLOCK >> 4);
        halve(block, BLOCK >> 5);
        halve(block, BLOCK >> 6);
        halve(block, BLOCK >> 7);
        long any = 0;
        for (int i = 0; i < LANES; i++) {
            any |= block[i];
        }
        return any < 0;
    }

    private static void halve(int[] q, int m) {
        for (int i = 0; i < m; i++) {
            q[i] |= q[i + m];
        }
    }

    private static void halve(long[] q, int m) {
        for (int i = 0; i < m; i++) {
            q[i] |= q[i + m];
        }
    }

    /** One thread's block; only ever touched by that thread, and within one call. */
    private static final class Scratch {
        final int[] ints = new int[BLOCK];
        final long[] longs = new long[BLOCK];
    }
}
