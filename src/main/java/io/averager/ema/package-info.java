/**
 * The EMA arithmetic's vocabulary and decay schedules: element types ({@link io.averager.ema.Dtype}),
 * tensor layouts ({@link io.averager.ema.TensorSpec}) and EMA profiles
 * ({@link io.averager.ema.Profile}), among them EDM2's power-function EMA
 * ({@link io.averager.ema.PowerFunction}).
 *
 * <p>This package is pure: it imports no Kafka, does no I/O and reads no clock, so every answer
 * depends only on its arguments and the package can be tested, replayed and reused anywhere.
 * Where the element-wise arithmetic runs is the business of {@code io.averager.kernel}.
 */
package io.averager.ema;
