package io.averager.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.ema.Dtype;
import io.averager.ema.Profile;
import io.averager.ema.Tolerances;
import io.averager.ema.TensorSpec;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.LongToDoubleFunction;
import org.junit.jupiter.api.Test;

/**
 * Drives {@link Profile#decayAt} (per-snapshot unit) and a kernel the way the service does, and
 * compares the result with a transcription of timm's update loop:
 * <pre>
 *   ema = deepcopy(model)                          # first snapshot
 *   for each later snapshot: ema = decay * ema + (1 - decay) * model
 * </pre>
 * run in double over float arrays, with the decay of {@code ModelEmaV2} (constant) or of
 * {@code ModelEmaV3.get_decay(step)} (power warmup).
 */
class TimmEquivalenceTest {

    private static final int SNAPSHOTS = 20;
    private static final long[][] SHAPES = {{16, 3, 3, 3}, {64}, {}, {10, 17}};

    private final Kernel kernel = Kernels.byName(Kernels.JAVA);

    @Test
    void constantDecayMatchesModelEmaV2() {
        Profile profile = Profile.builder("v2").decay(0.9).build();
        assertMatchesTimm(profile, step -> 0.9);
    }

    @Test
    void powerWarmupMatchesModelEmaV3() {
        Profile profile = Profile.builder("v3").decay(0.9999).warmup(Profile.Warmup.POWER).build();
        assertMatchesTimm(profile, TimmEquivalenceTest::modelEmaV3Decay);
    }

    /** timm ModelEmaV3.get_decay with decay 0.9999, warmup on, gamma 1, power 3/4, no floor. */
    private static double modelEmaV3Decay(long step) {
        long t = Math.max(0, step - 0 - 1);
        if (t <= 0) {
            return 0.0;
        }
        double decay = 1 - Math.pow(1 + t / 1.0, -0.75);
        return Math.max(Math.min(decay, 0.9999), 0.0);
    }

    private void assertMatchesTimm(Profile profile, LongToDoubleFunction timmDecay) {
        Random random = new Random(20240607);
        List<float[]> model = new ArrayList<>();
        List<float[]> timmEma = new ArrayList<>();
        List<ByteBuffer> state = new ArrayList<>();
        for (long[] shape : SHAPES) {
            int n = Math.toIntExact(new TensorSpec("w", Dtype.F32, shape).numel());
            model.add(TensorBuffers.randomFloats(random, n));
            state.add(ByteBuffer.allocate(4 * n));
        }
        long step = 1 + random.nextInt(5);
        long lastStep = -1;
        for (int snapshot = 0; snapshot < SNAPSHOTS; snapshot++) {
            for (float[] weights : model) {
                train(random, weights);
            }
            double decay = lastStep < 0 ? 0.0 : profile.decayAt(step, lastStep);
            double reference = timmDecay.applyAsDouble(step);
            for (int t = 0; t < model.size(); t++) {
                float[] weights = model.get(t);
                ByteBuffer x = ByteBuffer.wrap(TensorBuffers.f32(weights));
                if (decay == 0.0) {
                    kernel.set(state.get(t), Dtype.F32, x, Dtype.F32, weights.length);
                } else {
                    kernel.update(state.get(t), Dtype.F32, x, Dtype.F32, weights.length, decay);
                }
                if (snapshot == 0) {
                    timmEma.add(weights.clone());
                } else {
                    float[] ema = timmEma.get(t);
                    for (int i = 0; i < ema.length; i++) {
                        ema[i] = (float) (reference * ema[i] + (1 - reference) * weights[i]);
                    }
                }
            }
            lastStep = step;
            step += 1 + random.nextInt(10);
        }
        for (int t = 0; t < model.size(); t++) {
            float[] actual = TensorBuffers.readF32(state.get(t), model.get(t).length);
            double[] expected = toDoubles(timmEma.get(t));
            assertThat(Tolerances.relativeL2(actual, expected)).as("tensor %d", t)
                    .isLessThanOrEqualTo(Tolerances.EMA_RELATIVE_L2);
            assertThat(actual).as("tensor %d moved away from the first snapshot", t).isNotEqualTo(model.get(t));
        }
    }

    // Weights drift the way they do between snapshots of a training run.
    private static void train(Random random, float[] weights) {
        for (int i = 0; i < weights.length; i++) {
            weights[i] += (float) (0.05 * random.nextGaussian());
        }
    }

    private static double[] toDoubles(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }
}
