package io.averager.it;

import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

/**
 * The EMA as timm's ModelEmaV2 computes it for float32 tensors (float products and sum),
 * double for F64, latest value for integers.
 */
final class ExpectedEma {

    final Map<String, double[]> state = new HashMap<>();
    final double decay;
    final double halfLife;
    long lastStep = -1;

    ExpectedEma(double decay, double halfLife) {
        this.decay = decay;
        this.halfLife = halfLife;
    }

    void add(Map<String, ByteBuffer> weights, long step) {
        double d = halfLife > 0 ? Math.pow(0.5, (step - lastStep) / halfLife) : decay;
        for (TensorSpec t : TestModel.TENSORS) {
            ByteBuffer b = weights.get(t.name()).duplicate().order(ByteOrder.LITTLE_ENDIAN);
            double[] s = state.computeIfAbsent(t.name(), k -> new double[Math.toIntExact(t.numel())]);
            for (int i = 0; i < s.length; i++) {
                double x = TestModel.value(b, t.dtype(), i);
                if (lastStep < 0 || !t.dtype().floating()) {
                    s[i] = x;
                } else if (t.dtype() == Dtype.F64) {
                    s[i] = d * s[i] + (1 - d) * x;
                } else {
                    s[i] = (float) ((float) d * (float) s[i]) + (float) ((float) (1 - d) * (float) x);
                    s[i] = (float) s[i];
                }
            }
        }
        lastStep = step;
    }
}
