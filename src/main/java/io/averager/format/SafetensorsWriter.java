package io.averager.format;

import io.averager.ema.TensorSpec;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Objects;

/**
 * Writes a safetensors file by position, so that chunks of tensors can arrive in any order and the
 * heap never holds the whole file.
 *
 * <p>{@link #create} writes the header and sets the final file length at once; the data region
 * reads as zeros until written. The writer does not track which ranges were written: completeness
 * is the caller's business.
 *
 * <p>Thread-safe: {@link #write} and {@link #force} may be called concurrently (they use
 * positional channel operations and the file length never changes after creation); concurrent
 * writes to overlapping ranges leave those bytes unspecified. No argument may be {@code null}.
 */
public final class SafetensorsWriter implements Closeable {

    private final Path path;
    private final SafetensorsLayout layout;
    private final FileChannel channel;

    private SafetensorsWriter(Path path, SafetensorsLayout layout, FileChannel channel) {
        this.path = path;
        this.layout = layout;
        this.channel = channel;
    }

    /**
     * Creates (or truncates) the file, writes the header and extends the file to
     * {@link SafetensorsLayout#size()}.
     */
    public static SafetensorsWriter create(Path path, SafetensorsLayout layout) throws IOException {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(layout, "layout");
        FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
        try {
            writeFully(channel, layout.header(), 0);
            if (layout.size() > layout.dataStart()) {
                // One byte at the end sets the length; on most file systems the rest stays sparse.
                writeFully(channel, ByteBuffer.allocate(1), layout.size() - 1);
            }
        } catch (IOException | RuntimeException e) {
            try {
                channel.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        return new SafetensorsWriter(path, layout, channel);
    }

    /**
     * Writes the remaining bytes of {@code littleEndianData} as elements of {@code tensor} starting
     * at element {@code elementOffset}. The bytes must already be in little-endian element order;
     * the buffer's byte order setting is irrelevant. The caller's buffer position is not changed.
     *
     * @throws IllegalArgumentException for an unknown tensor, a byte count that is not a whole
     *     number of elements, or a range that does not lie inside the tensor
     */
    public void write(String tensor, long elementOffset, ByteBuffer littleEndianData) throws IOException {
        Objects.requireNonNull(littleEndianData, "littleEndianData");
        ByteBuffer data = littleEndianData.duplicate();
        TensorSpec spec = layout.offsets().spec(tensor);
        int elementSize = spec.dtype().size();
        int length = data.remaining();
        if (length % elementSize != 0) {
            throw new IllegalArgumentException(String.format(
                    "Write to tensor %s at element offset %d: %d bytes is not a whole number of %s elements"
                            + " (%d bytes each)", tensor, elementOffset, length, spec.dtype(), elementSize));
        }
        long count = length / elementSize;
        long position;
        try {
            position = layout.dataStart() + layout.offsets().byteOffset(tensor, elementOffset, count);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(String.format(
                    "Write to tensor %s at element offset %d of %d bytes (%d elements) does not fit the"
                            + " tensor's %d elements (%s %s, %d bytes) in %s",
                    tensor, elementOffset, length, count, spec.numel(), spec.dtype(),
                    Arrays.toString(spec.shape()), spec.byteSize(), path), e);
        }
        writeFully(channel, data, position);
    }

    /** Forces written data and the file length to the storage device. */
    public void force() throws IOException {
        channel.force(true);
    }

    /** The layout this file is written to. */
    public SafetensorsLayout layout() {
        return layout;
    }

    /** The file being written. */
    public Path path() {
        return path;
    }

    /** Closes the file without forcing it; call {@link #force()} first where durability matters. */
    @Override
    public void close() throws IOException {
        channel.close();
    }

    private static void writeFully(FileChannel channel, ByteBuffer data, long position) throws IOException {
        long at = position;
        while (data.hasRemaining()) {
            at += channel.write(data, at);
        }
    }
}
