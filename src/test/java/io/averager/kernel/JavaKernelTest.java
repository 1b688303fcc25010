package io.averager.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The contract on the default Java kernel: the vector loops, which the build runs tests with. */
class JavaKernelTest extends KernelContractTest {

    @Override
    Kernel kernel() {
        return new JavaKernel();
    }

    @Test
    void runsTheVectorLoopsWhenTheModuleIsPresent() {
        // Surefire starts the JVM with --add-modules jdk.incubator.vector; without it this suite
        // would test the scalar loops twice.
        assertThat(JavaKernel.VECTORS).isTrue();
        assertThat(JavaKernel.loops()).startsWith("vector, ");
    }
}
