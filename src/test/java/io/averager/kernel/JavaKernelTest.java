package io.averager.kernel;

class JavaKernelTest extends KernelContractTest {

    @Override
    Kernel kernel() {
        return new JavaKernel();
    }
}
