package io.averager.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.wire.avro.CheckpointChunk;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.CheckpointHeader;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.Dtype;
import io.averager.wire.avro.PendingSnapshot;
import io.averager.wire.avro.RestorePoint;
import io.averager.wire.avro.RestorePoints;
import io.averager.wire.avro.RunLayout;
import io.averager.wire.avro.RunProgress;
import io.averager.wire.avro.RunState;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import io.averager.wire.avro.SnapshotMode;
import io.averager.wire.avro.TensorInfo;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.specific.SpecificRecordBase;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class WireCodecTest {

    private static final List<TensorInfo> TENSORS = List.of(
            new TensorInfo("layer1.0.bn1.running_mean", Dtype.F32, List.of(64L)),
            new TensorInfo("num_batches_tracked", Dtype.I64, List.of()),
            new TensorInfo("poids.é", Dtype.BF16, List.of(3L, 0L, 7L)));

    static Stream<SpecificRecordBase> everyRecordType() {
        return Stream.of(
                new SnapshotHeader("run-1", 1200L, SnapshotMode.SET, TENSORS, 4096L, 3, true, true,
                        Map.of("epoch", "3", "git", "abc"), List.of("layer1.0.bn1.running_mean")),
                new SnapshotHeader("run-1", 0L, SnapshotMode.UPDATE, TENSORS, 1L, 0, false, false, Map.of(), List.of()),
                new SnapshotChunk("run-1", 1200L, "poids.é", 8192L, ByteBuffer.wrap(new byte[] {0, 1, (byte) 0xFF, 3})),
                new SnapshotChunk("run-1", 1200L, "empty", 0L, ByteBuffer.allocate(0)),
                new SnapshotCommit("run-1", 1200L, 3, -1L),
                new CheckpointHeader("run-1", "ema", 1200L, TENSORS, 4096L, 3, Map.of("format", "averager-ema"), 2),
                new CheckpointChunk("run-1", "ema", 1200L, "w", 4096L, ByteBuffer.wrap(new byte[] {5, 6, 7, 8})),
                new CheckpointCommit("run-1", "ema", 1200L, 3, null),
                new CheckpointCommit("run-1", "ema", 1200L, 3, "digest does not match"),
                new CheckpointManifest("run-1", "ema", 1200L, "s3://bucket/runs/run-1/ema/step-1200.safetensors",
                        "safetensors", 123_456L, "ab".repeat(32), TENSORS, Instant.ofEpochMilli(1_700_000_000_123L), 0),
                new RunState(TENSORS, 4096L, 3, 1100L, 12L, 1000L, 1_700_000_000_000L, null),
                new RunState(TENSORS, 4096L, 3, -1L, 0L, -1L, -1L,
                        new PendingSnapshot(1200L, true, false, 1_700_000_000_500L, 2, 0x7FFF_FFFF_FFFFL,
                                ByteBuffer.wrap(new byte[] {5}), "chunk held NaN")));
    }

    @ParameterizedTest
    @MethodSource("everyRecordType")
    void roundTripsEveryRecordType(SpecificRecordBase record) {
        byte[] encoded = WireCodec.encode(record);

        SpecificRecordBase decoded = WireCodec.decode(encoded);

        assertThat(decoded).isInstanceOf(record.getClass()).isEqualTo(record);
        assertThat(WireCodec.decode(encoded, record.getClass())).isEqualTo(record);
    }

    @ParameterizedTest
    @MethodSource("everyRecordType")
    void prefixesTheMarkerAndTheLittleEndianFingerprintOfTheSchema(SpecificRecordBase record) {
        byte[] canonical = SchemaNormalization.toParsingForm(record.getSchema()).getBytes(StandardCharsets.UTF_8);
        long fingerprint = crc64Avro(canonical);

        byte[] encoded = WireCodec.encode(record);

        assertThat(encoded[0]).isEqualTo((byte) 0xC3);
        assertThat(encoded[1]).isEqualTo((byte) 0x01);
        assertThat(ByteBuffer.wrap(encoded, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong()).isEqualTo(fingerprint);
    }

    @Test
    void encodesASnapshotCommitAsPrefixThenTheAvroBinaryBody() {
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        expected.writeBytes(new byte[] {(byte) 0xC3, 0x01});
        byte[] canonical = SchemaNormalization.toParsingForm(SnapshotCommit.SCHEMA$).getBytes(StandardCharsets.UTF_8);
        expected.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(crc64Avro(canonical)).array());
        // run "r": zig-zag length 1, then 'r'; step 5, chunkCount 3, digest 7: zig-zag varints.
        expected.writeBytes(new byte[] {0x02, 'r', 0x0A, 0x06, 0x0E});

        assertThat(WireCodec.encode(new SnapshotCommit("r", 5L, 3, 7L))).isEqualTo(expected.toByteArray());
        assertThat(WireCodec.PREFIX_LENGTH).isEqualTo(10);
    }

    @Test
    void readsAHeaderOfTheFirstSchemaAsOneWithNoCheckpointRequested() {
        // What publishers sent before checkpoints on request, written out by hand (SnapshotHeader-v1.avsc).
        byte[] message = {(byte) 0xC3, 0x01, 0x07, 0x27, (byte) 0xF9, 0x0B, 0x13, (byte) 0x80, 0x15, (byte) 0xD0,
                0x02, 'r', 0x0E, 0x00, 0x00, 0x02, 0x00, 0x01, 0x00};

        SnapshotHeader header = WireCodec.decode(message, SnapshotHeader.class);

        assertThat(header).isEqualTo(new SnapshotHeader("r", 7L, SnapshotMode.UPDATE, List.of(), 1L, 0, true, false,
                Map.of(), List.of()));
        assertThat(Arrays.copyOf(WireCodec.encode(header), WireCodec.PREFIX_LENGTH))
                .as("the current schema's prefix").isNotEqualTo(Arrays.copyOf(message, WireCodec.PREFIX_LENGTH));
    }

    @Test
    void readsARunProgressStoredBeforeRewindsAsOneOfBranchZero() throws Exception {
        org.apache.avro.Schema v1;
        try (var in = WireCodec.class.getResourceAsStream("RunProgress-v1.avsc")) {
            v1 = new org.apache.avro.Schema.Parser().parse(in);
        }
        org.apache.avro.generic.GenericRecord stored = new org.apache.avro.generic.GenericData.Record(v1);
        stored.put("layoutStep", 3L);
        stored.put("lastStep", 40L);
        stored.put("snapshots", 9L);
        stored.put("lastCheckpointStep", 30L);
        stored.put("lastCheckpointTime", 1234L);
        stored.put("pending", null);
        byte[] message = new org.apache.avro.message.BinaryMessageEncoder<org.apache.avro.generic.GenericRecord>(
                org.apache.avro.generic.GenericData.get(), v1).encode(stored).array();

        RunProgress progress = WireCodec.decode(message, RunProgress.class);

        assertThat(progress).isEqualTo(new RunProgress(3L, 40L, 9L, 30L, 1234L, null, 0, -1L, -1L, null, null, -1L, false, -1L, -1L));
    }

    @Test
    void readsStateStoredBeforeRebuildsAsStateWithoutOne() throws Exception {
        org.apache.avro.Schema progressV2;
        org.apache.avro.Schema pointsV1;
        try (var a = WireCodec.class.getResourceAsStream("RunProgress-v2.avsc");
             var b = WireCodec.class.getResourceAsStream("RestorePoints-v1.avsc")) {
            progressV2 = new org.apache.avro.Schema.Parser().parse(a);
            pointsV1 = new org.apache.avro.Schema.Parser().parse(b);
        }
        org.apache.avro.generic.GenericRecord progress = new org.apache.avro.generic.GenericData.Record(progressV2);
        progress.put("layoutStep", 3L);
        progress.put("lastStep", 40L);
        progress.put("snapshots", 9L);
        progress.put("lastCheckpointStep", 30L);
        progress.put("lastCheckpointTime", 1234L);
        progress.put("pending", null);
        progress.put("branch", 2);
        progress.put("restoredFrom", 24L);
        org.apache.avro.Schema pointV1 = pointsV1.getField("points").schema().getElementType();
        org.apache.avro.generic.GenericRecord point = new org.apache.avro.generic.GenericData.Record(pointV1);
        point.put("step", 30L);
        point.put("time", 5L);
        point.put("snapshots", 9L);
        point.put("layoutStep", 3L);
        point.put("distances", null);
        org.apache.avro.generic.GenericRecord points = new org.apache.avro.generic.GenericData.Record(pointsV1);
        points.put("points", List.of(point));

        assertThat(WireCodec.decode(encode(progressV2, progress), RunProgress.class))
                .isEqualTo(new RunProgress(3L, 40L, 9L, 30L, 1234L, null, 2, 24L, -1L, null, null, -1L, false, -1L, -1L));
        assertThat(WireCodec.decode(encode(pointsV1, points), RestorePoints.class).getPoints())
                .containsExactly(new RestorePoint(30L, 5L, 9L, 3L, null, -1L));
    }

    @Test
    void readsProgressStoredBeforeItsAppliedOffsetAsUnknown() throws Exception {
        org.apache.avro.Schema progressV3;
        try (var in = WireCodec.class.getResourceAsStream("RunProgress-v3.avsc")) {
            progressV3 = new org.apache.avro.Schema.Parser().parse(in);
        }
        org.apache.avro.generic.GenericRecord progress = new org.apache.avro.generic.GenericData.Record(progressV3);
        for (org.apache.avro.Schema.Field f : progressV3.getFields()) {
            progress.put(f.name(), f.defaultVal() == org.apache.avro.JsonProperties.NULL_VALUE ? null : f.defaultVal());
        }
        progress.put("layoutStep", 3L);
        progress.put("lastStep", 40L);
        progress.put("snapshots", 9L);

        assertThat(WireCodec.decode(encode(progressV3, progress), RunProgress.class))
                .isEqualTo(new RunProgress(3L, 40L, 9L, -1L, -1L, null, 0, -1L, -1L, null, null, -1L, false, -1L, -1L));
    }

    private static byte[] encode(org.apache.avro.Schema schema, org.apache.avro.generic.GenericRecord record) throws Exception {
        return new org.apache.avro.message.BinaryMessageEncoder<org.apache.avro.generic.GenericRecord>(
                org.apache.avro.generic.GenericData.get(), schema).encode(record).array();
    }

    @Test
    void readsALayoutAndAHeaderWrittenBeforeCopyListsAsOnesThatCopyNothing() throws Exception {
        org.apache.avro.Schema layoutV1;
        org.apache.avro.Schema headerV2;
        try (var a = WireCodec.class.getResourceAsStream("RunLayout-v1.avsc");
             var b = WireCodec.class.getResourceAsStream("SnapshotHeader-v2.avsc")) {
            layoutV1 = new org.apache.avro.Schema.Parser().parse(a);
            headerV2 = new org.apache.avro.Schema.Parser().parse(b);
        }
        org.apache.avro.generic.GenericRecord layout = new org.apache.avro.generic.GenericData.Record(layoutV1);
        layout.put("step", 3L);
        layout.put("tensors", List.of());
        layout.put("grid", 4L);
        layout.put("chunkCount", 0);
        org.apache.avro.generic.GenericRecord header = new org.apache.avro.generic.GenericData.Record(headerV2);
        header.put("run", "r");
        header.put("step", 7L);
        header.put("mode", new org.apache.avro.generic.GenericData.EnumSymbol(
                headerV2.getField("mode").schema(), "UPDATE"));
        header.put("tensors", List.of());
        header.put("grid", 1L);
        header.put("chunkCount", 0);
        header.put("endOfRun", false);
        header.put("checkpoint", true);
        header.put("metadata", Map.of());
        byte[] published = encode(headerV2, header);

        assertThat(WireCodec.decode(encode(layoutV1, layout), RunLayout.class))
                .isEqualTo(new RunLayout(3L, List.of(), 4L, 0, List.of()));
        // The prefix headers had before copy lists, as docs/wire-format.md prints it.
        assertThat(HexFormat.ofDelimiter(" ").withUpperCase().formatHex(published, 0, WireCodec.PREFIX_LENGTH))
                .isEqualTo("C3 01 01 43 34 30 4F A2 76 C6");
        assertThat(WireCodec.decode(published, SnapshotHeader.class)).isEqualTo(
                new SnapshotHeader("r", 7L, SnapshotMode.UPDATE, List.of(), 1L, 0, false, true, Map.of(), List.of()));
    }

    @Test
    void readsAManifestPublishedBeforeRewindsAsOneOfBranchZero() throws Exception {
        org.apache.avro.Schema v1;
        try (var in = WireCodec.class.getResourceAsStream("CheckpointManifest-v1.avsc")) {
            v1 = new org.apache.avro.Schema.Parser().parse(in);
        }
        org.apache.avro.generic.GenericRecord published = new org.apache.avro.generic.GenericData.Record(v1);
        published.put("run", "r");
        published.put("profile", "ema");
        published.put("step", 30L);
        published.put("uri", "file:/c/runs/r/ema/step-30.safetensors");
        published.put("format", "safetensors");
        published.put("size", 100L);
        published.put("sha256", "ab");
        published.put("tensors", List.of());
        published.put("snapshotTime", 5L);
        byte[] message = new org.apache.avro.message.BinaryMessageEncoder<org.apache.avro.generic.GenericRecord>(
                org.apache.avro.generic.GenericData.get(), v1).encode(published).array();

        // The prefix manifests had before rewinds existed, as docs/wire-format.md printed it.
        assertThat(HexFormat.ofDelimiter(" ").withUpperCase().formatHex(message, 0, WireCodec.PREFIX_LENGTH))
                .isEqualTo("C3 01 47 81 E3 0A A1 D7 23 C1");
        assertThat(WireCodec.decode(message, CheckpointManifest.class)).isEqualTo(new CheckpointManifest("r", "ema", 30L,
                "file:/c/runs/r/ema/step-30.safetensors", "safetensors", 100L, "ab", List.of(), Instant.ofEpochMilli(5), 0));
    }

    @Test
    void readsASnapshotRecordsStepWithoutDecodingItsData() {
        assertThat(WireCodec.snapshotStep(WireCodec.encode(
                new SnapshotHeader("run-1", 1200L, SnapshotMode.UPDATE, TENSORS, 4096L, 3, false, false, Map.of(), List.of())))).isEqualTo(1200);
        assertThat(WireCodec.snapshotStep(WireCodec.encode(
                new SnapshotChunk("run-1", 1201L, "w", 0L, ByteBuffer.wrap(new byte[] {1, 2, 3, 4}))))).isEqualTo(1201);
        assertThat(WireCodec.snapshotStep(WireCodec.encode(new SnapshotCommit("run-1", 1202L, 3, -1L)))).isEqualTo(1202);
        assertThat(WireCodec.snapshotStep(WireCodec.encode(
                new io.averager.wire.avro.RewindRequest("run-1", 1200L, "r")))).as("not a snapshot record").isEqualTo(-1);
        assertThat(WireCodec.snapshotStep(new byte[] {1, 2, 3})).isEqualTo(-1);
        assertThat(WireCodec.snapshotStep(null)).isEqualTo(-1);
    }

    @Test
    void rejectsAnEmptyOrMissingMessage() {
        assertThatThrownBy(() -> WireCodec.decode(new byte[0]))
                .isInstanceOf(WireException.class).hasMessageContaining("empty message");
        assertThatThrownBy(() -> WireCodec.decode((byte[]) null))
                .isInstanceOf(WireException.class).hasMessageContaining("empty message");
    }

    @Test
    void rejectsAMessageShorterThanThePrefix() {
        assertThatThrownBy(() -> WireCodec.decode(new byte[] {(byte) 0xC3, 0x01, 1, 2, 3}))
                .isInstanceOf(WireException.class)
                .hasMessageContaining("message of 5 bytes is shorter than the 10-byte single-object prefix");
    }

    @Test
    void rejectsAWrongMarkerNamingItsBytes() {
        byte[] message = WireCodec.encode(new SnapshotCommit("r", 5L, 3, 7L));
        message[1] = 0x02;

        assertThatThrownBy(() -> WireCodec.decode(message))
                .isInstanceOf(WireException.class)
                .hasMessageContaining("marker is C3 02, expected C3 01");
    }

    @Test
    void rejectsAnUnknownFingerprintNamingIt() {
        byte[] message = {(byte) 0xC3, 0x01, 0x01, 0x23, 0x45, 0x67, (byte) 0x89, (byte) 0xAB, (byte) 0xCD, (byte) 0xEF, 0};

        assertThatThrownBy(() -> WireCodec.decode(message))
                .isInstanceOf(WireException.class)
                .hasMessageContaining("unknown schema fingerprint EFCDAB8967452301");
    }

    @Test
    void rejectsATruncatedBodyNamingTheRecordType() {
        byte[] whole = WireCodec.encode(new SnapshotChunk("run-1", 3L, "w", 0L, ByteBuffer.wrap(new byte[16])));

        for (int length : new int[] {10, 11, whole.length - 1}) {
            assertThatThrownBy(() -> WireCodec.decode(Arrays.copyOf(whole, length)))
                    .as("first %d bytes", length)
                    .isInstanceOf(WireException.class)
                    .hasMessageContaining("malformed SnapshotChunk body");
        }
    }

    @Test
    void rejectsARecordOfAnotherTypeThanAskedFor() {
        byte[] message = WireCodec.encode(new SnapshotCommit("r", 5L, 3, 7L));

        assertThatThrownBy(() -> WireCodec.decode(message, CheckpointCommit.class))
                .isInstanceOf(WireException.class)
                .hasMessageContaining("expected CheckpointCommit, got SnapshotCommit");
    }

    @Test
    void decodesNullStoredBytesAsNull() {
        assertThat(WireCodec.decodeOrNull(null, RunState.class)).isNull();
    }

    @Test
    void refusesToEncodeARecordThatIsNotAnAveragerMessage() {
        assertThatThrownBy(() -> WireCodec.encode(new TensorInfo("w", Dtype.F32, List.of())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("io.averager.wire.avro.TensorInfo");
    }

    @Test
    void serializerEncodesLikeTheCodecAndKeepsNullAsNull() {
        SnapshotCommit commit = new SnapshotCommit("r", 5L, 3, 7L);
        try (WireSerializer serializer = new WireSerializer()) {
            assertThat(serializer.serialize("snapshots", commit)).isEqualTo(WireCodec.encode(commit));
            assertThat(serializer.serialize("snapshots", null)).isNull();
        }
    }

    @Test
    void rejectsALengthPrefixLongerThanTheMessageWithoutAllocatingIt() {
        byte[] prefix = Arrays.copyOf(WireCodec.encode(new SnapshotCommit("r", 5L, 3, 7L)), WireCodec.PREFIX_LENGTH);
        byte[] hugeString = concat(prefix, zigZagVarint(Integer.MAX_VALUE - 8));
        byte[] headerPrefix = Arrays.copyOf(WireCodec.encode(new SnapshotHeader("r", 7L, SnapshotMode.UPDATE, List.of(),
                1L, 0, false, false, Map.of(), List.of())), WireCodec.PREFIX_LENGTH);
        // run "r", step 7, mode UPDATE, then a tensors array block claiming 2^31 - 9 items.
        byte[] hugeArray = concat(headerPrefix, new byte[] {0x02, 'r', 0x0E, 0x00}, zigZagVarint(Integer.MAX_VALUE - 8));

        assertThatThrownBy(() -> WireCodec.decode(hugeString)).isInstanceOf(WireException.class);
        assertThatThrownBy(() -> WireCodec.decode(hugeArray)).isInstanceOf(WireException.class);
    }

    /** CRC-64-AVRO as the Avro specification defines it, independently of Avro's own code. */
    static long crc64Avro(byte[] bytes) {
        final long empty = 0xc15d213aa4d7a795L;
        long[] table = new long[256];
        for (int i = 0; i < 256; i++) {
            long fp = i;
            for (int j = 0; j < 8; j++) {
                fp = (fp >>> 1) ^ (empty & -(fp & 1L));
            }
            table[i] = fp;
        }
        long fp = empty;
        for (byte b : bytes) {
            fp = (fp >>> 8) ^ table[(int) (fp ^ b) & 0xff];
        }
        return fp;
    }

    private static byte[] zigZagVarint(long n) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long z = (n << 1) ^ (n >> 63);
        while ((z & ~0x7FL) != 0) {
            out.write((int) ((z & 0x7F) | 0x80));
            z >>>= 7;
        }
        out.write((int) z);
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
