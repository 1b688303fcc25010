package io.averager.format;

import io.averager.ema.TensorSpec;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reads a safetensors file by position after validating its whole header, so that slices of a
 * tensor can be read without loading the file.
 *
 * <p>{@link #open} rejects, with an {@link IOException} naming the file and the tensor at fault: a
 * file too short for the length prefix, a header longer than the file or than 100 MiB, a header
 * that is not a JSON object, an unknown dtype, data offsets that do not match shape times dtype
 * size, overlapping tensors or holes between them, and data past (or short of) the end of the file.
 *
 * <p>Thread-safe: {@link #read} may be called concurrently (positional channel reads). No argument
 * may be {@code null}; no method returns {@code null}.
 */
public final class SafetensorsReader implements Closeable {

    private final Path path;
    private final FileChannel channel;
    private final SafetensorsHeader header;

    private SafetensorsReader(Path path, FileChannel channel, SafetensorsHeader header) {
        this.path = path;
        this.channel = channel;
        this.header = header;
    }

    /** Opens the file and validates its header. */
    public static SafetensorsReader open(Path path) throws IOException {
        Objects.requireNonNull(path, "path");
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
        try {
            return new SafetensorsReader(path, channel, SafetensorsHeader.read(path, channel));
        } catch (IOException | RuntimeException e) {
            try {
                channel.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** The tensors in data-offset order; unmodifiable. */
    public List<TensorSpec> tensors() {
        return header.offsets.tensors();
    }

    /** The {@code __metadata__} pairs in file order; unmodifiable, empty when the file has none. */
    public Map<String, String> metadata() {
        return header.metadata;
    }

    /** Absolute file position of the first data byte. */
    public long dataStart() {
        return header.dataStart;
    }

    /** The file being read. */
    public Path path() {
        return path;
    }

    /**
     * Reads {@code count} elements of {@code tensor} starting at element {@code elementOffset}.
     *
     * @return a new little-endian heap buffer at position 0 holding exactly those bytes
     * @throws IllegalArgumentException for an unknown tensor, a range outside the tensor, or more
     *     than 2 GiB requested at once
     */
    public ByteBuffer read(String tensor, long elementOffset, int count) throws IOException {
        TensorSpec spec = header.offsets.spec(tensor);
        long offset = header.offsets.byteOffset(tensor, elementOffset, count);
        long length = (long) count * spec.dtype().size();
        if (length > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(String.format(
                    "Read of %d %s elements of tensor %s in %s is %d bytes, more than one buffer holds",
                    count, spec.dtype(), tensor, path, length));
        }
        return SafetensorsHeader.readFully(channel, header.dataStart + offset, (int) length)
                .order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    @Override
    public String toString() {
        return "SafetensorsReader[" + path + ", " + tensors().size() + " tensors]";
    }
}
