package io.averager.kernel;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
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
            Random random = new Random(7);
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

    /** Random inputs: gaussian floats (BF16 their top halves), uniform doubles, halves uniform over the finite bit patterns. */
    private static ByteBuffer chunk(Dtype input, Random random) {
        byte[] bytes = switch (input) {
            case F32 -> TensorBuffers.f32(TensorBuffers.randomFloats(random, COUNT));
            case F64 -> TensorBuffers.f64(random.doubles(COUNT, -2, 2).toArray());
            case F16 -> TensorBuffers.bits16(TensorBuffers.randomFiniteHalves(random, COUNT));
            default -> {
                float[] floats = TensorBuffers.randomFloats(random, COUNT);
                short[] halves = new short[COUNT];
                for (int i = 0; i < COUNT; i++) {
                    halves[i] = (short) (Float.floatToRawIntBits(floats[i]) >>> 16);
                }
                yield TensorBuffers.bits16(halves);
            }
        };
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
}
