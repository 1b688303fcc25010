package io.averager.posthoc;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A least-squares fit of a target power-function averaging profile by a weighted sum of stored
 * ones, and how good it is. {@link #of} builds the Gram matrix of the stored profiles and the
 * target vector in closed form ({@link AveragingProfile#dot}), solves in double precision through
 * a symmetric eigen-decomposition (the smallest-norm solution, so near-duplicate profiles do not
 * blow up the coefficients), and normalizes the coefficients to sum to 1, so that a constant is
 * averaged to itself. Immutable.
 *
 * @param coefficients one per stored profile, in the order given; they sum to 1
 * @param relativeL1Error {@code integral |achieved - target| / integral |target|} over (0, t]
 * @param conditionNumber the Gram matrix's largest over smallest eigenvalue; infinite when singular
 * @param maxAbsCoefficient the largest |coefficient|: large ones amplify rounding and mismatch
 * @param warnings extrapolation warnings, empty when the target lies within the stored profiles
 */
public record Fit(double[] coefficients, double relativeL1Error, double conditionNumber, double maxAbsCoefficient,
                  List<String> warnings) {

    /** Eigenvalues below this fraction of the largest are treated as zero, as numpy's lstsq rcond. */
    private static final double CUTOFF = 1e-14;

    public Fit {
        coefficients = coefficients.clone();
        warnings = List.copyOf(warnings);
    }

    @Override
    public double[] coefficients() {
        return coefficients.clone();
    }

    /**
     * Fits {@code target} by {@code stored}.
     *
     * @throws IllegalArgumentException if {@code stored} is empty, or the solution sums to about 0
     *     (the target is orthogonal to every stored profile)
     */
    public static Fit of(List<AveragingProfile> stored, AveragingProfile target) {
        int n = stored.size();
        if (n == 0) {
            throw new IllegalArgumentException("No stored profile to fit " + target + " with");
        }
        double[][] gram = new double[n][n];
        double[] b = new double[n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                gram[i][j] = stored.get(i).dot(stored.get(j));
            }
            b[i] = stored.get(i).dot(target);
        }
        SymmetricEigen eigen = SymmetricEigen.of(gram);
        double[] x = eigen.solve(b, CUTOFF);
        double sum = 0;
        for (double c : x) {
            sum += c;
        }
        if (!(Math.abs(sum) > 1e-9)) {
            throw new IllegalArgumentException("The fit of " + target + " by " + stored
                    + " has coefficients summing to " + sum + "; the target does not overlap the stored profiles");
        }
        double max = 0;
        for (int i = 0; i < n; i++) {
            x[i] /= sum;
            max = Math.max(max, Math.abs(x[i]));
        }
        return new Fit(x, ProfileError.relativeL1(stored, x, target), conditionNumber(eigen.values()), max,
                warnings(stored, target));
    }

    /** The achieved profile's density at {@code tau}: the coefficients' sum of the stored densities. */
    public static double achieved(List<AveragingProfile> stored, double[] coefficients, double tau) {
        double sum = 0;
        for (int i = 0; i < coefficients.length; i++) {
            sum += coefficients[i] * stored.get(i).density(tau);
        }
        return sum;
    }

    /** {@code x} to 4 significant digits, without trailing zeros: 0.05, 16.97, 1500. */
    static String brief(double x) {
        if (!Double.isFinite(x)) {
            return Double.toString(x);
        }
        return new BigDecimal(x).round(new MathContext(4)).stripTrailingZeros().toPlainString();
    }

    private static double conditionNumber(double[] eigenvalues) {
        double min = Double.POSITIVE_INFINITY;
        double max = 0;
        for (double v : eigenvalues) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        return min <= 0 ? Double.POSITIVE_INFINITY : max / min;
    }

    private static List<String> warnings(List<AveragingProfile> stored, AveragingProfile target) {
        double minGamma = Double.POSITIVE_INFINITY;
        double maxGamma = 0;
        double lastT = 0;
        for (AveragingProfile p : stored) {
            minGamma = Math.min(minGamma, p.gamma());
            maxGamma = Math.max(maxGamma, p.gamma());
            lastT = Math.max(lastT, p.t());
        }
        List<String> warnings = new ArrayList<>();
        if (target.gamma() < minGamma || target.gamma() > maxGamma) {
            warnings.add("extrapolating: sigma_rel " + brief(target.sigmaRel()) + " (gamma " + brief(target.gamma())
                    + ") is outside the stored profiles' sigma_rel [" + brief(new AveragingProfile(1, maxGamma).sigmaRel())
                    + ", " + brief(new AveragingProfile(1, minGamma).sigmaRel()) + "]; expect a poor fit");
        }
        if (target.t() > lastT) {
            warnings.add("extrapolating: step " + brief(target.t()) + " is after the last stored checkpoint, step "
                    + brief(lastT) + "; the weights since then are not in any stored EMA");
        }
        return Collections.unmodifiableList(warnings);
    }
}
