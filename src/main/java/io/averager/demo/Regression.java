package io.averager.demo;

import java.util.Random;

/**
 * A linear model {@code y = W x + b} trained by minibatch SGD on synthetic data with label
 * noise. With a constant learning rate and small batches the weights keep jittering around the
 * optimum, which is exactly what an EMA of the weights smooths out. Not thread-safe.
 */
final class Regression {

    final int inputs;
    final int outputs;
    final float[] weight;
    final float[] bias;
    private final float[] trueWeight;
    private final Random random;
    private final float noise;

    Regression(int inputs, int outputs, float noise, long seed) {
        this.inputs = inputs;
        this.outputs = outputs;
        this.noise = noise;
        this.random = new Random(seed);
        this.weight = new float[inputs * outputs];
        this.bias = new float[outputs];
        this.trueWeight = new float[inputs * outputs];
        for (int i = 0; i < trueWeight.length; i++) {
            trueWeight[i] = (float) random.nextGaussian();
        }
    }

    /** One SGD step on a fresh minibatch; returns its loss. */
    double step(int batch, float learningRate) {
        float[] gw = new float[weight.length];
        float[] gb = new float[bias.length];
        double loss = 0;
        float[] x = new float[inputs];
        float[] y = new float[outputs];
        for (int n = 0; n < batch; n++) {
            sample(x, y);
            for (int o = 0; o < outputs; o++) {
                float err = predict(weight, bias, x, o) - y[o];
                loss += err * err;
                for (int i = 0; i < inputs; i++) {
                    gw[o * inputs + i] += 2 * err * x[i] / batch;
                }
                gb[o] += 2 * err / batch;
            }
        }
        for (int i = 0; i < weight.length; i++) {
            weight[i] -= learningRate * gw[i];
        }
        for (int o = 0; o < outputs; o++) {
            bias[o] -= learningRate * gb[o];
        }
        return loss / batch;
    }

    /** Mean squared error of the given weights on {@code samples} fresh noise-free samples (seeded). */
    double validationLoss(float[] w, float[] b, int samples) {
        Random validation = new Random(42);
        float[] x = new float[inputs];
        double loss = 0;
        for (int n = 0; n < samples; n++) {
            for (int i = 0; i < inputs; i++) {
                x[i] = (float) validation.nextGaussian();
            }
            for (int o = 0; o < outputs; o++) {
                float err = predict(w, b, x, o) - predict(trueWeight, null, x, o);
                loss += err * err;
            }
        }
        return loss / samples;
    }

    private void sample(float[] x, float[] y) {
        for (int i = 0; i < inputs; i++) {
            x[i] = (float) random.nextGaussian();
        }
        for (int o = 0; o < outputs; o++) {
            y[o] = predict(trueWeight, null, x, o) + noise * (float) random.nextGaussian();
        }
    }

    private float predict(float[] w, float[] b, float[] x, int o) {
        float sum = b == null ? 0 : b[o];
        for (int i = 0; i < inputs; i++) {
            sum += w[o * inputs + i] * x[i];
        }
        return sum;
    }
}
