/**
 * Post-hoc EMA (Karras et al. 2024, EDM2): after training, an EMA of any relative width is
 * synthesized as a weighted sum of a run's stored power-function EMA checkpoints.
 *
 * <p>{@link io.averager.posthoc.AveragingProfile} and {@link io.averager.posthoc.Fit} are the
 * arithmetic: the closed-form inner products of power profiles, a least-squares fit of the
 * requested profile in double precision, and its quality. {@link io.averager.posthoc.WeightedSum}
 * streams the weighted sum of safetensors files chunk by chunk, so memory does not grow with the
 * model. {@link io.averager.posthoc.Synthesis} finds and fetches a run's checkpoints and ties the
 * two together. Replay ({@code io.averager.replay}) is the exact alternative that reads the whole
 * snapshots history.
 */
package io.averager.posthoc;
