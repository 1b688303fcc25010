package io.averager.publish;

import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One tensor of a snapshot, read a chunk at a time so the publisher never needs the whole
 * snapshot in memory.
 */
public interface TensorSource {

    TensorSpec spec();

    /** {@code count} elements from {@code elementOffset}, little-endian, as a buffer of exactly those bytes. */
    ByteBuffer read(long elementOffset, int count) throws IOException;

    /** A float32 tensor held in an array (row-major); the array is read at publish time. */
    static TensorSource ofFloats(String name, float[] data, long... shape) {
        long numel = new TensorSpec(name, Dtype.F32, shape).numel();
        if (numel != data.length) {
            throw new IllegalArgumentException("tensor " + name + ": " + data.length + " values for shape "
                    + Arrays.toString(shape));
        }
        return ofFloats(name, shape, i -> data[(int) i]);
    }

    /** The value of a float32 tensor's element at a flat index. */
    @FunctionalInterface
    interface FloatAt {
        float at(long index);
    }

    /**
     * A float32 tensor whose elements are computed when read, a chunk at a time: synthetic
     * weights of any size, never held whole.
     */
    static TensorSource ofFloats(String name, long[] shape, FloatAt values) {
        TensorSpec spec = new TensorSpec(name, Dtype.F32, shape);
        return new TensorSource() {
            @Override
            public TensorSpec spec() {
                return spec;
            }

            @Override
            public ByteBuffer read(long elementOffset, int count) {
                ByteBuffer out = ByteBuffer.allocate(count * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < count; i++) {
                    out.putFloat(i * 4, values.at(elementOffset + i));
                }
                return out;
            }
        };
    }

    /** A tensor of any dtype whose little-endian bytes are in a buffer (read from position 0). */
    static TensorSource ofBytes(TensorSpec spec, ByteBuffer littleEndian) {
        if (littleEndian.capacity() != spec.byteSize()) {
            throw new IllegalArgumentException("tensor " + spec.name() + ": " + littleEndian.capacity()
                    + " bytes, expected " + spec.byteSize());
        }
        return new TensorSource() {
            @Override
            public TensorSpec spec() {
                return spec;
            }

            @Override
            public ByteBuffer read(long elementOffset, int count) {
                int size = spec.dtype().size();
                return littleEndian.slice(Math.toIntExact(elementOffset * size), count * size).order(ByteOrder.LITTLE_ENDIAN);
            }
        };
    }
}
