package io.averager.ema;

import java.util.Arrays;

/**
 * Element type of a tensor in a snapshot or in EMA state, named as in the safetensors header
 * ({@code "F32"}, {@code "BF16"}, ...).
 *
 * <p>Floating types are averaged in their {@link #accumulator()} type, never in a narrower one:
 * a bf16 EMA rounds small updates to zero. Integer and bool tensors (for example BatchNorm's
 * {@code num_batches_tracked}) are not averaged; their EMA is their latest value, kept in their
 * own type. Constants are immutable and thread-safe.
 */
public enum Dtype {
    F32(4, true),
    F16(2, true),
    BF16(2, true),
    F64(8, true),
    I64(8, false),
    I32(4, false),
    I16(2, false),
    I8(1, false),
    U8(1, false),
    BOOL(1, false);

    private final int size;
    private final boolean floating;

    Dtype(int size, boolean floating) {
        this.size = size;
        this.floating = floating;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    /** Whether the type is a floating-point type, and so is averaged rather than copied. */
    public boolean floating() {
        return floating;
    }

    /**
     * The type EMA state for inputs of this type is kept in: F64 for F64, F32 for the other
     * floating types, the type itself for integer and bool types.
     */
    public Dtype accumulator() {
        switch (this) {
            case F64:
                return F64;
            case F32:
            case F16:
            case BF16:
                return F32;
            default:
                return this;
        }
    }

    /**
     * The dtype with the given safetensors name, matched exactly (names are upper case).
     *
     * @throws IllegalArgumentException naming the value and listing the valid names
     */
    public static Dtype parse(String name) {
        if (name != null) {
            for (Dtype dtype : values()) {
                if (dtype.name().equals(name)) {
                    return dtype;
                }
            }
        }
        String shown = name == null ? "null" : "'" + name + "'";
        throw new IllegalArgumentException(
                "Unknown dtype " + shown + "; expected one of " + Arrays.toString(values()));
    }
}
