package io.averager.kernel;

/** The contract on the Java kernel's scalar loops, which run when the vector module is absent. */
class JavaKernelScalarTest extends KernelContractTest {

    @Override
    Kernel kernel() {
        return JavaKernel.scalar();
    }
}
