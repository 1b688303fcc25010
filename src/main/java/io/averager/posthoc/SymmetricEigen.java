package io.averager.posthoc;

/**
 * The eigen-decomposition {@code A = V diag(values) V^T} of a small symmetric matrix by cyclic
 * Jacobi rotations, which keep full relative accuracy for positive semi-definite matrices such as
 * Gram matrices. Meant for the tens to a few hundreds of rows of a post-hoc fit. Immutable.
 */
final class SymmetricEigen {

    private static final int MAX_SWEEPS = 100;

    private final double[] values;
    private final double[][] vectors;

    private SymmetricEigen(double[] values, double[][] vectors) {
        this.values = values;
        this.vectors = vectors;
    }

    /** Decomposes {@code a}, which must be square and symmetric; {@code a} is not changed. */
    static SymmetricEigen of(double[][] a) {
        int n = a.length;
        double[][] m = new double[n][];
        double[][] v = new double[n][n];
        for (int i = 0; i < n; i++) {
            if (a[i].length != n) {
                throw new IllegalArgumentException("Row " + i + " has " + a[i].length + " columns; expected " + n);
            }
            m[i] = a[i].clone();
            v[i][i] = 1;
        }
        for (int sweep = 0; sweep < MAX_SWEEPS && offDiagonal(m) > 0; sweep++) {
            for (int p = 0; p < n - 1; p++) {
                for (int q = p + 1; q < n; q++) {
                    rotate(m, v, p, q);
                }
            }
        }
        double[] values = new double[n];
        for (int i = 0; i < n; i++) {
            values[i] = m[i][i];
        }
        return new SymmetricEigen(values, v);
    }

    /** The eigenvalues, in no particular order; a copy. */
    double[] values() {
        return values.clone();
    }

    /**
     * The least-squares solution of {@code A x = b} of smallest norm: directions whose eigenvalue
     * is at most {@code cutoff} times the largest are left out (as numpy's {@code lstsq} rcond).
     */
    double[] solve(double[] b, double cutoff) {
        int n = values.length;
        double max = 0;
        for (double value : values) {
            max = Math.max(max, Math.abs(value));
        }
        double[] x = new double[n];
        for (int k = 0; k < n; k++) {
            if (values[k] <= cutoff * max) {
                continue;
            }
            double projection = 0;
            for (int i = 0; i < n; i++) {
                projection += vectors[i][k] * b[i];
            }
            double scale = projection / values[k];
            for (int i = 0; i < n; i++) {
                x[i] += scale * vectors[i][k];
            }
        }
        return x;
    }

    private static double offDiagonal(double[][] m) {
        double sum = 0;
        double diagonal = 0;
        for (int i = 0; i < m.length; i++) {
            diagonal += m[i][i] * m[i][i];
            for (int j = 0; j < m.length; j++) {
                if (i != j) {
                    sum += m[i][j] * m[i][j];
                }
            }
        }
        // Stop once the off-diagonal part is below rounding of the diagonal.
        return sum > 1e-32 * diagonal ? sum : 0;
    }

    // Zeroes m[p][q] with a rotation in the (p, q) plane (Golub and Van Loan, algorithm 8.4.2).
    private static void rotate(double[][] m, double[][] v, int p, int q) {
        double apq = m[p][q];
        if (apq == 0) {
            return;
        }
        double theta = (m[q][q] - m[p][p]) / (2 * apq);
        double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        if (theta == 0) {
            t = 1;
        }
        double c = 1 / Math.sqrt(t * t + 1);
        double s = t * c;
        int n = m.length;
        for (int k = 0; k < n; k++) {
            double mkp = m[k][p];
            double mkq = m[k][q];
            m[k][p] = c * mkp - s * mkq;
            m[k][q] = s * mkp + c * mkq;
        }
        for (int k = 0; k < n; k++) {
            double mpk = m[p][k];
            double mqk = m[q][k];
            m[p][k] = c * mpk - s * mqk;
            m[q][k] = s * mpk + c * mqk;
        }
        for (int k = 0; k < n; k++) {
            double vkp = v[k][p];
            double vkq = v[k][q];
            v[k][p] = c * vkp - s * vkq;
            v[k][q] = s * vkp + c * vkq;
        }
    }
}
