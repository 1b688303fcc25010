package io.averager.ema;

/**
 * The power-function EMA of Karras et al. (2024, "Analyzing and Improving the Training Dynamics
 * of Diffusion Models", EDM2): at optimizer step {@code t} the average weighs the weights of step
 * {@code tau} in (0, t] by {@code p_t(tau) = (gamma + 1) tau^gamma / t^(gamma + 1)}, a profile
 * whose width grows with t. Its relative standard deviation {@code sigma_rel} is the width
 * divided by {@code t}, the same at every step.
 *
 * <p>Pure static functions of their arguments; thread-safe.
 */
public final class PowerFunction {

    /** The widest relative standard deviation, {@code sigma_rel} of {@code gamma = 0}: 1/sqrt(12). */
    public static final double MAX_SIGMA_REL = Math.sqrt(1.0 / 12.0);

    private PowerFunction() {
    }

    /**
     * The exponent whose profile has relative standard deviation {@code sigmaRel}: the largest
     * real root of {@code g^3 + 7g^2 + (16 - s^-2) g + (12 - s^-2)}.
     *
     * @throws IllegalArgumentException unless {@code 0 < sigmaRel < MAX_SIGMA_REL}
     */
    public static double gammaOf(double sigmaRel) {
        if (!(sigmaRel > 0 && sigmaRel < MAX_SIGMA_REL)) {
            throw new IllegalArgumentException("sigma_rel is " + sigmaRel + "; expected a number in (0, "
                    + MAX_SIGMA_REL + ")");
        }
        double k = 1.0 / (sigmaRel * sigmaRel);
        // The cubic is (g+2)^2 (g+3) - k (g+1), negative at 0 since k > 12, and sigmaRelOf falls
        // with g on g > 0: the largest root is the only positive one. Bracket, bisect, polish.
        double lo = 0;
        double hi = 1;
        while (cubic(hi, k) < 0) {
            hi *= 2;
        }
        for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
            double mid = 0.5 * (lo + hi);
            if (cubic(mid, k) < 0) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        double g = 0.5 * (lo + hi);
        for (int i = 0; i < 3; i++) {
            double slope = 3 * g * g + 14 * g + 16 - k;
            if (slope != 0) {
                g -= cubic(g, k) / slope;
            }
        }
        return g;
    }

    /**
     * The relative standard deviation of the profile with exponent {@code gamma}:
     * {@code sqrt((g + 1) / ((g + 2)^2 (g + 3)))}.
     *
     * @throws IllegalArgumentException unless {@code gamma} is finite and > 0
     */
    public static double sigmaRelOf(double gamma) {
        if (!(gamma > 0 && gamma < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("gamma is " + gamma + "; expected a finite number > 0");
        }
        return Math.sqrt((gamma + 1) / ((gamma + 2) * (gamma + 2) * (gamma + 3)));
    }

    /**
     * The decay taking the average of step {@code lastStep} to that of step {@code step}:
     * {@code (1 - dt / t)^(gamma + 1)} with {@code t = step}, {@code dt = step - lastStep}. Applied
     * at any sequence of steps it weighs the weights of each step by the integral of the profile
     * over the gap they stand for, so publishing every k steps follows the same profile as
     * publishing every step. 0 when {@code lastStep} is 0: the update copies.
     *
     * @throws IllegalArgumentException unless {@code step > lastStep >= 0}
     */
    public static double beta(long step, long lastStep, double gamma) {
        if (lastStep < 0 || step <= lastStep) {
            throw new IllegalArgumentException("decay asked for step " + step + " after step " + lastStep
                    + "; expected step > last step >= 0");
        }
        // lastStep / step is exactly 1 - dt / t and avoids the cancellation of 1 - dt / t.
        return Math.pow((double) lastStep / step, gamma + 1);
    }

    /** {@code p_t(tau)}: the weight density at step {@code tau} of the average at step {@code t}. */
    public static double density(double tau, double t, double gamma) {
        if (tau <= 0 || tau > t) {
            return 0;
        }
        return (gamma + 1) / t * Math.pow(tau / t, gamma);
    }

    private static double cubic(double g, double k) {
        return ((g + 7) * g + 16 - k) * g + 12 - k;
    }
}
