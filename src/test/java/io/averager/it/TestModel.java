package io.averager.it;

import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.format.SafetensorsLayout;
import io.averager.format.SafetensorsWriter;
import io.averager.publish.TensorSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A small model of mixed dtypes whose weights drift with noise from snapshot to snapshot, as a
 * training run's would: F32, BF16, F16 and F64 tensors, an I64 counter like BatchNorm's
 * {@code num_batches_tracked}, and one tensor several chunk grids long.
 */
final class TestModel {

    static final List<TensorSpec> TENSORS = List.of(
            new TensorSpec("fc.weight", Dtype.F32, new long[] {64, 33}),
            new TensorSpec("fc.bias", Dtype.F32, new long[] {64}),
            new TensorSpec("emb.weight", Dtype.BF16, new long[] {300, 7}),
            new TensorSpec("head.scale", Dtype.F16, new long[] {13}),
            new TensorSpec("norm.var", Dtype.F64, new long[] {10}),
            new TensorSpec("bn.num_batches_tracked", Dtype.I64, new long[0]),
            new TensorSpec("big", Dtype.F32, new long[] {5000}));

    /** The snapshot at {@code step}: tensor name to little-endian bytes. Deterministic. */
    static Map<String, ByteBuffer> weights(long step) {
        Map<String, ByteBuffer> out = new LinkedHashMap<>();
        for (TensorSpec t : TENSORS) {
            Random base = new Random(t.name().hashCode());
            Random noise = new Random(t.name().hashCode() * 31L + step);
            ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(t.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < t.numel(); i++) {
                double v = base.nextGaussian() + step * 0.001 + 0.05 * noise.nextGaussian();
                switch (t.dtype()) {
                    case F32 -> b.putFloat((float) v);
                    case F64 -> b.putDouble(v);
                    case BF16 -> b.putShort((short) (Float.floatToIntBits((float) v) >>> 16));
                    case F16 -> b.putShort(half(Math.round(v * 256) / 256.0));
                    case I64 -> b.putLong(step * 4);
                    default -> throw new IllegalStateException(t.dtype().toString());
                }
            }
            out.put(t.name(), b.flip());
        }
        return out;
    }

    static List<TensorSource> sources(Map<String, ByteBuffer> weights) {
        List<TensorSource> sources = new ArrayList<>();
        for (TensorSpec t : TENSORS) {
            sources.add(TensorSource.ofBytes(t, weights.get(t.name())));
        }
        return sources;
    }

    /** Writes the snapshot as a safetensors file, for the independent checker. */
    static void write(Map<String, ByteBuffer> weights, Path file) throws IOException {
        try (SafetensorsWriter w = SafetensorsWriter.create(file, SafetensorsLayout.of(TENSORS, Map.of()))) {
            for (TensorSpec t : TENSORS) {
                w.write(t.name(), 0, weights.get(t.name()).duplicate());
            }
        }
    }

    /** Element i of a tensor as a double, whatever its dtype. */
    static double value(ByteBuffer b, Dtype dtype, int i) {
        return switch (dtype) {
            case F32 -> b.getFloat(i * 4);
            case F64 -> b.getDouble(i * 8);
            case BF16 -> Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16);
            case F16 -> unhalf(b.getShort(i * 2));
            case I64 -> b.getLong(i * 8);
            default -> throw new IllegalStateException(dtype.toString());
        };
    }

    /** IEEE half of a value with at most 11 significant bits and a normal exponent (exact). */
    private static short half(double v) {
        if (v == 0) {
            return 0;
        }
        int bits = Float.floatToIntBits((float) v);
        int sign = (bits >>> 16) & 0x8000;
        int exp = ((bits >>> 23) & 0xff) - 127 + 15;
        int mantissa = (bits >>> 13) & 0x3ff;
        if (exp <= 0 || exp >= 31) {
            throw new IllegalArgumentException("not a normal half: " + v);
        }
        return (short) (sign | exp << 10 | mantissa);
    }

    private static double unhalf(short h) {
        int exp = (h >>> 10) & 0x1f;
        int mantissa = h & 0x3ff;
        double magnitude = exp == 0 ? mantissa * Math.pow(2, -24) : (1 + mantissa / 1024.0) * Math.pow(2, exp - 15);
        return (h & 0x8000) != 0 ? -magnitude : magnitude;
    }
}
