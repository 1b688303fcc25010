package io.averager.it;

import io.averager.topology.TestSnapshot;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.Dtype;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.apache.avro.specific.SpecificRecordBase;

/**
 * Hostile and broken input for the snapshots topic, one {@link Case} per way of being wrong, in
 * one list. Most cases have a run of their own ({@code h-NAME}) so that their records only meet
 * their own state, and records that set a case up (an earlier good snapshot, an open header) are
 * part of it; a few aim at the {@link #CLEAN_RUN} itself.
 */
final class HostileCorpus {

    /** Record header naming the case on every record sent; the service copies it to dead letters. */
    static final String CASE_HEADER = "hostile.case";

    /** One record as bytes: null stays null. */
    record Raw(byte[] key, byte[] value) {
    }

    /**
     * One hostile input.
     *
     * @param run the run id it is about (not necessarily its records' key)
     * @param reasons per expected dead letter, in order, fragments its reason must contain
     * @param abortsCheckpoint its snapshot was due a checkpoint, which must be aborted
     * @param storedStep for a valid but awkward run id: the step whose checkpoint must be stored; else -1
     */
    record Case(String name, String run, List<Raw> records, List<List<String>> reasons, boolean abortsCheckpoint,
                long storedStep) {

        boolean stored() {
            return storedStep >= 0;
        }

        Case abortingItsCheckpoint() {
            return new Case(name, run, records, reasons, true, storedStep);
        }
    }

    /**
     * The run whose snapshots the test publishes between the cases; some cases send it records
     * that do not fit its state, and its EMA must not notice.
     */
    static final String CLEAN_RUN = "clean";

    private static final float[] W = {1, 2, 3, 4, 5, 6};

    private HostileCorpus() {
    }

    static List<Case> cases() {
        return List.of(
                // Not a snapshot record at all.
                reject("not-avro", r -> List.of(raw(r, utf8("{\"run\": \"" + r + "\", \"step\": 7}"))),
                        reason("Record for run RUN", "not Avro single-object encoding", "marker is 7B 22")),
                reject("wrong-marker", r -> List.of(raw(r, altered(header(r, 7), 0, 0xC2))),
                        reason("Record for run RUN", "marker is C2 01, expected C3 01")),
                reject("unknown-fingerprint", r -> List.of(raw(r, altered(header(r, 7), 5, 0x40))),
                        reason("Record for run RUN", "unknown schema fingerprint")),
                reject("truncated-body", r -> List.of(raw(r, truncated(header(r, 7), 3))),
                        reason("Record for run RUN", "malformed SnapshotHeader body")),
                reject("shorter-than-prefix", r -> List.of(raw(r, new byte[] {(byte) 0xC3, 0x01, 7})),
                        reason("Record for run RUN", "shorter than the 10-byte single-object prefix")),
                reject("empty-value", r -> List.of(raw(r, new byte[0])),
                        reason("Record for run RUN", "empty message")),
                reject("null-value", r -> List.of(new Raw(utf8(r), null)),
                        reason("Record for run RUN", "empty message")),
                reject("null-key", r -> List.of(new Raw(null, encode(header(r, 7)))),
                        reason("record has no key", "expected the run id")),
                reject("non-utf8-key", r -> List.of(new Raw(new byte[] {'h', (byte) 0xC3, (byte) 0x28}, encode(header(r, 7)))),
                        reason("record key is not valid UTF-8", "expected the run id")),
                reject("empty-key", r -> List.of(new Raw(new byte[0], encode(header(r, 7)))),
                        reason("record key of 0 bytes")),
                reject("key-not-the-run", r -> List.of(new Raw(utf8(r + "-other"), encode(header(r, 7)))),
                        reason("SnapshotHeader for run RUN was published with key RUN-other", "the key must be the run id")),
                reject("checkpoint-record", r -> records(r, new CheckpointCommit(r, "ema", 7L, 1, null)),
                        reason("Record for run RUN", "CheckpointCommit does not belong on the snapshots topic")),

                // Headers that cannot be right whatever the run's state.
                reject("negative-dimension", r -> records(r, TestSnapshot.of(r, 7).tensor("w", Dtype.F32, new long[] {2, -3}, new byte[0]).header()),
                        reason("Snapshot header for run RUN step 7", "tensor w has negative dimension in shape [2, -3]")),
                reject("size-overflow", r -> records(r, TestSnapshot.of(r, 7).tensor("w", Dtype.F32, new long[] {1L << 32, 1L << 32}, new byte[0]).header()),
                        reason("Snapshot header for run RUN step 7", "tensor w has shape [4294967296, 4294967296] whose size overflows")),
                reject("above-max-tensor-elements", r -> records(r, TestSnapshot.of(r, 7).tensor("w", Dtype.F32, new long[] {1L << 20, 1L << 17}, new byte[0]).header()),
                        reason("Snapshot header for run RUN step 7", "tensor w", "averager.max.tensor.elements")),
                reject("tensor-name-of-10000-characters", r -> records(r, TestSnapshot.of(r, 7).f32("n".repeat(10_000), 1, 2).header()),
                        reason("Snapshot header for run RUN step 7", "tensor name of 10000 characters (expected 1 to 1024)")),
                reject("chunk-tensor-name-of-10000-characters", r -> records(r, new SnapshotChunk(r, 7L, "n".repeat(10_000), 0L, f32(1))),
                        reason("Chunk for run RUN step 7", "tensor name of 10000 characters")),
                reject("tensor-declared-twice", r -> records(r, TestSnapshot.of(r, 7).f32("w", 1).f32("w", 2).header()),
                        reason("Snapshot header for run RUN step 7", "tensor w is declared twice")),
                reject("header-chunk-count-wrong", r -> records(r, withChunkCount(TestSnapshot.of(r, 7).f32("w", W).header(), 5)),
                        reason("Snapshot header for run RUN step 7", "chunkCount is 5", "make 2 chunks")),
                reject("grid-zero", r -> records(r, TestSnapshot.of(r, 7).grid(0).f32("w", 1).header()),
                        reason("Snapshot header for run RUN step 7", "grid 0 is outside")),
                reject("negative-step", r -> records(r, TestSnapshot.of(r, -7).f32("w", 1).header()),
                        reason("Snapshot header for run RUN step -7", "step is negative")),

                // Chunks that do not fit the open snapshot.
                reject("chunk-before-header", r -> records(r, snapshot(r, 7).chunk("w", 0)),
                        reason("Chunk for run RUN step 7 tensor w", "no open snapshot of that step (its header is missing)")),
                reject("chunk-of-undeclared-tensor", r -> records(r, snapshot(r, 7).header(), new SnapshotChunk(r, 7L, "ghost", 0L, f32(1, 2, 3, 4))),
                        reason("Chunk for run RUN step 7", "tensor ghost is not declared in the snapshot header")),
                reject("offset-off-the-grid", r -> records(r, snapshot(r, 7).header(), new SnapshotChunk(r, 7L, "w", 2L, f32(3, 4, 5, 6))),
                        reason("Chunk for run RUN step 7", "tensor w offset 2 is not on the chunk grid of 4 elements")),
                reject("offset-past-the-tensor-end", r -> records(r, snapshot(r, 7).header(), new SnapshotChunk(r, 7L, "w", 8L, f32(9))),
                        reason("Chunk for run RUN step 7", "tensor w offset 8 is past the tensor's end (6 elements)")),
                reject("wrong-chunk-length", r -> records(r, snapshot(r, 7).header(), new SnapshotChunk(r, 7L, "w", 0L, f32(1, 2, 3))),
                        reason("Chunk for run RUN step 7", "tensor w at offset 0 has 12 bytes, expected 16 (4 F32 elements)")),
                reject("dtype-not-the-declared-one", r -> records(r,
                                TestSnapshot.of(r, 7).tensor("w", Dtype.F16, new long[] {4}, new byte[8]).header(),
                                new SnapshotChunk(r, 7L, "w", 0L, f32(1, 2, 3, 4))),
                        reason("Chunk for run RUN step 7", "tensor w at offset 0 has 16 bytes, expected 8 (4 F16 elements)")),
                reject("chunk-of-an-applied-step", r -> concat(snapshot(r, 5), records(r, snapshot(r, 5).chunk("w", 4))),
                        reason("Chunk for run RUN step 5 tensor w", "step already applied")),

                // Changes of a run that only SET may make, and steps that go back.
                reject("shape-changing-mid-run", r -> concat(snapshot(r, 1),
                                records(r, TestSnapshot.of(r, 2).f32("w", 1, 2, 3, 4, 5, 6, 7, 8).header())),
                        reason("Snapshot header for run RUN step 2", "tensor w is F32[8], run has F32[6]", "publish with mode SET")),
                reject("tensor-added-mid-run", r -> concat(snapshot(r, 1),
                                records(r, TestSnapshot.of(r, 2).f32("w", W).f32("b", 1).header())),
                        reason("Snapshot header for run RUN step 2", "tensor b is new")),
                reject("tensor-removed-mid-run", r -> concat(
                                encoded(TestSnapshot.of(r, 1).f32("w", W).f32("b", 1)),
                                records(r, TestSnapshot.of(r, 2).f32("w", W).header())),
                        reason("Snapshot header for run RUN step 2", "the tensor set changed: 1 tensors, run has 2")),
                reject("step-going-back", r -> concat(snapshot(r, 5), records(r, snapshot(r, 3).header())),
                        reason("Snapshot header for run RUN step 3", "step is not newer than the run's last step 5")),

                // Commits that do not match what arrived.
                reject("commit-chunk-count-wrong", r -> records(r, snapshot(r, 7).header(), snapshot(r, 7).chunk("w", 0),
                                snapshot(r, 7).chunk("w", 4), withCount(snapshot(r, 7), 3)),
                        reason("Commit for run RUN step 7", "2 chunks received, commit says 3, header declared 2")),
                reject("commit-digest-wrong", r -> records(r, snapshot(r, 7).header(), snapshot(r, 7).chunk("w", 0),
                                snapshot(r, 7).chunk("w", 4), withDigestOffBy(snapshot(r, 7), 1)),
                        reason("Commit for run RUN step 7", "does not match the chunks received")),
                reject("commit-after-a-lost-chunk", r -> records(r, snapshot(r, 7).header(), snapshot(r, 7).chunk("w", 0),
                                snapshot(r, 7).commit()),
                        reason("Commit for run RUN step 7", "1 chunks received, commit says 2, header declared 2; missing w@4")),
                reject("commit-never-sent", r -> concat(records(r, snapshot(r, 7).header(), snapshot(r, 7).chunk("w", 4)),
                                snapshot(r, 8)),
                        reason("Snapshot of run RUN step 7 is incomplete (1 of 2 chunks)", "header of step 8 came first",
                                "missing w@0")),

                // NaN and infinities under averager.nonfinite=reject: chunk and commit dead-lettered.
                reject("nan-in-f32", r -> encoded(TestSnapshot.of(r, 7).endOfRun().f32("w", 1, 2, 3, 4, 5, Float.NaN)),
                        reason("Chunk for run RUN step 7: tensor w at offset 4 holds NaN at element 5 (index 1 of the chunk)"),
                        reason("Commit for run RUN step 7", "not averaged whole")).abortingItsCheckpoint(),
                reject("infinity-in-bf16", r -> encoded(TestSnapshot.of(r, 7).endOfRun()
                                .tensor("w", Dtype.BF16, new long[] {2, 3}, le16(0x3F80, 0, 0, 0, 0x7F80, 0))),
                        reason("Chunk for run RUN step 7: tensor w at offset 4 holds +Inf at element 4 (index 0 of the chunk)"),
                        reason("Commit for run RUN step 7", "not averaged whole")).abortingItsCheckpoint(),
                reject("negative-infinity-in-f16", r -> encoded(TestSnapshot.of(r, 7).endOfRun()
                                .tensor("w", Dtype.F16, new long[] {6}, le16(0x3C00, 0xFC00, 0, 0, 0, 0))),
                        reason("Chunk for run RUN step 7: tensor w at offset 0 holds -Inf at element 1 (index 1 of the chunk)"),
                        reason("Commit for run RUN step 7", "not averaged whole")).abortingItsCheckpoint(),
                reject("nan-in-f64", r -> encoded(TestSnapshot.of(r, 7).endOfRun()
                                .tensor("w", Dtype.F64, new long[] {3}, f64(Double.NaN, 1, 2))),
                        reason("Chunk for run RUN step 7: tensor w at offset 0 holds NaN at element 0 (index 0 of the chunk)"),
                        reason("Commit for run RUN step 7", "not averaged whole")).abortingItsCheckpoint(),

                // Records of the clean run itself that do not fit its state: they must not touch it.
                rejectFor("stale-header-of-the-clean-run", CLEAN_RUN, r -> records(r, header(r, 5)),
                        reason("Snapshot header for run RUN step 5", "step is not newer than the run's last step")),
                rejectFor("stray-chunk-of-the-clean-run", CLEAN_RUN,
                        r -> records(r, new SnapshotChunk(r, 10_000L, "fc.bias", 0L, f32(new float[64]))),
                        reason("Chunk for run RUN step 10000 tensor fc.bias", "no open snapshot of that step")),
                rejectFor("stray-commit-of-the-clean-run", CLEAN_RUN, r -> records(r, new SnapshotCommit(r, 10_000L, 15, 0L)),
                        reason("Commit for run RUN step 10000", "no open snapshot of that step")),

                // Run ids that are valid but dangerous as paths: processed, stored escaped.
                stored("dot-dot-slash", "../../escaped-" + ProcessHandle.current().pid()),
                stored("dot-dot", ".."),
                stored("slashes", "/team/a/run-1"),
                stored("nul", "run\u0000one"),
                stored("newlines", "run\nwith\r\nnewlines"));
    }

    private static Case reject(String name, Function<String, List<Raw>> records, String[]... reasons) {
        return rejectFor(name, "h-" + name, records, reasons);
    }

    private static Case rejectFor(String name, String run, Function<String, List<Raw>> records, String[]... reasons) {
        List<List<String>> expected = Arrays.stream(reasons)
                .map(fragments -> Arrays.stream(fragments).map(f -> f.replace("RUN", run)).toList())
                .toList();
        return new Case(name, run, records.apply(run), expected, false, -1);
    }

    private static Case stored(String name, String run) {
        return new Case(name, run, encoded(TestSnapshot.of(run, 1).endOfRun().f32("w", W)), List.of(), false, 1);
    }

    /** Fragments one dead letter's reason must contain; RUN stands for the case's run id. */
    private static String[] reason(String... fragments) {
        return fragments;
    }

    private static TestSnapshot snapshot(String run, long step) {
        return TestSnapshot.of(run, step).f32("w", W);
    }

    private static SnapshotHeader header(String run, long step) {
        return snapshot(run, step).header();
    }

    private static List<Raw> records(String run, SpecificRecordBase... records) {
        return Arrays.stream(records).map(r -> raw(run, encode(r))).toList();
    }

    private static List<Raw> encoded(TestSnapshot s) {
        return s.records().stream().map(r -> new Raw(utf8(runOf(r)), encode(r))).toList();
    }

    private static List<Raw> concat(TestSnapshot first, List<Raw> then) {
        return concat(encoded(first), then);
    }

    private static List<Raw> concat(List<Raw> first, TestSnapshot then) {
        return concat(first, encoded(then));
    }

    private static List<Raw> concat(List<Raw> first, List<Raw> then) {
        List<Raw> all = new ArrayList<>(first);
        all.addAll(then);
        return all;
    }

    private static Raw raw(String key, byte[] value) {
        return new Raw(utf8(key), value);
    }

    private static String runOf(SpecificRecordBase r) {
        return r.get("run").toString();
    }

    private static SnapshotHeader withChunkCount(SnapshotHeader h, int count) {
        h.setChunkCount(count);
        return h;
    }

    private static SpecificRecordBase withCount(TestSnapshot s, int count) {
        var commit = s.commit();
        commit.setChunkCount(count);
        return commit;
    }

    private static SpecificRecordBase withDigestOffBy(TestSnapshot s, long delta) {
        var commit = s.commit();
        commit.setDigest(commit.getDigest() + delta);
        return commit;
    }

    private static byte[] encode(SpecificRecordBase record) {
        return WireCodec.encode(record);
    }

    /** The encoding of {@code record} with byte {@code at} XOR-ed ({@code at} 0: replaced) with {@code bits}. */
    private static byte[] altered(SpecificRecordBase record, int at, int bits) {
        byte[] value = encode(record);
        value[at] = (byte) (at == 0 ? bits : value[at] ^ bits);
        return value;
    }

    private static byte[] truncated(SpecificRecordBase record, int by) {
        byte[] value = encode(record);
        return Arrays.copyOf(value, value.length - by);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static ByteBuffer f32(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.flip();
    }

    private static byte[] f64(double... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            b.putDouble(v);
        }
        return b.array();
    }

    private static byte[] le16(int... bits) {
        ByteBuffer b = ByteBuffer.allocate(bits.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : bits) {
            b.putShort((short) v);
        }
        return b.array();
    }
}
