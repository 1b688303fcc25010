package io.averager.kernel;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Looks up a {@link Kernel} by the name used in configuration. Thread-safe. Only a request for
 * {@value #TORCH} loads DJL and the PyTorch native library.
 */
public final class Kernels {

    /** Name of {@link JavaKernel}, the default. */
    public static final String JAVA = "java";
    /** Name of {@link TorchKernel}. */
    public static final String TORCH = "torch";
    /** The device a kernel runs on when none is named. */
    public static final String CPU = "cpu";

    private static final Pattern CUDA = Pattern.compile("cuda:(0|[1-9][0-9]{0,3})");
    private static final Kernel JAVA_KERNEL = new JavaKernel();

    private Kernels() {
    }

    /** The names {@link #byName(String)} accepts. */
    public static List<String> names() {
        return List.of(JAVA, TORCH);
    }

    /**
     * The kernel with this name, on the CPU; stateless kernels are shared.
     *
     * @throws IllegalArgumentException naming the value and listing the valid names
     */
    public static Kernel byName(String name) {
        return byName(name, CPU);
    }

    /**
     * The kernel with this name on this device ({@code cpu} or {@code cuda:N}); {@value #JAVA}
     * runs on the CPU only.
     *
     * @throws IllegalArgumentException naming the value and what was expected
     * @throws io.averager.AveragerException if PyTorch cannot be loaded or lacks the device
     */
    public static Kernel byName(String name, String device) {
        checkDevice(device);
        if (JAVA.equals(name)) {
            if (!CPU.equals(device)) {
                throw new IllegalArgumentException(
                        "Kernel 'java' runs on the CPU, not '" + device + "'; expected device 'cpu' or kernel 'torch'");
            }
            return JAVA_KERNEL;
        }
        if (TORCH.equals(name)) {
            return new TorchKernel(device);
        }
        throw new IllegalArgumentException(
                "Unknown kernel " + (name == null ? "null" : "'" + name + "'") + "; expected one of " + names());
    }

    /**
     * Checks a device name.
     *
     * @throws IllegalArgumentException naming the value and the valid forms
     */
    public static void checkDevice(String device) {
        gpuIndex(device);
    }

    /** -1 for {@code cpu}, N for {@code cuda:N}. */
    static int gpuIndex(String device) {
        if (CPU.equals(device)) {
            return -1;
        }
        Matcher cuda = device == null ? null : CUDA.matcher(device);
        if (cuda == null || !cuda.matches()) {
            throw new IllegalArgumentException("Unknown device " + (device == null ? "null" : "'" + device + "'")
                    + "; expected 'cpu' or 'cuda:N' with N a device index such as 0");
        }
        return Integer.parseInt(cuda.group(1));
    }
}
