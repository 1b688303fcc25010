package io.averager.posthoc;

import io.averager.ema.PowerFunction;

/**
 * The averaging profile of a power-function EMA taken at optimizer step {@code t}: the weight
 * density {@code p(tau) = (gamma + 1) tau^gamma / t^(gamma + 1)} over steps {@code tau} in (0, t],
 * which integrates to 1. Immutable.
 *
 * @param t the step the average was taken at, > 0
 * @param gamma the power function's exponent, > 0
 */
public record AveragingProfile(double t, double gamma) {

    public AveragingProfile {
        if (!(t > 0 && t < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("Averaging profile at step " + t + "; expected a step > 0");
        }
        if (!(gamma > 0 && gamma < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("Averaging profile with gamma " + gamma + "; expected a finite number > 0");
        }
    }

    /** The profile at step {@code t} of relative standard deviation {@code sigmaRel}. */
    public static AveragingProfile ofSigmaRel(double t, double sigmaRel) {
        return new AveragingProfile(t, PowerFunction.gammaOf(sigmaRel));
    }

    /** The relative standard deviation of the profile. */
    public double sigmaRel() {
        return PowerFunction.sigmaRelOf(gamma);
    }

    /** The weight density at step {@code tau}; 0 outside (0, t]. */
    public double density(double tau) {
        return PowerFunction.density(tau, t, gamma);
    }

    /**
     * The integral over tau of the product of the two profiles' densities, in closed form:
     * {@code (ga+1)(gb+1) (ta/tb)^(ta < tb ? gb : -ga) / ((ga+gb+1) max(ta, tb))}.
     */
    public double dot(AveragingProfile other) {
        double ga = gamma;
        double gb = other.gamma;
        double ratio = t / other.t;
        double exponent = t < other.t ? gb : -ga;
        return (ga + 1) * (gb + 1) * Math.pow(ratio, exponent) / ((ga + gb + 1) * Math.max(t, other.t));
    }
}
