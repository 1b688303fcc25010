package io.averager.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class Float16Test {

    @Test
    void tableWidensEveryHalfToTheSameBitsAsTheArithmetic() {
        for (int h = 0; h < 1 << 16; h++) {
            float byTable = Float16.halfToFloatByTable((short) h);
            float computed = Float16.halfToFloat((short) h);
            assertThat(Float.floatToRawIntBits(byTable)).as("half 0x%04x", h).isEqualTo(Float.floatToRawIntBits(computed));
        }
    }
}
