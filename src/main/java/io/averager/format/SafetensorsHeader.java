package io.averager.format;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parsed and validated header of an existing safetensors file: its tensors in data order, its
 * metadata and where its data starts. Immutable.
 */
final class SafetensorsHeader {

    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            // Two entries of one name would make one tensor unreachable: refuse the file instead.
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    final long dataStart;
    final TensorOffsets offsets;
    final Map<String, String> metadata;

    private SafetensorsHeader(long dataStart, TensorOffsets offsets, Map<String, String> metadata) {
        this.dataStart = dataStart;
        this.offsets = offsets;
        this.metadata = metadata;
    }

    /** One tensor as the header declares it, before the layout checks. */
    private record Entry(TensorSpec spec, long begin, long end) {
    }

    /**
     * Reads and checks the header of {@code path} through {@code channel}.
     *
     * @throws IOException naming the file (and the tensor, where one is at fault) when the file is
     *     not a well-formed safetensors file
     */
    static SafetensorsHeader read(Path path, FileChannel channel) throws IOException {
        long fileSize = channel.size();
        if (fileSize < SafetensorsLayout.PREFIX_BYTES) {
            throw malformed(path, "is too short: %d bytes, less than the 8-byte header length", fileSize);
        }
        long n = readFully(channel, 0, SafetensorsLayout.PREFIX_BYTES).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (n < 0 || n > SafetensorsLayout.MAX_HEADER_BYTES) {
            throw malformed(path, "declares a header of %s bytes, more than the %d bytes accepted",
                    Long.toUnsignedString(n), SafetensorsLayout.MAX_HEADER_BYTES);
        }
        if (n > fileSize - SafetensorsLayout.PREFIX_BYTES) {
            throw malformed(path, "declares a header of %d bytes, larger than the %d bytes after the length",
                    n, fileSize - SafetensorsLayout.PREFIX_BYTES);
        }
        JsonNode root = parseJson(path, readFully(channel, SafetensorsLayout.PREFIX_BYTES, (int) n));
        Map<String, String> metadata = Map.of();
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (field.getKey().equals(TensorOffsets.METADATA_KEY)) {
                metadata = metadata(path, field.getValue());
            } else {
                entries.add(entry(path, field.getKey(), field.getValue()));
            }
        }
        // Zero-size tensors share their begin with the next tensor: order them first.
        entries.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long dataStart = SafetensorsLayout.PREFIX_BYTES + n;
        checkContiguous(path, entries, fileSize - dataStart);
        return new SafetensorsHeader(dataStart,
                TensorOffsets.of(entries.stream().map(Entry::spec).toList()), metadata);
    }

    private static JsonNode parseJson(Path path, ByteBuffer bytes) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(bytes.array(), 0, bytes.limit());
        } catch (JsonProcessingException e) {
            throw malformed(path, "has a header that is not valid JSON: %s", e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw malformed(path, "has a header that is not a JSON object");
        }
        return root;
    }

    private static Map<String, String> metadata(Path path, JsonNode node) throws IOException {
        if (!node.isObject()) {
            throw malformed(path, "has %s that is not an object", TensorOffsets.METADATA_KEY);
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            if (!field.getValue().isTextual()) {
                throw malformed(path, "has metadata key %s whose value is not a string: %s",
                        field.getKey(), field.getValue());
            }
            metadata.put(field.getKey(), field.getValue().textValue());
        }
        return Collections.unmodifiableMap(metadata);
    }

    private static Entry entry(Path path, String name, JsonNode node) throws IOException {
        if (!node.isObject()) {
            throw malformed(path, "tensor %s: entry is not a JSON object", name);
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw malformed(path, "tensor %s: dtype is missing or not a string", name);
        }
        Dtype dtype;
        try {
            dtype = Dtype.parse(dtypeNode.textValue());
        } catch (IllegalArgumentException e) {
            throw malformed(path, "tensor %s: unknown or unsupported dtype %s (supported: %s)",
                    name, dtypeNode.textValue(), Arrays.toString(Dtype.values()));
        }
        long[] shape = longs(path, name, node, "shape", -1);
        long[] range = longs(path, name, node, "data_offsets", 2);
        TensorSpec spec;
        long byteSize;
        try {
            spec = new TensorSpec(name, dtype, shape);
            byteSize = spec.byteSize();
        } catch (ArithmeticException e) {
            throw malformed(path, "tensor %s: shape %s overflows a long", name, Arrays.toString(shape));
        } catch (IllegalArgumentException e) {
            throw malformed(path, "tensor %s: %s", name, e.getMessage());
        }
        if (range[1] < range[0] || range[1] - range[0] != byteSize) {
            throw malformed(path, "tensor %s: data_offsets [%d, %d] span %d bytes, but shape %s of %s needs %d",
                    name, range[0], range[1], range[1] - range[0], Arrays.toString(shape), dtype, byteSize);
        }
        return new Entry(spec, range[0], range[1]);
    }

    /** A field holding an array of non-negative integers, of length {@code expected} unless negative. */
    private static long[] longs(Path path, String name, JsonNode node, String field, int expected)
            throws IOException {
        JsonNode array = node.get(field);
        if (array == null || !array.isArray() || (expected >= 0 && array.size() != expected)) {
            throw malformed(path, "tensor %s: %s is missing or not an array%s: %s", name, field,
                    expected >= 0 ? " of " + expected + " integers" : "", array);
        }
        long[] values = new long[array.size()];
        for (int i = 0; i < values.length; i++) {
            JsonNode v = array.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw malformed(path, "tensor %s: %s holds %s, not a non-negative integer", name, field, v);
            }
            values[i] = v.longValue();
        }
        return values;
    }

    /** Tensors must tile the data buffer exactly: no overlap, no hole, nothing missing or extra. */
    private static void checkContiguous(Path path, List<Entry> entries, long dataBytes) throws IOException {
        long expected = 0;
        String previous = null;
        for (Entry e : entries) {
            String name = e.spec().name();
            if (e.begin() < expected) {
                throw malformed(path, "tensor %s at data_offsets [%d, %d] overlaps tensor %s, which ends at %d",
                        name, e.begin(), e.end(), previous, expected);
            }
            if (e.begin() > expected) {
                throw malformed(path, "has a hole of %d bytes at data offset %d, before tensor %s",
                        e.begin() - expected, expected, name);
            }
            expected = e.end();
            previous = name;
        }
        if (expected > dataBytes) {
            throw malformed(path, "tensor %s ends at data offset %d, past the end of the file (%d data bytes)",
                    previous, expected, dataBytes);
        }
        if (expected < dataBytes) {
            throw malformed(path, "has %d bytes after the end of the last tensor%s",
                    dataBytes - expected, previous == null ? "" : " " + previous);
        }
    }

    /** Reads exactly {@code length} bytes at {@code position} into a new heap buffer, flipped. */
    static ByteBuffer readFully(FileChannel channel, long position, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        long at = position;
        while (buf.hasRemaining()) {
            int read = channel.read(buf, at);
            if (read < 0) {
                throw new EOFException("End of file at byte " + at + " while reading " + length
                        + " bytes at " + position);
            }
            at += read;
        }
        return buf.flip();
    }

    private static IOException malformed(Path path, String format, Object... args) {
        return new IOException("Safetensors file " + path + " " + String.format(format, args));
    }
}
