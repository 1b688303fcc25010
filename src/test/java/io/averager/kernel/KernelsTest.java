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
                .hasMessageContaining("[java, torch]");
        assertThatThrownBy(() -> Kernels.byName(null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void devicesAreCpuOrCudaWithAnIndex() {
        Kernels.checkDevice("cpu");
        Kernels.checkDevice("cuda:0");
        Kernels.checkDevice("cuda:12");
        for (String bad : new String[] {"gpu", "cuda", "cuda:", "cuda:-1", "cuda:01", "CPU", "cuda:0 ", ""}) {
            assertThatThrownBy(() -> Kernels.checkDevice(bad)).as(bad)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'" + bad + "'")
                    .hasMessageContaining("cuda:N");
        }
        assertThatThrownBy(() -> Kernels.checkDevice(null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void javaKernelRunsOnTheCpuOnly() {
        assertThat(Kernels.byName("java", "cpu")).isInstanceOf(JavaKernel.class);
        assertThatThrownBy(() -> Kernels.byName("java", "cuda:0"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cuda:0");
    }
}
