package io.averager.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/** Known answers for the scan that finds NaN and infinities in tensor bytes, per dtype. */
class NonFiniteTest {

    @Test
    void findsTheFirstNonFiniteFloat32AndNamesIt() {
        ByteBuffer x = ByteBuffer.wrap(TensorBuffers.f32(1, Float.MAX_VALUE, -0f, Float.NaN, Float.POSITIVE_INFINITY));

        assertThat(NonFinite.firstIndex(x, Dtype.F32, 5)).isEqualTo(3);
        assertThat(NonFinite.describe(x, Dtype.F32, 3)).isEqualTo("NaN");
        assertThat(NonFinite.describe(x, Dtype.F32, 4)).isEqualTo("+Inf");
    }

    @Test
    void findsANegativeInfinityInFloat64AfterTheLargestFiniteValues() {
        ByteBuffer x = le(8, Double.doubleToRawLongBits(Double.MAX_VALUE), Double.doubleToRawLongBits(-Double.MAX_VALUE),
                Double.doubleToRawLongBits(Double.MIN_VALUE), Double.doubleToRawLongBits(Double.NEGATIVE_INFINITY));

        assertThat(NonFinite.firstIndex(x, Dtype.F64, 4)).isEqualTo(3);
        assertThat(NonFinite.describe(x, Dtype.F64, 3)).isEqualTo("-Inf");
    }

    @Test
    void readsHalfPrecisionBitsNotTheirFloatValue() {
        // 0x7BFF is the largest finite half (65504), 0x0001 the smallest subnormal; 0x7C00 is +Inf.
        assertThat(NonFinite.firstIndex(le(2, 0x7BFF, 0xFBFF, 0x0001, 0x7C00), Dtype.F16, 4)).isEqualTo(3);
        assertThat(NonFinite.firstIndex(le(2, 0x7BFF, 0xFE01), Dtype.F16, 2)).isEqualTo(1);
        assertThat(NonFinite.describe(le(2, 0xFC00), Dtype.F16, 0)).isEqualTo("-Inf");
    }

    @Test
    void readsBfloat16Bits() {
        // 0x7F7F is the largest finite bfloat16; 0x7FC0 a NaN; 0xFF80 is -Inf.
        assertThat(NonFinite.firstIndex(le(2, 0x7F7F, 0xFF7F, 0x7FC0), Dtype.BF16, 3)).isEqualTo(2);
        assertThat(NonFinite.describe(le(2, 0x7FC0), Dtype.BF16, 0)).isEqualTo("NaN");
        assertThat(NonFinite.describe(le(2, 0xFF80), Dtype.BF16, 0)).isEqualTo("-Inf");
    }

    @Test
    void scansOnlyTheGivenCountFromTheBuffersPositionAndLeavesItAsItWas() {
        ByteBuffer x = TensorBuffers.Placement.HEAP_AT_POSITION_3.holding(TensorBuffers.f32(1, 2, Float.NaN));
        int position = x.position();

        assertThat(NonFinite.firstIndex(x, Dtype.F32, 2)).isEqualTo(-1);
        assertThat(NonFinite.firstIndex(x, Dtype.F32, 3)).isEqualTo(2);
        assertThat(x.position()).isEqualTo(position);
    }

    @ParameterizedTest
    @EnumSource(value = Dtype.class, names = {"I64", "I32", "I16", "I8", "U8", "BOOL"})
    void integerAndBoolDataIsAlwaysFinite(Dtype dtype) {
        byte[] allOnes = new byte[dtype.size() * 3];
        Arrays.fill(allOnes, (byte) 0xFF);
        byte[] exponentBits = new byte[dtype.size() * 3];
        Arrays.fill(exponentBits, (byte) 0x7F);

        assertThat(NonFinite.firstIndex(ByteBuffer.wrap(allOnes), dtype, 3)).isEqualTo(-1);
        assertThat(NonFinite.firstIndex(ByteBuffer.wrap(exponentBits), dtype, 3)).isEqualTo(-1);
    }

    /** Every floating type, scanned with vectors and without. */
    static Stream<Arguments> scans() {
        return Stream.of(Dtype.F32, Dtype.F64, Dtype.F16, Dtype.BF16)
                .flatMap(dtype -> Stream.of(Arguments.of(dtype, true), Arguments.of(dtype, false)));
    }

    @ParameterizedTest
    @MethodSource("scans")
    void findsTheFirstNonFiniteElementAtAndAroundScanBlockBoundaries(Dtype dtype, boolean vectors) {
        // The scalar scan tests 2 048 words a block: 2 048 elements, or 4 096 for half precision;
        // vectors hold 2 to 32 elements.
        int count = 3 * 4096 + 3;
        int[] places = {0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 33, 63, 64, 127, 128, 2047, 2048, 2049, 4095, 4096, 4097,
            6143, 6144, 8191, 8192, 12287, 12288, count - 1};
        for (int place : places) {
            for (boolean nan : new boolean[] {true, false}) {
                ByteBuffer x = largestFinite(dtype, count, 3);
                put(x, dtype, place, nan);
                put(x, dtype, Math.min(count - 1, place + 1 + place % 5), true);

                assertThat(NonFinite.firstIndex(x, dtype, count, vectors)).as("%s at %d", nan ? "NaN" : "Inf", place)
                        .isEqualTo(place);
                assertThat(NonFinite.firstIndex(x, dtype, place, vectors)).as("before %d", place).isEqualTo(-1);
            }
        }
        assertThat(NonFinite.firstIndex(largestFinite(dtype, count, 3), dtype, count, vectors)).isEqualTo(-1);
    }

    @ParameterizedTest
    @MethodSource("scans")
    void findsANonFiniteElementInEveryShortTensorWhereverTheBufferSits(Dtype dtype, boolean vectors) {
        for (TensorBuffers.Placement placement : TensorBuffers.Placement.values()) {
            for (int count = 1; count <= 70; count++) {
                for (int place = 0; place < count; place++) {
                    ByteBuffer x = placement.holding(bytes(largestFinite(dtype, count, 0), count * dtype.size()));
                    put(x, dtype, place, place % 2 == 0);
                    assertThat(NonFinite.firstIndex(x, dtype, count, vectors))
                            .as("%d of %d in %s", place, count, placement).isEqualTo(place);
                }
                ByteBuffer finite = placement.holding(bytes(largestFinite(dtype, count, 0), count * dtype.size()));
                assertThat(NonFinite.firstIndex(finite, dtype, count, vectors)).isEqualTo(-1);
            }
        }
    }

    @Test
    void theDefaultScanUsesVectorsWhenTheModuleIsPresent() {
        assertThat(JavaKernel.VECTORS).isTrue();
    }

    private static byte[] bytes(ByteBuffer b, int length) {
        byte[] out = new byte[length];
        b.duplicate().get(out);
        return out;
    }

    /** {@code count} elements of the largest finite value's bits, alternating in sign, after {@code offset} bytes. */
    private static ByteBuffer largestFinite(Dtype dtype, int count, int offset) {
        ByteBuffer b = ByteBuffer.allocate(offset + count * dtype.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < count; i++) {
            long sign = i % 2 == 0 ? 0 : 1;
            int at = offset + i * dtype.size();
            switch (dtype) {
                case F32 -> b.putInt(at, Float.floatToRawIntBits(Float.MAX_VALUE) | (int) (sign << 31));
                case F64 -> b.putLong(at, Double.doubleToRawLongBits(Double.MAX_VALUE) | sign << 63);
                case F16 -> b.putShort(at, (short) (0x7BFF | sign << 15));
                case BF16 -> b.putShort(at, (short) (0x7F7F | sign << 15));
                default -> throw new IllegalArgumentException(dtype.toString());
            }
        }
        // Big-endian on purpose: the scan must read little-endian whatever the buffer's order.
        return b.position(offset).order(ByteOrder.BIG_ENDIAN).slice().position(0).limit(count * dtype.size());
    }

    private static void put(ByteBuffer x, Dtype dtype, int i, boolean nan) {
        ByteBuffer b = x.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int at = b.position() + i * dtype.size();
        switch (dtype) {
            case F32 -> b.putInt(at, nan ? 0x7FC0_0001 : 0xFF80_0000);
            case F64 -> b.putLong(at, nan ? 0x7FF0_0000_0000_0001L : 0x7FF0_0000_0000_0000L);
            case F16 -> b.putShort(at, (short) (nan ? 0xFE01 : 0x7C00));
            case BF16 -> b.putShort(at, (short) (nan ? 0xFFC1 : 0x7F80));
            default -> throw new IllegalArgumentException(dtype.toString());
        }
    }

    @Test
    void refusesACountLongerThanTheBuffer() {
        assertThatThrownBy(() -> NonFinite.firstIndex(ByteBuffer.allocate(6), Dtype.F32, 2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("2 F32 elements do not fit in 6 bytes");
    }

    /** Little-endian elements of {@code size} bytes with the given bits. */
    private static ByteBuffer le(int size, long... bits) {
        ByteBuffer b = ByteBuffer.allocate(bits.length * size).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : bits) {
            if (size == 8) {
                b.putLong(v);
            } else {
                b.putShort((short) v);
            }
        }
        return b.flip();
    }
}
