package io.averager.posthoc;

import java.util.List;
import java.util.TreeSet;
import java.util.function.DoubleUnaryOperator;

/**
 * The relative L1 distance between a fitted averaging profile and its target, integrated
 * numerically. The densities are smooth between the stored profiles' steps and jump at them, so
 * the interval (0, t] is cut at those steps and each piece integrated by composite Simpson.
 */
final class ProfileError {

    /** Simpson panels per piece: the error of the L1 norm is far below what the fit's quality needs. */
    static final int PANELS = 1024;

    private ProfileError() {
    }

    /** {@code integral |achieved - target| / integral |target|} over (0, target.t()]. */
    static double relativeL1(List<AveragingProfile> stored, double[] coefficients, AveragingProfile target) {
        TreeSet<Double> cuts = new TreeSet<>();
        cuts.add(0.0);
        cuts.add(target.t());
        for (AveragingProfile p : stored) {
            if (p.t() < target.t()) {
                cuts.add(p.t());
            }
        }
        double error = 0;
        double norm = 0;
        Double lo = null;
        for (double hi : cuts) {
            if (lo != null) {
                error += simpson(lo, hi, tau -> Math.abs(Fit.achieved(stored, coefficients, tau) - target.density(tau)));
                norm += simpson(lo, hi, target::density);
            }
            lo = hi;
        }
        return error / norm;
    }

    // Evaluates just inside the ends, where the densities are left-continuous at the cuts.
    private static double simpson(double a, double b, DoubleUnaryOperator f) {
        double h = (b - a) / (2 * PANELS);
        double inside = Math.ulp(b) * 4;
        double sum = f.applyAsDouble(a + inside) + f.applyAsDouble(b - inside);
        for (int i = 1; i < 2 * PANELS; i++) {
            sum += f.applyAsDouble(a + i * h) * (i % 2 == 1 ? 4 : 2);
        }
        return sum * h / 3;
    }
}
