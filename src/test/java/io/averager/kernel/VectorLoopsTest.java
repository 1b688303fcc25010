package io.averager.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/** What the kernel contract cannot reach directly: the vector widening of every half. */
class VectorLoopsTest {

    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;

    @Test
    void widensEveryHalfToTheSameBitsAsFloat16() {
        // Sign-extended, as the loops widen them; every lane of every vector is checked, NaN payloads included.
        int[] halves = new int[1 << 16];
        for (int h = 0; h < halves.length; h++) {
            halves[h] = (short) h;
        }
        float[] widened = new float[halves.length];
        for (int i = 0; i < halves.length; i += INTS.length()) {
            VectorLoops.halfToFloat(IntVector.fromArray(INTS, halves, i)).intoArray(widened, i);
        }
        for (int h = 0; h < halves.length; h++) {
            assertThat(Float.floatToRawIntBits(widened[h])).as("half 0x%04x", h)
                    .isEqualTo(Float.floatToRawIntBits(Float16.halfToFloat((short) h)));
        }
    }

    @Test
    void coversWholeVectorsOnly() {
        int lanes = VectorLoops.bits() / 32;
        assertThat(VectorLoops.covered(3 * lanes + 1)).isEqualTo(3 * lanes);
        assertThat(VectorLoops.covered(lanes - 1)).isZero();
        assertThat(VectorLoops.coveredDoubles(3 * lanes / 2 + 1)).isEqualTo(3 * lanes / 2);
    }
}
