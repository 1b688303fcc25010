package io.averager.posthoc;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.ema.PowerFunction;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * Least-squares fits of power profiles: exact when the target is stored, good between stored
 * widths, with an error report that matches a brute-force integration, and warnings when
 * extrapolating.
 */
class FitTest {

    private static final double G05 = PowerFunction.gammaOf(0.05);
    private static final double G10 = PowerFunction.gammaOf(0.10);

    /** Profiles 0.05 and 0.10 checkpointed every {@code every} steps up to {@code last}, as EDM2 stores them. */
    private static List<AveragingProfile> stored(long every, long last) {
        List<AveragingProfile> list = new ArrayList<>();
        for (double gamma : new double[] {G05, G10}) {
            for (long t = every; t <= last; t += every) {
                list.add(new AveragingProfile(t, gamma));
            }
        }
        return list;
    }

    @Test
    void aStoredTargetIsReproducedExactly() {
        List<AveragingProfile> stored = stored(100, 1000);
        Fit fit = Fit.of(stored, new AveragingProfile(1000, G10));
        double[] c = fit.coefficients();
        int index = stored.indexOf(new AveragingProfile(1000, G10));
        for (int i = 0; i < c.length; i++) {
            assertThat(c[i]).as("coefficient %d", i).isCloseTo(i == index ? 1 : 0, Offset.offset(1e-6));
        }
        assertThat(fit.relativeL1Error()).isLessThan(1e-5);
        assertThat(fit.warnings()).isEmpty();
    }

    @Test
    void aWidthBetweenTheStoredOnesFitsWellWithCoefficientsSummingToOne() {
        Fit fit = Fit.of(stored(100, 1000), AveragingProfile.ofSigmaRel(1000, 0.075));
        assertThat(Arrays.stream(fit.coefficients()).sum()).isCloseTo(1, Offset.offset(1e-12));
        assertThat(fit.relativeL1Error()).isLessThan(0.05);
        assertThat(fit.conditionNumber()).isGreaterThan(1).isFinite();
        assertThat(fit.maxAbsCoefficient()).isEqualTo(Arrays.stream(fit.coefficients()).map(Math::abs).max().orElseThrow());
        assertThat(fit.warnings()).isEmpty();
    }

    @Test
    void reportedProfileErrorMatchesABruteForceIntegration() {
        List<AveragingProfile> stored = stored(250, 1000);
        AveragingProfile target = AveragingProfile.ofSigmaRel(1000, 0.075);
        Fit fit = Fit.of(stored, target);
        double[] c = fit.coefficients();
        int n = 4_000_000;
        double h = 1000.0 / n;
        double error = 0;
        for (int i = 0; i < n; i++) {
            double tau = (i + 0.5) * h;
            double achieved = 0;
            for (int k = 0; k < c.length; k++) {
                achieved += c[k] * stored.get(k).density(tau);
            }
            error += Math.abs(achieved - target.density(tau)) * h;
        }
        assertThat(fit.relativeL1Error()).isCloseTo(error, Offset.offset(1e-4 * error + 1e-9));
    }

    @Test
    void moreStoredCheckpointsFitBetter() {
        AveragingProfile target = AveragingProfile.ofSigmaRel(1000, 0.075);
        assertThat(Fit.of(stored(100, 1000), target).relativeL1Error())
                .isLessThan(Fit.of(stored(500, 1000), target).relativeL1Error());
    }

    @Test
    void conditionNumberOfTwoProfilesIsTheirGramMatricesEigenvalueRatio() {
        AveragingProfile a = new AveragingProfile(1000, G05);
        AveragingProfile b = new AveragingProfile(1000, G10);
        double p = a.dot(a);
        double q = b.dot(b);
        double r = a.dot(b);
        double mean = (p + q) / 2;
        double spread = Math.sqrt((p - q) * (p - q) / 4 + r * r);
        Fit fit = Fit.of(List.of(a, b), AveragingProfile.ofSigmaRel(1000, 0.075));
        assertThat(fit.conditionNumber()).isCloseTo((mean + spread) / (mean - spread), Offset.offset(1e-6 * fit.conditionNumber()));
    }

    @Test
    void warnsWhenTheWidthIsOutsideTheStoredOnes() {
        Fit fit = Fit.of(stored(100, 1000), AveragingProfile.ofSigmaRel(1000, 0.2));
        assertThat(fit.warnings()).singleElement().asString()
                .startsWith("extrapolating: sigma_rel 0.2 (gamma").contains("[0.05, 0.1]");
        assertThat(Fit.of(stored(100, 1000), AveragingProfile.ofSigmaRel(1000, 0.02)).warnings()).hasSize(1);
    }

    @Test
    void warnsWhenTheStepIsAfterTheLastCheckpoint() {
        Fit fit = Fit.of(stored(100, 1000), AveragingProfile.ofSigmaRel(1500, 0.075));
        assertThat(fit.warnings()).singleElement().asString()
                .isEqualTo("extrapolating: step 1500 is after the last stored checkpoint, step 1000;"
                        + " the weights since then are not in any stored EMA");
    }
}
