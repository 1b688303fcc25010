package io.averager.format;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.averager.ema.TensorSpec;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Where everything goes in a safetensors file: the header bytes and the absolute position of every
 * tensor element, computed from the tensor list alone so that a writer can place chunks before the
 * file is complete.
 *
 * <p>Tensors are laid out contiguously in the given order. The JSON header is padded with spaces so
 * that the data starts at a multiple of 8 bytes. Every size and position is a {@code long}.
 *
 * <p>Immutable and thread-safe. No method accepts or returns {@code null}.
 */
public final class SafetensorsLayout {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** The header-length prefix. */
    static final int PREFIX_BYTES = Long.BYTES;
    private static final int ALIGNMENT = 8;
    /** The largest JSON header a reader accepts, so that a corrupt length cannot exhaust the heap. */
    static final long MAX_HEADER_BYTES = 100L << 20;

    private final TensorOffsets offsets;
    private final Map<String, String> metadata;
    private final byte[] header;

    private SafetensorsLayout(TensorOffsets offsets, Map<String, String> metadata, byte[] header) {
        this.offsets = offsets;
        this.metadata = metadata;
        this.header = header;
    }

    /**
     * Lays out the tensors in the given order.
     *
     * @param tensors the tensors, in file order; names must be unique
     * @param metadata string pairs stored under {@code __metadata__}; omitted from the header when empty
     * @throws IllegalArgumentException on a duplicate or reserved tensor name
     */
    public static SafetensorsLayout of(List<TensorSpec> tensors, Map<String, String> metadata) {
        TensorOffsets offsets = TensorOffsets.of(tensors);
        Map<String, String> meta = new LinkedHashMap<>();
        Objects.requireNonNull(metadata, "metadata").forEach((k, v) -> meta.put(
                Objects.requireNonNull(k, "metadata key"),
                Objects.requireNonNull(v, () -> "value of metadata key " + k)));
        return new SafetensorsLayout(offsets, Collections.unmodifiableMap(meta), header(offsets, meta));
    }

    private static byte[] header(TensorOffsets offsets, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject(TensorOffsets.METADATA_KEY);
            metadata.forEach(meta::put);
        }
        for (TensorSpec spec : offsets.tensors()) {
            ObjectNode entry = root.putObject(spec.name());
            entry.put("dtype", spec.dtype().name());
            ArrayNode shape = entry.putArray("shape");
            Arrays.stream(spec.shape()).forEach(shape::add);
            long begin = offsets.begin(spec.name());
            entry.putArray("data_offsets").add(begin).add(begin + spec.byteSize());
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("Cannot encode safetensors header", e);
        }
        // The prefix is 8 bytes, so padding the JSON to a multiple of 8 aligns the data as well.
        int padded = Math.addExact(json.length, (ALIGNMENT - json.length % ALIGNMENT) % ALIGNMENT);
        if (padded > MAX_HEADER_BYTES) {
            throw new IllegalArgumentException("Safetensors header of " + padded + " bytes for "
                    + offsets.tensors().size() + " tensors exceeds the " + MAX_HEADER_BYTES
                    + " bytes readers accept");
        }
        ByteBuffer buf = ByteBuffer.allocate(Math.addExact(PREFIX_BYTES, padded)).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(padded).put(json);
        while (buf.hasRemaining()) {
            buf.put((byte) ' ');
        }
        return buf.array();
    }

    /**
     * The length prefix and the padded JSON, positioned at 0 and ready to be written at file
     * position 0. Each call returns a new read-only buffer over the same bytes.
     */
    public ByteBuffer header() {
        return ByteBuffer.wrap(header).asReadOnlyBuffer();
    }

    /** Absolute file position of the first data byte; a multiple of 8. */
    public long dataStart() {
        return header.length;
    }

    /** Total size of the file in bytes. */
    public long size() {
        return dataStart() + offsets.dataSize();
    }

    /**
     * Absolute file position of one element of a tensor. An {@code elementOffset} equal to the
     * tensor's element count is allowed and gives the position just past its last byte, which
     * makes zero-size tensors addressable.
     *
     * @throws IllegalArgumentException for an unknown tensor or an offset outside
     *     {@code [0, numel]}
     */
    public long position(String tensor, long elementOffset) {
        return dataStart() + offsets.byteOffset(tensor, elementOffset, 0);
    }

    /** The tensors in file order; unmodifiable. */
    public List<TensorSpec> tensors() {
        return offsets.tensors();
    }

    /** The metadata in insertion order; unmodifiable, empty when there is none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The range checks the writer applies before each positional write. */
    TensorOffsets offsets() {
        return offsets;
    }

    @Override
    public String toString() {
        return "SafetensorsLayout[" + offsets.tensors().size() + " tensors, " + size() + " bytes]";
    }
}
