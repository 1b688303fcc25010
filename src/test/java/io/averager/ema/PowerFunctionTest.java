package io.averager.ema;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * The power-function EMA's conversions and decay, against values computed independently: roots
 * of the cubic by numpy ({@code np.roots}), moments of the profile by numerical integration, and
 * the closed-form integral of the profile over each publishing gap.
 */
class PowerFunctionTest {

    @Test
    void sigmaRelConvertsToTheLargestRootOfTheCubic() {
        // np.roots([1, 7, 16 - s**-2, 12 - s**-2]).real.max(); EDM2 quotes 16.97 and 6.94.
        assertThat(PowerFunction.gammaOf(0.05)).isCloseTo(16.972198602303447, Tolerances.DECAY);
        assertThat(PowerFunction.gammaOf(0.10)).isCloseTo(6.937203937601809, Tolerances.DECAY);
        assertThat(PowerFunction.gammaOf(0.075)).isCloseTo(10.289116448983853, Tolerances.DECAY);
    }

    @Test
    void gammaConvertsBackToTheSameSigmaRel() {
        for (double s : new double[] {1e-4, 0.01, 0.05, 0.1, 0.2, 0.28}) {
            assertThat(PowerFunction.sigmaRelOf(PowerFunction.gammaOf(s))).as("sigma_rel %s", s)
                    .isCloseTo(s, Offset.offset(1e-13 * Math.max(1, s)));
        }
    }

    @Test
    void sigmaRelIsTheRelativeStandardDeviationOfTheProfile() {
        double t = 1000;
        for (double gamma : new double[] {0.5, 6.94, 16.97}) {
            // Midpoint rule over (0, t]: the profile is smooth, 1e6 points give ~1e-12.
            int n = 1_000_000;
            double h = t / n;
            double mass = 0;
            double mean = 0;
            double square = 0;
            for (int i = 0; i < n; i++) {
                double tau = (i + 0.5) * h;
                double p = PowerFunction.density(tau, t, gamma) * h;
                mass += p;
                mean += p * tau;
                square += p * tau * tau;
            }
            double std = Math.sqrt(square - mean * mean);
            assertThat(mass).as("mass, gamma %s", gamma).isCloseTo(1, Offset.offset(1e-9));
            assertThat(std / t).as("gamma %s", gamma).isCloseTo(PowerFunction.sigmaRelOf(gamma), Offset.offset(1e-9));
        }
    }

    @Test
    void rejectsWidthsWithoutAPowerFunction() {
        assertThatThrownBy(() -> PowerFunction.gammaOf(0.3)).hasMessageContaining("sigma_rel is 0.3");
        assertThatThrownBy(() -> PowerFunction.gammaOf(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PowerFunction.gammaOf(Double.NaN)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PowerFunction.sigmaRelOf(0)).hasMessageContaining("gamma is 0.0");
    }

    @Test
    void firstUpdateAfterStepZeroCopies() {
        assertThat(PowerFunction.beta(10, 0, 6.94)).isZero();
    }

    @Test
    void decayIsOneMinusGapOverStepToTheGammaPlusOne() {
        assertThat(PowerFunction.beta(100, 90, 1.0)).isCloseTo(0.81, Tolerances.DECAY);
        assertThat(PowerFunction.beta(8, 4, 2.0)).isCloseTo(0.125, Tolerances.DECAY);
    }

    /**
     * Publishing every k steps weighs each snapshot by the integral of the continuous profile over
     * the k steps it stands for: the same profile as publishing every step, at a coarser grain.
     */
    @Test
    void eachSnapshotWeighsTheProfileIntegralOverItsGapWhateverTheCadence() {
        double gamma = PowerFunction.gammaOf(0.10);
        long last = 1000;
        for (long k : new long[] {1, 10, 100, 7}) {
            double[] w = weights(gamma, k, last, false);
            long end = last - last % k;
            for (long j = k; j <= end; j += k) {
                double integral = (Math.pow((double) j / end, gamma + 1) - Math.pow((double) (j - k) / end, gamma + 1));
                assertThat(w[(int) j]).as("k %d step %d", k, j).isCloseTo(integral, Offset.offset(1e-12));
            }
        }
    }

    /**
     * The EMA of a drifting signal published every step and every 10 steps both follow the
     * continuous EMA {@code integral p_T(tau) x(tau)}; applying the per-step decay once per
     * snapshot (as one known implementation does) averages over a far wider window and does not.
     */
    @Test
    void sparsePublishingFollowsTheContinuousProfileAndPerStepDecayPerSnapshotDoesNot() {
        double gamma = PowerFunction.gammaOf(0.10);
        long last = 10_000;
        // x(tau) = tau / last: the continuous EMA is (gamma + 1) / (gamma + 2).
        double continuous = (gamma + 1) / (gamma + 2);
        double everyStep = ema(weights(gamma, 1, last, false), last);
        double everyTen = ema(weights(gamma, 10, last, false), last);
        double perStepDecayEveryTen = ema(weights(gamma, 10, last, true), last);
        // Right-endpoint sampling of the linear signal over gaps of k steps shifts the mean by about k/(2 last).
        assertThat(everyStep).isCloseTo(continuous, Offset.offset(1.0 / last));
        assertThat(everyTen).isCloseTo(continuous, Offset.offset(10.0 / last));
        assertThat(everyTen).isCloseTo(everyStep, Offset.offset(10.0 / last));
        assertThat(Math.abs(perStepDecayEveryTen - continuous)).isGreaterThan(100.0 / last);
    }

    /**
     * The weight of each step's snapshot in the EMA at the last published step, publishing at
     * steps k, 2k, ...: the first snapshot sets the EMA, later ones apply the profile's decay (or,
     * if {@code perStepDecay}, the decay of a one-step gap whatever the gap).
     */
    private static double[] weights(double gamma, long k, long last, boolean perStepDecay) {
        Profile p = Profile.builder("power").powerGamma(gamma).build();
        double[] w = new double[(int) last + 1];
        long previous = -1;
        for (long step = k; step <= last; step += k) {
            double decay = previous < 0 ? 0 : perStepDecay ? p.decayAt(step, step - 1) : p.decayAt(step, previous);
            for (int i = 0; i < w.length; i++) {
                w[i] *= decay;
            }
            w[(int) step] += 1 - decay;
            previous = step;
        }
        return w;
    }

    private static double ema(double[] weights, long last) {
        double sum = 0;
        for (int i = 0; i < weights.length; i++) {
            sum += weights[i] * i / last;
        }
        return sum;
    }
}
