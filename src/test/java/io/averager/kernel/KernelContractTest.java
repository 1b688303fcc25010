package io.averager.kernel;

import static io.averager.kernel.TensorBuffers.bits16;
import static io.averager.kernel.TensorBuffers.f32;
import static io.averager.kernel.TensorBuffers.f64;
import static io.averager.kernel.TensorBuffers.readF32;
import static io.averager.kernel.TensorBuffers.readF64;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.ema.Dtype;
import io.averager.ema.Tolerances;
import io.averager.kernel.TensorBuffers.Placement;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.assertj.core.data.Percentage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The {@link Kernel} contract; each kernel runs it through a subclass. Expected values come
 * from scalar Java written here, never from a kernel.
 */
abstract class KernelContractTest {

    private static final double[] DECAYS = {0.0, 0.1, 0.5, 0.9, 0.999, 0.9999, 0.123456789, 1.0};
    // Not a multiple of any plausible block size, so partial blocks are exercised.
    private static final int MANY = 10_007;
    // The sums only feed a chart; a kernel may round block partial sums to float, which stays within
    // a relative 6e-7 of the exact sums (see LaneSums).
    private static final Percentage SUMS_TOLERANCE = Percentage.withPercentage(1e-4);
    // Around every plausible vector width (4 to 64 lanes) and its multiples, and a group of sums.
    private static final int[] LENGTHS = {0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129, 255, 1_023,
        1_025, 8_191, 8_193, 16_411};
    // Heap and direct, at position 0 and past a few bytes, through an array offset: vector loops read
    // through arrays or buffers, and must find element 0 at the position either way.
    private static final Placement[] PLACEMENTS = {Placement.HEAP, Placement.HEAP_AT_POSITION_3, Placement.HEAP_SLICE,
        Placement.DIRECT, Placement.DIRECT_AT_POSITION_5};

    /** The kernel under test. */
    abstract Kernel kernel();

    private static ByteBuffer heap(byte[] data) {
        return ByteBuffer.wrap(data);
    }

    private static ByteBuffer emaF32(int count) {
        return ByteBuffer.allocate(4 * count);
    }

    @Test
    void setConvertsSpecialHalvesExactly() {
        short[] halves = {0x0000, (short) 0x8000, 0x3c00, (short) 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400,
            0x7c00, (short) 0xfc00, 0x7e00};
        float[] expected = {0f, -0f, 1f, -2f, 65504f, 0x1p-24f, 0x1.ff8p-15f, 0x1p-14f,
            Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};
        ByteBuffer ema = emaF32(halves.length);
        kernel().set(ema, Dtype.F32, heap(bits16(halves)), Dtype.F16, halves.length);
        // Float.equals compares bits, so -0 and NaN are checked exactly.
        assertThat(readF32(ema, halves.length)).containsExactly(expected);
    }

    @Test
    void setConvertsEveryHalfExactly() {
        short[] halves = new short[1 << 16];
        for (int i = 0; i < halves.length; i++) {
            halves[i] = (short) i;
        }
        ByteBuffer ema = emaF32(halves.length);
        kernel().set(ema, Dtype.F32, heap(bits16(halves)), Dtype.F16, halves.length);
        float[] actual = readF32(ema, halves.length);
        for (int i = 0; i < halves.length; i++) {
            // floatToIntBits tells -0 from 0 and makes every NaN one NaN.
            assertThat(Float.floatToIntBits(actual[i])).as("half 0x%04x", i)
                    .isEqualTo(Float.floatToIntBits(TensorBuffers.halfValue(halves[i])));
        }
    }

    @Test
    void updateWidensEveryHalfExactly() {
        short[] halves = new short[1 << 16];
        for (int i = 0; i < halves.length; i++) {
            halves[i] = (short) i;
        }
        for (boolean withSums : new boolean[] {false, true}) {
            // At decay 0 the update is -0 * 0 + 1 * x: exactly x, for every x.
            ByteBuffer ema = heap(f32(TensorBuffers.filled(halves.length, -0f)));
            if (withSums) {
                kernel().update(ema, Dtype.F32, heap(bits16(halves)), Dtype.F16, halves.length, 0.0, new DistanceSums());
            } else {
                kernel().update(ema, Dtype.F32, heap(bits16(halves)), Dtype.F16, halves.length, 0.0);
            }
            float[] actual = readF32(ema, halves.length);
            for (int i = 0; i < halves.length; i++) {
                assertThat(Float.floatToIntBits(actual[i])).as("half 0x%04x, sums %s", i, withSums)
                        .isEqualTo(Float.floatToIntBits(TensorBuffers.halfValue(halves[i])));
            }
        }
    }

    @Test
    void setConvertsBf16Exactly() {
        short[] bf16 = {0x3f80, (short) 0xc049, 0x0001, 0x7f7f, (short) 0x8000, 0x7f80, 0x7fc0};
        float[] expected = {1f, -3.140625f, 0x1p-133f, 0x1.fep127f, -0f, Float.POSITIVE_INFINITY, Float.NaN};
        ByteBuffer ema = emaF32(bf16.length);
        kernel().set(ema, Dtype.F32, heap(bits16(bf16)), Dtype.BF16, bf16.length);
        assertThat(readF32(ema, bf16.length)).containsExactly(expected);
    }

    @Test
    void setCopiesF32AndF64BitForBit() {
        byte[] floats = f32(-0f, 1.5f, Float.MIN_VALUE, Float.intBitsToFloat(0x7fc00123), Float.MAX_VALUE);
        ByteBuffer ema32 = ByteBuffer.allocate(floats.length);
        kernel().set(ema32, Dtype.F32, heap(floats), Dtype.F32, 5);
        assertThat(ema32.array()).containsExactly(floats);

        byte[] doubles = f64(-0.0, Math.PI, Double.MIN_VALUE, Double.longBitsToDouble(0x7ff8000000000abcL));
        ByteBuffer ema64 = ByteBuffer.allocate(doubles.length);
        kernel().set(ema64, Dtype.F64, heap(doubles), Dtype.F64, 4);
        assertThat(ema64.array()).containsExactly(doubles);
    }

    @ParameterizedTest
    @EnumSource(value = Dtype.class, names = {"I64", "I32", "I16", "I8", "U8", "BOOL"})
    void integersAreCopiedBytewiseBySetAndUpdate(Dtype dtype) {
        byte[] data = new byte[dtype.size() * 37];
        new Random(dtype.ordinal()).nextBytes(data);
        ByteBuffer ema = ByteBuffer.allocate(data.length);
        kernel().set(ema, dtype, heap(data), dtype, 37);
        assertThat(ema.array()).containsExactly(data);

        byte[] next = new byte[data.length];
        new Random(dtype.ordinal() + 100).nextBytes(next);
        kernel().update(ema, dtype, heap(next), dtype, 37, 0.999);
        assertThat(ema.array()).containsExactly(next);
    }

    @ParameterizedTest
    @EnumSource(value = Dtype.class, names = {"F32", "F16", "BF16"})
    void constantInputStaysConstant(Dtype input) {
        // 3.25, and about 0.1 and -0.1, in each type: 0.1 is inexact, so rounding is exercised.
        short[] constants = input == Dtype.F16 ? new short[] {0x4280, 0x2e66, (short) 0xae66}
                : new short[] {0x4050, 0x3dcd, (short) 0xbdcd};
        for (int c = 0; c < constants.length; c++) {
            byte[] x = input == Dtype.F32 ? f32(TensorBuffers.filled(8, new float[] {3.25f, 0.1f, -0.1f}[c]))
                    : bits16(TensorBuffers.filled(8, constants[c]));
            ByteBuffer ema = emaF32(8);
            kernel().set(ema, Dtype.F32, heap(x), input, 8);
            float start = readF32(ema, 1)[0];
            for (double decay : DECAYS) {
                for (int i = 0; i < 5; i++) {
                    kernel().update(ema, Dtype.F32, heap(x), input, 8, decay);
                }
            }
            for (float v : readF32(ema, 8)) {
                assertThat((double) Math.abs(v - start) / Math.abs(start)).isLessThanOrEqualTo(Tolerances.CONSTANT_RELATIVE);
            }
        }
    }

    @Test
    void constantF64InputStaysConstant() {
        ByteBuffer ema = ByteBuffer.wrap(f64(0.1, 0.1, 0.1));
        for (double decay : DECAYS) {
            kernel().update(ema, Dtype.F64, heap(f64(0.1, 0.1, 0.1)), Dtype.F64, 3, decay);
        }
        for (double v : readF64(ema, 3)) {
            assertThat(Math.abs(v - 0.1) / 0.1).isLessThanOrEqualTo(Tolerances.CONSTANT_RELATIVE_F64);
        }
    }

    @Test
    void decayZeroCopiesTheInput() {
        Random random = new Random(1);
        float[] x = TensorBuffers.randomFloats(random, MANY);
        ByteBuffer ema = ByteBuffer.wrap(f32(TensorBuffers.randomFloats(random, MANY)));
        kernel().update(ema, Dtype.F32, heap(f32(x)), Dtype.F32, MANY, 0.0);
        assertThat(readF32(ema, MANY)).containsExactly(x);
    }

    @Test
    void decayOneKeepsTheState() {
        Random random = new Random(2);
        float[] e = TensorBuffers.randomFloats(random, MANY);
        ByteBuffer ema = ByteBuffer.wrap(f32(e));
        kernel().update(ema, Dtype.F32, heap(f32(TensorBuffers.randomFloats(random, MANY))), Dtype.F32, MANY, 1.0);
        assertThat(readF32(ema, MANY)).containsExactly(e);
    }

    @ParameterizedTest
    @EnumSource(value = Dtype.class, names = {"F32", "F16", "BF16"})
    void f32UpdateEqualsScalarFloatArithmeticBitForBit(Dtype input) {
        Random random = new Random(3);
        float[] e = TensorBuffers.randomFloats(random, MANY);
        float[] x = new float[MANY];
        byte[] xBytes = randomInput(random, input, x);
        ByteBuffer ema = ByteBuffer.wrap(f32(e));
        for (double decay : DECAYS) {
            kernel().update(ema, Dtype.F32, heap(xBytes), input, MANY, decay);
            float d = (float) decay;
            float omd = (float) (1.0 - decay);
            for (int i = 0; i < MANY; i++) {
                e[i] = d * e[i] + omd * x[i];
            }
            assertThat(readF32(ema, MANY)).as("decay %s", decay).containsExactly(e);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Dtype.class, names = {"F32", "F16", "BF16"})
    void updateWithDistanceSumsWritesTheSameEmaAndSumsItsDistance(Dtype input) {
        Random random = new Random(5);
        float[] e = TensorBuffers.randomFloats(random, MANY);
        float[] x = new float[MANY];
        byte[] xBytes = randomInput(random, input, x);
        ByteBuffer plain = ByteBuffer.wrap(f32(e));
        ByteBuffer measured = ByteBuffer.wrap(f32(e));
        DistanceSums sums = new DistanceSums();
        kernel().update(plain, Dtype.F32, heap(xBytes), input, MANY, 0.9);
        kernel().update(measured, Dtype.F32, heap(xBytes), input, MANY, 0.9, sums);
        assertThat(measured.array()).containsExactly(plain.array());
        float[] updated = readF32(plain, MANY);
        double differences = 0;
        double raws = 0;
        for (int i = 0; i < MANY; i++) {
            differences += ((double) updated[i] - x[i]) * ((double) updated[i] - x[i]);
            raws += (double) x[i] * x[i];
        }
        assertThat(sums.differenceSquares()).isCloseTo(differences, SUMS_TOLERANCE);
        assertThat(sums.rawSquares()).isCloseTo(raws, SUMS_TOLERANCE);
        assertThat(sums.relative()).isCloseTo(Math.sqrt(differences / raws), SUMS_TOLERANCE);
    }

    @ParameterizedTest
    @EnumSource(value = Dtype.class, names = {"F32", "F16", "BF16"})
    void updatesEveryLengthWhereverTheBuffersSitBitForBit(Dtype input) {
        Random random = new Random(input.ordinal());
        for (int p = 0; p < PLACEMENTS.length; p++) {
            Placement emaPlace = PLACEMENTS[p];
            Placement xPlace = PLACEMENTS[(p + 2) % PLACEMENTS.length];
            for (int n : LENGTHS) {
                float[] e = TensorBuffers.randomFloats(random, n);
                float[] x = new float[n];
                byte[] xBytes = randomInput(random, input, x);
                ByteBuffer ema = emaPlace.holding(f32(e));
                ByteBuffer xs = xPlace.holding(xBytes);
                ByteBuffer plain = emaPlace.holding(f32(e));
                DistanceSums sums = new DistanceSums();
                kernel().update(ema, Dtype.F32, p % 2 == 0 ? xs : xs.asReadOnlyBuffer(), input, n, 0.9, sums);
                kernel().update(plain, Dtype.F32, xs, input, n, 0.9);
                double differences = 0;
                double raws = 0;
                for (int i = 0; i < n; i++) {
                    e[i] = 0.9f * e[i] + (float) (1.0 - 0.9) * x[i];
                    differences += ((double) e[i] - x[i]) * ((double) e[i] - x[i]);
                    raws += (double) x[i] * x[i];
                }
                String where = String.format("%d elements, %s into %s", n, xPlace, emaPlace);
                assertThat(readF32(ema, n)).as(where).containsExactly(e);
                assertThat(readF32(plain, n)).as(where).containsExactly(e);
                assertThat(TensorBuffers.guardsIntact(ema, 4 * n)).as(where).isTrue();
                assertThat(sums.differenceSquares()).as(where).isCloseTo(differences, SUMS_TOLERANCE);
                assertThat(sums.rawSquares()).as(where).isCloseTo(raws, SUMS_TOLERANCE);
            }
        }
    }

    @Test
    void updatesEveryF64LengthWhereverTheBuffersSitBitForBit() {
        Random random = new Random(8);
        for (int p = 0; p < PLACEMENTS.length; p++) {
            Placement emaPlace = PLACEMENTS[p];
            Placement xPlace = PLACEMENTS[(p + 2) % PLACEMENTS.length];
            for (int n : LENGTHS) {
                double[] e = random.doubles(n, -1, 1).toArray();
                double[] x = random.doubles(n, -1, 1).toArray();
                ByteBuffer ema = emaPlace.holding(f64(e));
                DistanceSums sums = new DistanceSums();
                kernel().update(ema, Dtype.F64, xPlace.holding(f64(x)), Dtype.F64, n, 0.75, sums);
                double differences = 0;
                double raws = 0;
                for (int i = 0; i < n; i++) {
                    e[i] = 0.75 * e[i] + (1.0 - 0.75) * x[i];
                    differences += (e[i] - x[i]) * (e[i] - x[i]);
                    raws += x[i] * x[i];
                }
                String where = String.format("%d elements, %s into %s", n, xPlace, emaPlace);
                assertThat(readF64(ema, n)).as(where).containsExactly(e);
                assertThat(TensorBuffers.guardsIntact(ema, 8 * n)).as(where).isTrue();
                assertThat(sums.differenceSquares()).as(where).isCloseTo(differences, Percentage.withPercentage(1e-9));
                assertThat(sums.rawSquares()).as(where).isCloseTo(raws, Percentage.withPercentage(1e-9));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Dtype.class, names = {"F16", "BF16"})
    void setWidensEveryLengthWhereverTheBuffersSit(Dtype input) {
        Random random = new Random(9);
        for (int p = 0; p < PLACEMENTS.length; p++) {
            for (int n : LENGTHS) {
                float[] x = new float[n];
                byte[] xBytes = randomInput(random, input, x);
                ByteBuffer ema = PLACEMENTS[p].holding(new byte[4 * n]);
                kernel().set(ema, Dtype.F32, PLACEMENTS[(p + 1) % PLACEMENTS.length].holding(xBytes), input, n);
                assertThat(readF32(ema, n)).as("%d elements into %s", n, PLACEMENTS[p]).containsExactly(x);
                assertThat(TensorBuffers.guardsIntact(ema, 4 * n)).isTrue();
            }
        }
    }

    @Test
    void f64UpdateWithDistanceSumsSumsItsDistance() {
        ByteBuffer ema = ByteBuffer.wrap(f64(1.0, 2.0));
        DistanceSums sums = new DistanceSums();
        kernel().update(ema, Dtype.F64, heap(f64(3.0, 2.0)), Dtype.F64, 2, 0.5, sums);
        // ema becomes (2, 2): distance (2 - 3)^2 + 0 against 3^2 + 2^2.
        assertThat(readF64(ema, 2)).containsExactly(2.0, 2.0);
        assertThat(sums.differenceSquares()).isEqualTo(1.0);
        assertThat(sums.rawSquares()).isEqualTo(13.0);
    }

    @Test
    void f64UpdateWithDistanceSumsOverManyBlocksWritesTheSameEmaAndSumsItsDistance() {
        Random random = new Random(7);
        double[] e = new double[MANY];
        double[] x = new double[MANY];
        for (int i = 0; i < MANY; i++) {
            e[i] = random.nextGaussian();
            x[i] = random.nextGaussian();
        }
        ByteBuffer plain = ByteBuffer.wrap(f64(e));
        ByteBuffer measured = ByteBuffer.wrap(f64(e));
        DistanceSums sums = new DistanceSums();
        kernel().update(plain, Dtype.F64, heap(f64(x)), Dtype.F64, MANY, 0.9);
        kernel().update(measured, Dtype.F64, heap(f64(x)), Dtype.F64, MANY, 0.9, sums);
        assertThat(measured.array()).containsExactly(plain.array());
        double[] updated = readF64(plain, MANY);
        double differences = 0;
        double raws = 0;
        for (int i = 0; i < MANY; i++) {
            differences += (updated[i] - x[i]) * (updated[i] - x[i]);
            raws += x[i] * x[i];
        }
        assertThat(sums.differenceSquares()).isCloseTo(differences, Percentage.withPercentage(1e-9));
        assertThat(sums.rawSquares()).isCloseTo(raws, Percentage.withPercentage(1e-9));
    }

    @ParameterizedTest
    @EnumSource(value = Dtype.class, names = {"F32", "BF16"})
    void distanceSumsOfValuesWhoseSquaresOverflowOrUnderflowFloatAreStillRight(Dtype input) {
        // Long enough for several groups of blocks in any kernel that sums in groups; 2^70 squared
        // overflows float and 2^-70 squared is below its range, here in the middle of the tensor.
        int count = 5 * 16_384 + 7;
        for (float magnitude : new float[] {0x1p70f, 0x1p-70f}) {
            float[] x = new float[count];
            for (int i = 0; i < count; i++) {
                x[i] = i > 20_000 && i < 40_000 ? magnitude : (i % 3) - 1;
            }
            byte[] xBytes = input == Dtype.F32 ? f32(x) : bf16Of(x);
            ByteBuffer ema = ByteBuffer.wrap(f32(new float[count]));
            DistanceSums sums = new DistanceSums();
            kernel().update(ema, Dtype.F32, heap(xBytes), input, count, 0.5, sums);
            float[] updated = readF32(ema, count);
            double differences = 0;
            double raws = 0;
            for (int i = 0; i < count; i++) {
                differences += ((double) updated[i] - x[i]) * ((double) updated[i] - x[i]);
                raws += (double) x[i] * x[i];
            }
            assertThat(sums.differenceSquares()).as("magnitude %s", magnitude).isCloseTo(differences, SUMS_TOLERANCE);
            assertThat(sums.rawSquares()).as("magnitude %s", magnitude).isCloseTo(raws, SUMS_TOLERANCE);
        }
    }

    private static byte[] bf16Of(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(2 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
        }
        return b.array();
    }

    @Test
    void integerTensorsAddNothingToTheDistance() {
        ByteBuffer ema = ByteBuffer.allocate(8);
        DistanceSums sums = new DistanceSums();
        kernel().update(ema, Dtype.I64, heap(new byte[] {7, 0, 0, 0, 0, 0, 0, 0}), Dtype.I64, 1, 0.5, sums);
        assertThat(ema.get(0)).isEqualTo((byte) 7);
        assertThat(sums.differenceSquares()).isZero();
        assertThat(sums.rawSquares()).isZero();
    }

    @Test
    void f64UpdateEqualsScalarDoubleArithmeticBitForBit() {
        Random random = new Random(4);
        double[] e = random.doubles(MANY).toArray();
        double[] x = random.doubles(MANY, -1, 1).toArray();
        ByteBuffer ema = ByteBuffer.wrap(f64(e));
        for (double decay : DECAYS) {
            kernel().update(ema, Dtype.F64, heap(f64(x)), Dtype.F64, MANY, decay);
            for (int i = 0; i < MANY; i++) {
                e[i] = decay * e[i] + (1.0 - decay) * x[i];
            }
            assertThat(readF64(ema, MANY)).as("decay %s", decay).containsExactly(e);
        }
    }

    @ParameterizedTest
    @EnumSource(Placement.class)
    void worksWhereverTheBuffersSitWithoutMovingThem(Placement placement) {
        for (Placement other : Placement.values()) {
            Random random = new Random(5);
            int n = 1_001;
            float[] e = TensorBuffers.randomFloats(random, n);
            short[] halves = TensorBuffers.randomFiniteHalves(random, n);
            ByteBuffer ema = placement.holding(f32(e)).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer x = other.holding(bits16(halves)).asReadOnlyBuffer();
            int emaPosition = ema.position();
            int emaLimit = ema.limit();
            int xPosition = x.position();
            int xLimit = x.limit();

            kernel().update(ema, Dtype.F32, x, Dtype.F16, n, 0.75);

            for (int i = 0; i < n; i++) {
                e[i] = 0.75f * e[i] + 0.25f * TensorBuffers.halfValue(halves[i]);
            }
            assertThat(readF32(ema, n)).as("%s into %s", other, placement).containsExactly(e);
            assertThat(ema.position()).isEqualTo(emaPosition);
            assertThat(ema.limit()).isEqualTo(emaLimit);
            assertThat(ema.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
            assertThat(x.position()).isEqualTo(xPosition);
            assertThat(x.limit()).isEqualTo(xLimit);
            assertThat(x.order()).isEqualTo(ByteOrder.BIG_ENDIAN);
            assertThat(TensorBuffers.guardsIntact(ema, 4 * n)).as("bytes outside the EMA region").isTrue();
        }
    }

    @Test
    void bf16InputAccumulatedInF32KeepsSmallUpdates() {
        // The next bf16 above 1 is 1 + 2^-7. At decay 0.9999 an update adds 7.8e-7: a bf16 EMA
        // (spacing 2^-7 near 1) rounds that back to 1, a float32 one (spacing 1.2e-7) keeps it.
        float bf16Ema = 0.9999f * 1f + (float) (1 - 0.9999) * (1f + 0x1p-7f);
        assertThat(Math.round(bf16Ema * 128) / 128f).isEqualTo(1f);
        ByteBuffer ema = ByteBuffer.wrap(f32(1f));
        ByteBuffer x = heap(bits16((short) 0x3f81));
        kernel().update(ema, Dtype.F32, x, Dtype.BF16, 1, 0.9999);
        assertThat(readF32(ema, 1)[0]).isGreaterThan(1f);
        for (int i = 1; i < 1_000; i++) {
            kernel().update(ema, Dtype.F32, x, Dtype.BF16, 1, 0.9999);
        }
        double expectedMove = 0x1p-7 * (1 - Math.pow(0.9999, 1_000));
        double move = readF32(ema, 1)[0] - 1.0;
        assertThat(Math.abs(move - expectedMove) / expectedMove).isLessThan(Tolerances.SMALL_UPDATE_MOVE_RELATIVE);
    }

    @Test
    void zeroElementsChangeNothing() {
        ByteBuffer ema = ByteBuffer.wrap(f32(2f));
        kernel().update(ema, Dtype.F32, ByteBuffer.allocate(0), Dtype.F32, 0, 0.5);
        kernel().set(ema, Dtype.F32, ByteBuffer.allocate(0), Dtype.BF16, 0);
        assertThat(readF32(ema, 1)).containsExactly(2f);
    }

    @Test
    void mismatchedDtypesAreRejectedNamingBoth() {
        ByteBuffer ema = ByteBuffer.allocate(64);
        ByteBuffer x = ByteBuffer.allocate(64);
        assertThatThrownBy(() -> kernel().update(ema, Dtype.F16, x, Dtype.F16, 4, 0.5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F16").hasMessageContaining("F32");
        assertThatThrownBy(() -> kernel().set(ema, Dtype.F64, x, Dtype.F32, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64").hasMessageContaining("F32");
        assertThatThrownBy(() -> kernel().update(ema, Dtype.F32, x, Dtype.I32, 4, 0.5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I32").hasMessageContaining("F32");
    }

    @Test
    void invalidArgumentsAreRejected() {
        ByteBuffer ema = ByteBuffer.allocate(16);
        ByteBuffer x = ByteBuffer.allocate(16);
        assertThatThrownBy(() -> kernel().update(ema, Dtype.F32, x, Dtype.F32, 5, 0.5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16 bytes");
        assertThatThrownBy(() -> kernel().update(ema, Dtype.F32, x, Dtype.F32, 4, Double.NaN))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NaN");
        assertThatThrownBy(() -> kernel().update(ema, Dtype.F32, x, Dtype.F32, 4, 1.5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1.5");
        assertThatThrownBy(() -> kernel().set(ema, Dtype.F32, x, Dtype.F32, -1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
        assertThatThrownBy(() -> kernel().set(ema.asReadOnlyBuffer(), Dtype.F32, x, Dtype.F32, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("read-only");
    }

    /** Random input of a floating type, with the exact float values it stands for in {@code values}. */
    private static byte[] randomInput(Random random, Dtype input, float[] values) {
        if (input == Dtype.F32) {
            System.arraycopy(TensorBuffers.randomFloats(random, values.length), 0, values, 0, values.length);
            return f32(values);
        }
        short[] bits = input == Dtype.F16 ? TensorBuffers.randomFiniteHalves(random, values.length) : new short[values.length];
        for (int i = 0; i < values.length; i++) {
            if (input == Dtype.BF16) {
                bits[i] = (short) (Float.floatToIntBits((float) random.nextGaussian()) >>> 16);
                values[i] = Float.intBitsToFloat((bits[i] & 0xffff) << 16);
            } else {
                values[i] = TensorBuffers.halfValue(bits[i]);
            }
        }
        return bits16(bits);
    }
}
