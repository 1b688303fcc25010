package io.averager.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class KernelsTest {

    @Test
    void javaNamesThePlainJavaKernel() {
        assertThat(Kernels.byName("java")).isInstanceOf(JavaKernel.class);
        assertThat(Kernels.names()).contains("java");
    }

    @Test
    void unknownNameIsRejectedListingValidNames() {
        assertThatThrownBy(() -> Kernels.byName("cuda"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'cuda'")
                .hasMessageContaining("[java]");
        assertThatThrownBy(() -> Kernels.byName(null)).isInstanceOf(IllegalArgumentException.class);
    }
}
