package io.averager.format;

import io.averager.ema.TensorSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Byte offsets of contiguous tensors inside a safetensors data buffer, in order, with the range
 * checks shared by the layout, the writer and the reader. Immutable and thread-safe.
 */
final class TensorOffsets {

    /** The name the format reserves for the string map; a tensor of that name could not be read back. */
    static final String METADATA_KEY = "__metadata__";

    private final List<TensorSpec> tensors;
    private final Map<String, Integer> indexByName;
    private final long[] begins;
    private final long dataSize;

    private TensorOffsets(List<TensorSpec> tensors, Map<String, Integer> indexByName, long[] begins,
            long dataSize) {
        this.tensors = tensors;
        this.indexByName = indexByName;
        this.begins = begins;
        this.dataSize = dataSize;
    }

    /**
     * Places the tensors one after the other from offset 0.
     *
     * @throws IllegalArgumentException on a duplicate or reserved name, or a total size that
     *     overflows a long (a {@link TensorSpec} has no negative dimension)
     */
    static TensorOffsets of(List<TensorSpec> tensors) {
        Objects.requireNonNull(tensors, "tensors");
        List<TensorSpec> copy = new ArrayList<>(tensors.size());
        Map<String, Integer> indexByName = new HashMap<>();
        long[] begins = new long[tensors.size()];
        long offset = 0;
        for (TensorSpec spec : tensors) {
            Objects.requireNonNull(spec, "tensor spec");
            String name = Objects.requireNonNull(spec.name(), "tensor name");
            if (name.equals(METADATA_KEY)) {
                throw new IllegalArgumentException("Tensor name " + METADATA_KEY
                        + " is reserved by the safetensors format for metadata");
            }
            if (indexByName.putIfAbsent(name, copy.size()) != null) {
                throw new IllegalArgumentException("Duplicate tensor " + name + " in safetensors layout");
            }
            begins[copy.size()] = offset;
            try {
                offset = Math.addExact(offset, spec.byteSize());
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("Tensor " + name + " with shape "
                        + Arrays.toString(spec.shape()) + " overflows the largest file size", e);
            }
            copy.add(spec);
        }
        return new TensorOffsets(Collections.unmodifiableList(copy), indexByName, begins, offset);
    }

    List<TensorSpec> tensors() {
        return tensors;
    }

    /** Bytes of all tensors together. */
    long dataSize() {
        return dataSize;
    }

    TensorSpec spec(String name) {
        return tensors.get(index(name));
    }

    /** Offset of the tensor's first byte from the start of the data buffer. */
    long begin(String name) {
        return begins[index(name)];
    }

    /**
     * Offset from the start of the data buffer of {@code count} elements starting at element
     * {@code elementOffset}, after checking that they lie inside the tensor.
     *
     * @throws IllegalArgumentException for an unknown tensor or a range outside it
     */
    long byteOffset(String name, long elementOffset, long count) {
        int i = index(name);
        TensorSpec spec = tensors.get(i);
        long numel = spec.numel();
        // Written as subtractions so that huge arguments cannot overflow into a passing check.
        if (elementOffset < 0 || count < 0 || elementOffset > numel || count > numel - elementOffset) {
            throw new IllegalArgumentException(String.format(
                    "Range of %d elements at element offset %d is outside tensor %s, which has %d elements"
                            + " (%s %s, %d bytes)",
                    count, elementOffset, name, numel, spec.dtype(), Arrays.toString(spec.shape()),
                    spec.byteSize()));
        }
        return begins[i] + elementOffset * spec.dtype().size();
    }

    private int index(String name) {
        Objects.requireNonNull(name, "tensor name");
        Integer i = indexByName.get(name);
        if (i == null) {
            throw new IllegalArgumentException("Unknown tensor " + name + "; known tensors are "
                    + (tensors.size() <= 10 ? names().toString() : tensors.size() + " others"));
        }
        return i;
    }

    private List<String> names() {
        return tensors.stream().map(TensorSpec::name).toList();
    }
}
