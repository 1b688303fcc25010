package io.averager.ema;

import java.util.Arrays;
import java.util.Objects;

/**
 * Name, element type and shape of one tensor, as listed in a snapshot header.
 *
 * <p>Immutable and thread-safe: the shape is copied in and out, and equality, hash code and
 * string form use the shape's contents. A scalar has the empty shape and one element. Sizes are
 * computed with overflow checks, so a hostile header cannot make them wrap around.
 *
 * @param name  the tensor's name in the model's state dict; not null
 * @param dtype the element type; not null
 * @param shape the dimensions, each at least 0; not null
 */
public record TensorSpec(String name, Dtype dtype, long[] shape) {

    /**
     * @throws NullPointerException     if an argument is null
     * @throws IllegalArgumentException if a dimension is negative
     */
    public TensorSpec {
        Objects.requireNonNull(name, "Tensor spec: name must not be null");
        Objects.requireNonNull(dtype, () -> "Tensor " + name + ": dtype must not be null");
        Objects.requireNonNull(shape, () -> "Tensor " + name + ": shape must not be null");
        shape = shape.clone();
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                throw new IllegalArgumentException(String.format(
                        "Tensor %s: dimension %d of shape %s is %d; expected a size >= 0",
                        name, i, Arrays.toString(shape), shape[i]));
            }
        }
    }

    /** A copy of the dimensions; changing it does not change this spec. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /**
     * Number of elements: the product of the dimensions, 1 for a scalar.
     *
     * @throws ArithmeticException if the product does not fit in a long
     */
    public long numel() {
        long n = 1;
        for (long dim : shape) {
            n = Math.multiplyExact(n, dim);
        }
        return n;
    }

    /**
     * Number of bytes of the tensor's data in its dtype.
     *
     * @throws ArithmeticException if the size does not fit in a long
     */
    public long byteSize() {
        return Math.multiplyExact(numel(), (long) dtype.size());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec other
                && name.equals(other.name)
                && dtype == other.dtype
                && Arrays.equals(shape, other.shape);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * name.hashCode() + dtype.hashCode()) + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return "TensorSpec[name=" + name + ", dtype=" + dtype + ", shape=" + Arrays.toString(shape) + "]";
    }
}
