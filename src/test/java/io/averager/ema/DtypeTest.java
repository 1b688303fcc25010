package io.averager.ema;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class DtypeTest {

    @Test
    void sizesAreBytesPerElement() {
        assertThat(Dtype.F64.size()).isEqualTo(8);
        assertThat(Dtype.I64.size()).isEqualTo(8);
        assertThat(Dtype.F32.size()).isEqualTo(4);
        assertThat(Dtype.I32.size()).isEqualTo(4);
        assertThat(Dtype.F16.size()).isEqualTo(2);
        assertThat(Dtype.BF16.size()).isEqualTo(2);
        assertThat(Dtype.I16.size()).isEqualTo(2);
        assertThat(Dtype.I8.size()).isEqualTo(1);
        assertThat(Dtype.U8.size()).isEqualTo(1);
        assertThat(Dtype.BOOL.size()).isEqualTo(1);
    }

    @Test
    void onlyFloatTypesAreFloating() {
        assertThat(Dtype.values()).filteredOn(Dtype::floating)
                .containsExactlyInAnyOrder(Dtype.F32, Dtype.F16, Dtype.BF16, Dtype.F64);
    }

    @Test
    void halfTypesAccumulateInF32AndF64InItself() {
        assertThat(Dtype.F16.accumulator()).isEqualTo(Dtype.F32);
        assertThat(Dtype.BF16.accumulator()).isEqualTo(Dtype.F32);
        assertThat(Dtype.F32.accumulator()).isEqualTo(Dtype.F32);
        assertThat(Dtype.F64.accumulator()).isEqualTo(Dtype.F64);
    }

    @Test
    void integerAndBoolTypesAccumulateInThemselves() {
        for (Dtype dtype : new Dtype[] {Dtype.I64, Dtype.I32, Dtype.I16, Dtype.I8, Dtype.U8, Dtype.BOOL}) {
            assertThat(dtype.accumulator()).isEqualTo(dtype);
        }
    }

    @Test
    void parsesSafetensorsNames() {
        for (Dtype dtype : Dtype.values()) {
            assertThat(Dtype.parse(dtype.name())).isEqualTo(dtype);
        }
    }

    @Test
    void parseErrorNamesTheValueAndListsValidNames() {
        assertThatThrownBy(() -> Dtype.parse("float32"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'float32'")
                .hasMessageContaining("F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL");
        assertThatThrownBy(() -> Dtype.parse(null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("null");
    }
}
