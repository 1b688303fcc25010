package io.averager.posthoc;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class SymmetricEigenTest {

    @Test
    void findsTheEigenvaluesOfKnownMatrices() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3; the 3x3 tridiagonal 2,-1 has 2 - sqrt 2, 2, 2 + sqrt 2.
        double[] two = SymmetricEigen.of(new double[][] {{2, 1}, {1, 2}}).values();
        Arrays.sort(two);
        assertThat(two).containsExactly(new double[] {1, 3}, Offset.offset(1e-15));
        double[] three = SymmetricEigen.of(new double[][] {{2, -1, 0}, {-1, 2, -1}, {0, -1, 2}}).values();
        Arrays.sort(three);
        assertThat(three).containsExactly(new double[] {2 - Math.sqrt(2), 2, 2 + Math.sqrt(2)}, Offset.offset(1e-14));
    }

    @Test
    void solvesRegularSystems() {
        double[][] a = {{4, 1, 0.5}, {1, 3, 0.2}, {0.5, 0.2, 2}};
        double[] x = {1, -2, 3};
        double[] b = new double[3];
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                b[i] += a[i][j] * x[j];
            }
        }
        assertThat(SymmetricEigen.of(a).solve(b, 1e-14)).containsExactly(x, Offset.offset(1e-13));
    }

    @Test
    void splitsTheWeightOfDuplicateRowsInsteadOfBlowingUp() {
        // A singular Gram matrix of a profile stored twice: the smallest-norm solution halves it.
        double[][] a = {{1, 1}, {1, 1}};
        assertThat(SymmetricEigen.of(a).solve(new double[] {1, 1}, 1e-14))
                .containsExactly(new double[] {0.5, 0.5}, Offset.offset(1e-14));
    }
}
