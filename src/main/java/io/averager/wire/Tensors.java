package io.averager.wire;

import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.wire.avro.TensorInfo;
import java.util.ArrayList;
import java.util.List;

/** Converts between the wire's {@link TensorInfo} and the arithmetic's {@link TensorSpec}. */
public final class Tensors {

    private Tensors() {
    }

    public static TensorSpec spec(TensorInfo t) {
        return new TensorSpec(t.getName(), dtype(t.getDtype()), t.getShape().stream().mapToLong(Long::longValue).toArray());
    }

    public static List<TensorSpec> specs(List<TensorInfo> tensors) {
        List<TensorSpec> specs = new ArrayList<>(tensors.size());
        tensors.forEach(t -> specs.add(spec(t)));
        return specs;
    }

    public static TensorInfo info(TensorSpec s) {
        List<Long> shape = new ArrayList<>(s.shape().length);
        for (long d : s.shape()) {
            shape.add(d);
        }
        return new TensorInfo(s.name(), dtype(s.dtype()), shape);
    }

    public static Dtype dtype(io.averager.wire.avro.Dtype d) {
        return Dtype.valueOf(d.name());
    }

    public static io.averager.wire.avro.Dtype dtype(Dtype d) {
        return io.averager.wire.avro.Dtype.valueOf(d.name());
    }
}
