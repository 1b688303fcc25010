package io.averager.ema;

import static org.assertj.core.api.Assertions.assertThat;

import org.assertj.core.data.Offset;

/**
 * Every numeric tolerance the tests use, with the reason for its size, so that loosening one
 * is a visible decision. Exact answers are compared exactly and do not appear here.
 */
public final class Tolerances {

    /**
     * Decays computed in double from a closed form, against hand-computed literals: a few ulps
     * of {@code Math.pow}.
     */
    public static final Offset<Double> DECAY = Offset.offset(1e-12);

    /**
     * Relative L2 distance between a float32 EMA and a transcription of timm's update loop run
     * in double over float arrays: float rounding contributes about 6e-8 per update.
     */
    public static final double EMA_RELATIVE_L2 = 1e-6;

    /**
     * Relative drift of a float32 EMA of a constant over a few dozen updates: the float decay and
     * its complement need not sum to exactly 1, and each update rounds, so the state may move
     * a few ulps (1 ulp is 6e-8 relative), never more.
     */
    public static final double CONSTANT_RELATIVE = 1e-6;

    /** As {@link #CONSTANT_RELATIVE} for a float64 EMA, whose ulp is 1.1e-16 relative. */
    public static final double CONSTANT_RELATIVE_F64 = 1e-14;

    /**
     * Relative error of how far a float32 EMA moves under updates of 7.8e-7 each, against exact
     * arithmetic: each update is rounded to a float spacing of 1.2e-7, and those roundings may
     * lean one way, so the move can be off by several percent, but is never lost.
     */
    public static final double SMALL_UPDATE_MOVE_RELATIVE = 0.1;

    private Tolerances() {
    }

    /** {@code ||actual - expected|| / ||expected||}, 0 when both are zero. */
    public static double relativeL2(float[] actual, double[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < actual.length; i++) {
            double delta = actual[i] - expected[i];
            diff += delta * delta;
            norm += expected[i] * expected[i];
        }
        return norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
    }
}
