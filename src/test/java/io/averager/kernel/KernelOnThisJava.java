package io.averager.kernel;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;

/**
 * Sets and updates an EMA of every floating input type with a kernel and prints, one line each,
 * the CRC32C of the EMA bytes and the distance sums; run as a program, with the {@code java}
 * kernel of the JVM it runs in, whose loops it prints first.
 */
final class KernelOnThisJava {

    private static final int COUNT = 4099;

    private KernelOnThisJava() {
    }

    public static void main(String[] args) {
        System.out.println("loops " + JavaKernel.loops());
        System.out.print(results(new JavaKernel()));
    }

    static String results(Kernel kernel) {
        StringBuilder out = new StringBuilder();
        for (Dtype input : new Dtype[] {Dtype.F32, Dtype.F16, Dtype.BF16, Dtype.F64}) {
            SplittableRandom random = new SplittableRandom(7);
            Dtype acc = input.accumulator();
            ByteBuffer ema = ByteBuffer.allocate(COUNT * acc.size()).order(ByteOrder.LITTLE_ENDIAN);
            kernel.set(ema, acc, chunk(input, random), input, COUNT);
            DistanceSums sums = new DistanceSums();
            for (int step = 0; step < 3; step++) {
                kernel.update(ema, acc, chunk(input, random), input, COUNT, 0.9, sums);
            }
            CRC32C crc = new CRC32C();
            crc.update(ema.duplicate());
            out.append(String.format("%s ema %08x sums %s %s%n", input, crc.getValue(),
                    Double.toHexString(sums.differenceSquares()), Double.toHexString(sums.rawSquares())));
        }
        return out.toString();
    }

    private static ByteBuffer chunk(Dtype input, SplittableRandom random) {
        ByteBuffer b = ByteBuffer.allocate(COUNT * input.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < COUNT; i++) {
            float v = (float) random.nextGaussian();
            switch (input) {
                case F32 -> b.putFloat(v);
                case F64 -> b.putDouble(random.nextGaussian());
                case F16 -> b.putShort(i % 97 == 0 ? (short) 0x0003 : half(v));
                default -> b.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
            }
        }
        return b.flip();
    }

    /** A normal half near {@code v}, truncated. */
    private static short half(float v) {
        int bits = Float.floatToRawIntBits(v);
        int exponent = Math.max(1, Math.min(30, ((bits >>> 23) & 0xff) - 112));
        return (short) ((bits >>> 16) & 0x8000 | exponent << 10 | (bits >>> 13) & 0x3ff);
    }
}
