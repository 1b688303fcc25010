package io.averager.sink;

import io.averager.AveragerException;
import io.averager.format.SafetensorsLayout;
import io.averager.format.SafetensorsWriter;
import io.averager.wire.Tensors;
import io.averager.wire.avro.CheckpointChunk;
import io.averager.wire.avro.CheckpointHeader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * One checkpoint being assembled into a local safetensors file, chunk by chunk at each chunk's
 * position, so the heap never holds the checkpoint. Not thread-safe.
 */
final class CheckpointAssembly implements AutoCloseable {

    private final CheckpointHeader header;
    private final long headerOffset;
    private final Path file;
    private final SafetensorsWriter writer;
    private final Set<String> seen = new HashSet<>();

    /** @param headerOffset where the header lies in its partition: consumption must restart there after a crash */
    CheckpointAssembly(CheckpointHeader header, long headerOffset, Path file) throws IOException {
        this.header = header;
        this.headerOffset = headerOffset;
        this.file = file;
        this.writer = SafetensorsWriter.create(file, SafetensorsLayout.of(Tensors.specs(header.getTensors()), header.getMetadata()));
    }

    CheckpointHeader header() {
        return header;
    }

    long headerOffset() {
        return headerOffset;
    }

    void write(CheckpointChunk chunk) throws IOException {
        writer.write(chunk.getTensor(), chunk.getOffset(), chunk.getData());
        seen.add(chunk.getTensor() + "@" + chunk.getOffset());
    }

    /**
     * Finishes the file and returns its size and SHA-256.
     *
     * @throws AveragerException if chunks are missing
     */
    Finished finish(int chunkCount) throws IOException {
        if (seen.size() != chunkCount || chunkCount != header.getChunkCount()) {
            throw new AveragerException("Checkpoint of run " + header.getRun() + " profile " + header.getProfile()
                    + " step " + header.getStep() + ": " + seen.size() + " chunks written, expected " + chunkCount);
        }
        writer.force();
        writer.close();
        return new Finished(file, Files.size(file), FileDigest.sha256(file));
    }

    /** A complete local file. */
    record Finished(Path file, long size, String sha256) {
    }

    /** Drops the partial file. */
    @Override
    public void close() {
        try {
            writer.close();
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
