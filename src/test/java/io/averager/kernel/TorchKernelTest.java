package io.averager.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.AveragerException;
import io.averager.ema.Dtype;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Paths;
import org.junit.jupiter.api.Test;

/** The contract on PyTorch's CPU kernels, from the native jar on the test class path. */
class TorchKernelTest extends KernelContractTest {

    // Loading the engine is slow; the kernel holds no per-call state, so the tests share one.
    private static final TorchKernel KERNEL = new TorchKernel("cpu");

    @Override
    Kernel kernel() {
        return KERNEL;
    }

    @Test
    void runsOfflineOnTheCpu() {
        assertThat(KERNEL.device()).isEqualTo("cpu()");
        assertThat(System.getProperty("ai.djl.offline", System.getenv("DJL_OFFLINE"))).isEqualTo("true");
        assertThat(Kernels.byName("torch")).isInstanceOf(TorchKernel.class);
    }

    @Test
    void missingCudaDeviceIsAClearError() {
        assertThatThrownBy(() -> new TorchKernel("cuda:7"))
                .isInstanceOf(AveragerException.class)
                .hasMessageContaining("cuda:7")
                .hasMessageContaining("CUDA device");
    }

    @Test
    void manyUpdatesReleaseTheirNativeMemory() throws IOException {
        int count = 1 << 20;
        ByteBuffer ema = ByteBuffer.allocateDirect(4 * count).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer x = ByteBuffer.allocateDirect(2 * count).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < count; i++) {
            x.putShort(2 * i, (short) 0x3c00);
        }
        // Each update makes two 4 MiB temporaries; kept, 200 updates would hold 1.6 GiB.
        for (int i = 0; i < 20; i++) {
            KERNEL.update(ema, Dtype.F32, x, Dtype.F16, count, 0.9);
        }
        long before = residentBytes();
        for (int i = 0; i < 200; i++) {
            KERNEL.update(ema, Dtype.F32, x, Dtype.F16, count, 0.9);
        }
        long grown = residentBytes() - before;
        assertThat(grown).as("resident memory growth in bytes").isLessThan(256L << 20);
        assertThat(ema.getFloat(0)).isBetween(0.999f, 1f);
    }

    private static long residentBytes() throws IOException {
        for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("No VmRSS in /proc/self/status");
    }
}
