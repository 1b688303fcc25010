package io.averager.ema;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TensorSpecTest {

    @Test
    void scalarHasOneElement() {
        TensorSpec scalar = new TensorSpec("bn.num_batches_tracked", Dtype.I64, new long[0]);
        assertThat(scalar.numel()).isEqualTo(1);
        assertThat(scalar.byteSize()).isEqualTo(8);
    }

    @Test
    void numelIsTheProductOfDimensions() {
        TensorSpec spec = new TensorSpec("conv.weight", Dtype.BF16, new long[] {64, 3, 7, 7});
        assertThat(spec.numel()).isEqualTo(64 * 3 * 7 * 7);
        assertThat(spec.byteSize()).isEqualTo(2L * 64 * 3 * 7 * 7);
    }

    @Test
    void emptyDimensionGivesNoElements() {
        assertThat(new TensorSpec("empty", Dtype.F32, new long[] {5, 0}).numel()).isZero();
    }

    @Test
    void overflowingSizeThrows() {
        TensorSpec huge = new TensorSpec("huge", Dtype.F32, new long[] {1L << 32, 1L << 32});
        assertThatThrownBy(huge::numel).isInstanceOf(ArithmeticException.class);
        TensorSpec bytesOverflow = new TensorSpec("big", Dtype.F64, new long[] {1L << 61});
        assertThat(bytesOverflow.numel()).isEqualTo(1L << 61);
        assertThatThrownBy(bytesOverflow::byteSize).isInstanceOf(ArithmeticException.class);
    }

    @Test
    void negativeDimensionIsRejectedNamingTheTensor() {
        assertThatThrownBy(() -> new TensorSpec("fc.bias", Dtype.F32, new long[] {3, -1}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("fc.bias")
                .hasMessageContaining("-1");
    }

    @Test
    void nullPartsAreRejected() {
        assertThatThrownBy(() -> new TensorSpec("w", Dtype.F32, null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> new TensorSpec("w", null, new long[0])).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> new TensorSpec(null, Dtype.F32, new long[0])).isInstanceOf(NullPointerException.class);
    }

    @Test
    void equalityUsesShapeContents() {
        TensorSpec a = new TensorSpec("w", Dtype.F32, new long[] {2, 3});
        TensorSpec b = new TensorSpec("w", Dtype.F32, new long[] {2, 3});
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b);
        assertThat(a).isNotEqualTo(new TensorSpec("w", Dtype.F32, new long[] {3, 2}));
        assertThat(a).isNotEqualTo(new TensorSpec("w", Dtype.F16, new long[] {2, 3}));
        assertThat(a.toString()).contains("[2, 3]");
    }

    @Test
    void shapeCannotBeChangedFromOutside() {
        long[] dims = {2, 3};
        TensorSpec spec = new TensorSpec("w", Dtype.F32, dims);
        dims[0] = 100;
        spec.shape()[1] = 100;
        assertThat(spec.shape()).containsExactly(2, 3);
    }
}
