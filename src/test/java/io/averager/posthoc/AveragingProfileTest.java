package io.averager.posthoc;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.ema.PowerFunction;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/** The closed-form inner product of two power profiles against numerical integration of their product. */
class AveragingProfileTest {

    @Test
    void dotIsTheIntegralOfTheProductOfTheDensities() {
        double g05 = PowerFunction.gammaOf(0.05);
        double g10 = PowerFunction.gammaOf(0.10);
        AveragingProfile[] profiles = {
            new AveragingProfile(500, g05), new AveragingProfile(1000, g05),
            new AveragingProfile(700, g10), new AveragingProfile(1000, g10), new AveragingProfile(300, 0.5)};
        for (AveragingProfile a : profiles) {
            for (AveragingProfile b : profiles) {
                double numeric = midpoint(a, b);
                assertThat(a.dot(b)).as("%s . %s", a, b).isCloseTo(numeric, Offset.offset(1e-7 * numeric));
                assertThat(a.dot(b)).as("symmetric").isCloseTo(b.dot(a), Offset.offset(1e-15 * numeric));
            }
        }
    }

    @Test
    void sigmaRelRoundTrips() {
        assertThat(AveragingProfile.ofSigmaRel(100, 0.075).sigmaRel()).isCloseTo(0.075, Offset.offset(1e-14));
    }

    // The product is smooth on (0, min(ta, tb)] and 0 after: midpoint rule with 2e6 points.
    private static double midpoint(AveragingProfile a, AveragingProfile b) {
        double end = Math.min(a.t(), b.t());
        int n = 2_000_000;
        double h = end / n;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            double tau = (i + 0.5) * h;
            sum += a.density(tau) * b.density(tau);
        }
        return sum * h;
    }
}
