package io.averager.topology;

import io.averager.wire.ChunkDigest;
import io.averager.wire.Tensors;
import io.averager.wire.avro.Dtype;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import io.averager.wire.avro.SnapshotMode;
import io.averager.wire.avro.TensorInfo;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecordBase;

/**
 * One snapshot laid out as the publisher lays it out: a header, the chunks of each tensor on the
 * grid in declaration order (the last one of a tensor a tail), and a commit whose digest is the
 * sum of {@link ChunkDigest} terms. Tests send its records as they are, reordered, repeated or
 * altered; the integration tests send it through a real broker, the lifecycle tests hand its
 * records to the lifecycle directly. Not thread-safe.
 */
public final class TestSnapshot {

    public static final long DEFAULT_GRID = 4;
    public static final long DEFAULT_TIMESTAMP = 1_000_000L;

    private final String run;
    private final long step;
    private final List<TensorInfo> tensors = new ArrayList<>();
    private final List<byte[]> data = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final List<String> copy = new ArrayList<>();
    private long grid = DEFAULT_GRID;
    private SnapshotMode mode = SnapshotMode.UPDATE;
    private boolean endOfRun;
    private boolean checkpoint;
    private long timestamp = DEFAULT_TIMESTAMP;

    private TestSnapshot(String run, long step) {
        this.run = run;
        this.step = step;
    }

    public static TestSnapshot of(String run, long step) {
        return new TestSnapshot(run, step);
    }

    public TestSnapshot grid(long elements) {
        this.grid = elements;
        return this;
    }

    public TestSnapshot set() {
        this.mode = SnapshotMode.SET;
        return this;
    }

    public TestSnapshot endOfRun() {
        this.endOfRun = true;
        return this;
    }

    /** Asks for a checkpoint at this step, whatever the cadence. */
    public TestSnapshot checkpoint() {
        this.checkpoint = true;
        return this;
    }

    /** The record timestamp every record of the snapshot carries. */
    public TestSnapshot at(long timestampMs) {
        this.timestamp = timestampMs;
        return this;
    }

    /** Names tensors whose EMA is to be their latest weights. */
    public TestSnapshot copy(String... names) {
        copy.addAll(List.of(names));
        return this;
    }

    public TestSnapshot metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** A one-dimensional F32 tensor. */
    public TestSnapshot f32(String name, float... values) {
        return tensor(name, Dtype.F32, new long[] {values.length}, TensorData.f32(values));
    }

    public TestSnapshot tensor(String name, Dtype dtype, long[] shape, byte[] bytes) {
        List<Long> dims = new ArrayList<>();
        Arrays.stream(shape).forEach(dims::add);
        tensors.add(new TensorInfo(name, dtype, dims));
        data.add(bytes.clone());
        return this;
    }

    public String run() {
        return run;
    }

    public long step() {
        return step;
    }

    public long timestamp() {
        return timestamp;
    }

    public SnapshotHeader header() {
        return new SnapshotHeader(run, step, mode, List.copyOf(tensors), grid, chunks().size(), endOfRun, checkpoint,
                Map.copyOf(metadata), List.copyOf(copy));
    }

    public List<SnapshotChunk> chunks() {
        List<SnapshotChunk> chunks = new ArrayList<>();
        // A grid below 1 is invalid; one chunk per tensor keeps such a snapshot finite.
        long cell = grid > 0 ? grid : Long.MAX_VALUE;
        for (int t = 0; t < tensors.size(); t++) {
            byte[] bytes = data.get(t);
            int elementSize = Tensors.dtype(tensors.get(t).getDtype()).size();
            long numel = bytes.length / elementSize;
            for (long offset = 0, end; offset < numel; offset = end) {
                end = numel - offset <= cell ? numel : offset + cell;
                chunks.add(new SnapshotChunk(run, step, tensors.get(t).getName(), offset, ByteBuffer.wrap(
                        Arrays.copyOfRange(bytes, (int) offset * elementSize, (int) end * elementSize))));
            }
        }
        return chunks;
    }

    /** The chunk of {@code tensor} that starts at element {@code offset}. */
    public SnapshotChunk chunk(String tensor, long offset) {
        return chunks().stream()
                .filter(c -> c.getTensor().equals(tensor) && c.getOffset() == offset)
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no chunk of " + tensor + " at " + offset));
    }

    public SnapshotCommit commit() {
        List<SnapshotChunk> chunks = chunks();
        return new SnapshotCommit(run, step, chunks.size(), digest(chunks));
    }

    /** Header, chunks, commit. */
    public List<SpecificRecordBase> records() {
        List<SpecificRecordBase> records = new ArrayList<>();
        records.add(header());
        records.addAll(chunks());
        records.add(commit());
        return records;
    }

    public static long digest(List<SnapshotChunk> chunks) {
        long sum = 0;
        for (SnapshotChunk c : chunks) {
            sum += ChunkDigest.of(c.getTensor(), c.getOffset(), c.getData());
        }
        return sum;
    }
}
