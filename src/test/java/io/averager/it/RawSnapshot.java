package io.averager.it;

import io.averager.wire.ChunkDigest;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.Dtype;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import io.averager.wire.avro.SnapshotMode;
import io.averager.wire.avro.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecordBase;

/**
 * One snapshot as records, laid out as the publisher lays it out (header, the chunks of each
 * tensor on the grid in declaration order, commit with the digest of the chunks), for tests that
 * send records themselves: without the publisher, out of order, in part or altered. Not
 * thread-safe.
 */
final class RawSnapshot {

    private final String run;
    private final long step;
    private final List<TensorInfo> tensors = new ArrayList<>();
    private final List<byte[]> data = new ArrayList<>();
    private long grid = 4;
    private boolean endOfRun;

    private RawSnapshot(String run, long step) {
        this.run = run;
        this.step = step;
    }

    static RawSnapshot of(String run, long step) {
        return new RawSnapshot(run, step);
    }

    RawSnapshot grid(long elements) {
        this.grid = elements;
        return this;
    }

    RawSnapshot endOfRun() {
        this.endOfRun = true;
        return this;
    }

    /** A one-dimensional F32 tensor. */
    RawSnapshot f32(String name, float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return tensor(name, Dtype.F32, new long[] {values.length}, b.array());
    }

    /** A tensor of any dtype, shape and little-endian bytes; chunks are cut by the dtype's size. */
    RawSnapshot tensor(String name, Dtype dtype, long[] shape, byte[] bytes) {
        tensors.add(new TensorInfo(name, dtype, Arrays.stream(shape).boxed().toList()));
        data.add(bytes.clone());
        return this;
    }

    SnapshotHeader header() {
        return new SnapshotHeader(run, step, SnapshotMode.UPDATE, List.copyOf(tensors), grid, chunks().size(), endOfRun,
                Map.of());
    }

    List<SnapshotChunk> chunks() {
        List<SnapshotChunk> chunks = new ArrayList<>();
        // A grid below 1 is invalid; one chunk per tensor keeps such a snapshot finite.
        long cell = grid > 0 ? grid : Long.MAX_VALUE;
        for (int t = 0; t < tensors.size(); t++) {
            byte[] bytes = data.get(t);
            int size = io.averager.ema.Dtype.valueOf(tensors.get(t).getDtype().name()).size();
            long numel = bytes.length / size;
            for (long offset = 0, end; offset < numel; offset = end) {
                end = numel - offset <= cell ? numel : offset + cell;
                chunks.add(new SnapshotChunk(run, step, tensors.get(t).getName(), offset,
                        ByteBuffer.wrap(Arrays.copyOfRange(bytes, (int) offset * size, (int) end * size))));
            }
        }
        return chunks;
    }

    /** The chunk of {@code tensor} that starts at element {@code offset}. */
    SnapshotChunk chunk(String tensor, long offset) {
        return chunks().stream()
                .filter(c -> c.getTensor().equals(tensor) && c.getOffset() == offset)
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no chunk of " + tensor + " at " + offset));
    }

    SnapshotCommit commit() {
        long digest = 0;
        for (SnapshotChunk c : chunks()) {
            digest += ChunkDigest.of(c.getTensor(), c.getOffset(), c.getData());
        }
        return new SnapshotCommit(run, step, chunks().size(), digest);
    }

    /** Header, chunks, commit. */
    List<SpecificRecordBase> records() {
        List<SpecificRecordBase> records = new ArrayList<>();
        records.add(header());
        records.addAll(chunks());
        records.add(commit());
        return records;
    }

    /** Every record of {@link #records()} in single-object encoding. */
    List<byte[]> encoded() {
        return records().stream().map(WireCodec::encode).toList();
    }
}
