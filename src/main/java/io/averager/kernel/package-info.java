/**
 * Where the EMA arithmetic runs: the {@link io.averager.kernel.Kernel} contract over
 * little-endian tensor bytes, the plain-Java implementation that is the default, and
 * {@link io.averager.kernel.Kernels} to pick one by its configured name.
 *
 * <p>Kernels know dtypes and bytes, not runs, steps or schedules: the caller works out the
 * decay with {@link io.averager.ema.Profile} and hands the kernel one chunk at a time.
 */
package io.averager.kernel;
