package io.averager.bench;

import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.publish.TensorSource;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * A model of any number of parameters for benchmarks, as tensors of at most 16 Mi elements.
 * Every grid chunk of a snapshot holds the same values, computed once a step, so that
 * publishing costs what sending costs and not what computing weights costs.
 */
final class SyntheticModel {

    private static final long MAX_TENSOR = 1L << 24;

    private final long params;
    private final Dtype dtype;
    private final int grid;

    SyntheticModel(long params, Dtype dtype, long grid) {
        if (dtype != Dtype.F32 && dtype != Dtype.BF16) {
            throw new IllegalArgumentException("benchmark models are F32 or BF16, not " + dtype);
        }
        this.params = params;
        this.dtype = dtype;
        this.grid = Math.toIntExact(grid);
    }

    long bytes() {
        return params * dtype.size();
    }

    /** The tensors of the snapshot of {@code step}. */
    List<TensorSource> snapshot(long step) {
        ByteBuffer chunk = ByteBuffer.allocate(grid * dtype.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < grid; i++) {
            float v = (i % 1000) * 0.001f + step * 0.01f;
            if (dtype == Dtype.F32) {
                chunk.putFloat(i * 4, v);
            } else {
                chunk.putShort(i * 2, (short) (Float.floatToRawIntBits(v) >>> 16));
            }
        }
        List<TensorSource> tensors = new ArrayList<>();
        for (long first = 0; first < params; first += MAX_TENSOR) {
            TensorSpec spec = new TensorSpec("layer" + tensors.size() + ".weight", dtype,
                    new long[] {Math.min(MAX_TENSOR, params - first)});
            tensors.add(new TensorSource() {
                @Override
                public TensorSpec spec() {
                    return spec;
                }

                @Override
                public ByteBuffer read(long elementOffset, int count) {
                    return chunk.slice(0, count * dtype.size()).order(ByteOrder.LITTLE_ENDIAN);
                }
            });
        }
        return tensors;
    }
}
