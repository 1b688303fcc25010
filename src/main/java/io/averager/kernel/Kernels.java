package io.averager.kernel;

import java.util.List;

/** Looks up a {@link Kernel} by the name used in configuration. Thread-safe. */
public final class Kernels {

    /** Name of {@link JavaKernel}, the default. */
    public static final String JAVA = "java";

    private static final Kernel JAVA_KERNEL = new JavaKernel();

    private Kernels() {
    }

    /** The names {@link #byName(String)} accepts. */
    public static List<String> names() {
        return List.of(JAVA);
    }

    /**
     * The kernel with this name; stateless kernels are shared.
     *
     * @throws IllegalArgumentException naming the value and listing the valid names
     */
    public static Kernel byName(String name) {
        if (JAVA.equals(name)) {
            return JAVA_KERNEL;
        }
        throw new IllegalArgumentException(
                "Unknown kernel " + (name == null ? "null" : "'" + name + "'") + "; expected one of " + names());
    }
}
