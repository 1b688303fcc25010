/**
 * Where the EMA arithmetic runs: the {@link io.averager.kernel.Kernel} contract over
 * little-endian tensor bytes, the plain-Java implementation that is the default (Vector API loops
 * when the JVM has {@code jdk.incubator.vector}, scalar loops otherwise), the PyTorch one
 * ({@link io.averager.kernel.TorchKernel}, CPU or CUDA through DJL, loaded only when named), and
 * {@link io.averager.kernel.Kernels} to pick one by its configured name and device.
 *
 * <p>Kernels know dtypes and bytes, not runs, steps or schedules: the caller works out the
 * decay with {@link io.averager.ema.Profile} and hands the kernel one chunk at a time.
 */
package io.averager.kernel;
