package io.averager.wire;

import io.averager.wire.avro.CheckpointChunk;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.CheckpointHeader;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.ForkAnswer;
import io.averager.wire.avro.ForkRequest;
import io.averager.wire.avro.RebuildMark;
import io.averager.wire.avro.RebuildRequest;
import io.averager.wire.avro.RestorePoints;
import io.averager.wire.avro.RewindAnswer;
import io.averager.wire.avro.RewindRequest;
import io.averager.wire.avro.RunLayout;
import io.averager.wire.avro.RunProgress;
import io.averager.wire.avro.RunState;
import io.averager.wire.avro.SeedChunk;
import io.averager.wire.avro.SeedMark;
import io.averager.wire.avro.SeedRequest;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecordBase;

/**
 * Encodes and decodes every averager record with Avro single-object encoding: {@code C3 01},
 * the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema, then the binary body.
 * The fingerprint says which record a message holds, so one topic can carry several types.
 * Thread-safe.
 */
public final class WireCodec {

    /** Bytes before the Avro body: marker and fingerprint. */
    public static final int PREFIX_LENGTH = 10;

    static {
        // Avro trusts a length prefix before reading what follows: without limits a 15-byte
        // message can ask for a 2 GiB allocation. No field of ours can exceed a whole message.
        String limit = Integer.toString(RecordLimits.MAX_MESSAGE_BYTES);
        for (String key : List.of("org.apache.avro.limits.string.maxLength", "org.apache.avro.limits.bytes.maxLength",
                "org.apache.avro.limits.collectionItems.maxLength")) {
            if (System.getProperty(key) == null) {
                System.setProperty(key, limit);
            }
        }
    }

    private static final List<Schema> SCHEMAS = List.of(
            SnapshotHeader.SCHEMA$, SnapshotChunk.SCHEMA$, SnapshotCommit.SCHEMA$,
            CheckpointHeader.SCHEMA$, CheckpointChunk.SCHEMA$, CheckpointCommit.SCHEMA$,
            CheckpointManifest.SCHEMA$, RunLayout.SCHEMA$, RunProgress.SCHEMA$, RunState.SCHEMA$,
            RewindRequest.SCHEMA$, RewindAnswer.SCHEMA$, RestorePoints.SCHEMA$, RebuildRequest.SCHEMA$,
            RebuildMark.SCHEMA$, ForkRequest.SCHEMA$, ForkAnswer.SCHEMA$, SeedRequest.SCHEMA$, SeedMark.SCHEMA$,
            SeedChunk.SCHEMA$);

    /**
     * Schemas that earlier versions wrote, still read: each is resolved to the current schema of
     * its record, the fields it lacks taking their defaults. Publishers of an earlier version
     * keep working against a newer service, and a newer service reads the state an earlier one
     * stored.
     */
    private static final List<String> EARLIER_SCHEMAS = List.of("SnapshotHeader-v1.avsc", "RunProgress-v1.avsc",
            "CheckpointHeader-v1.avsc", "CheckpointManifest-v1.avsc", "RunProgress-v2.avsc", "RestorePoints-v1.avsc",
            "SnapshotHeader-v2.avsc", "RunLayout-v1.avsc", "RunProgress-v3.avsc");

    /** The records of a snapshot, whose first fields are the run and the step. */
    private static final Set<String> SNAPSHOT_RECORDS = Set.of("SnapshotHeader", "SnapshotChunk", "SnapshotCommit");

    private static final Map<Long, BinaryMessageDecoder<SpecificRecordBase>> DECODERS = new HashMap<>();
    private static final Map<Long, String> NAMES = new HashMap<>();
    private static final Map<Schema, BinaryMessageEncoder<SpecificRecordBase>> ENCODERS = new HashMap<>();

    static {
        Map<String, BinaryMessageDecoder<SpecificRecordBase>> byName = new HashMap<>();
        for (Schema schema : SCHEMAS) {
            BinaryMessageDecoder<SpecificRecordBase> decoder = new BinaryMessageDecoder<>(SpecificData.get(), schema);
            DECODERS.put(SchemaNormalization.parsingFingerprint64(schema), decoder);
            NAMES.put(SchemaNormalization.parsingFingerprint64(schema), schema.getName());
            ENCODERS.put(schema, new BinaryMessageEncoder<>(SpecificData.get(), schema));
            byName.put(schema.getFullName(), decoder);
        }
        for (String file : EARLIER_SCHEMAS) {
            Schema earlier = earlierSchema(file);
            BinaryMessageDecoder<SpecificRecordBase> decoder = byName.get(earlier.getFullName());
            decoder.addSchema(earlier);
            DECODERS.put(SchemaNormalization.parsingFingerprint64(earlier), decoder);
            NAMES.put(SchemaNormalization.parsingFingerprint64(earlier), earlier.getName());
        }
    }

    private static Schema earlierSchema(String file) {
        try (InputStream in = WireCodec.class.getResourceAsStream(file)) {
            if (in == null) {
                throw new IllegalStateException("Missing resource " + file + " next to " + WireCodec.class.getName());
            }
            return new Schema.Parser().parse(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private WireCodec() {
    }

    /** The single-object encoding of a record of one of the averager schemas. */
    public static byte[] encode(SpecificRecordBase record) {
        BinaryMessageEncoder<SpecificRecordBase> encoder = ENCODERS.get(record.getSchema());
        if (encoder == null) {
            throw new IllegalArgumentException("Not an averager record: " + record.getSchema().getFullName());
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(sizeHint(record));
        try {
            encoder.encode(record, out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** Room for a record's bulk payload, so a multi-MiB chunk is not copied while the buffer doubles. */
    private static int sizeHint(SpecificRecordBase record) {
        Schema.Field data = record.getSchema().getField("data");
        return data == null ? 256 : ((ByteBuffer) record.get(data.pos())).remaining() + 1024;
    }

    /**
     * Decodes a message of any averager schema.
     *
     * @throws WireException naming what is wrong: empty, wrong marker, unknown fingerprint, or a
     *     body that does not parse with the schema the fingerprint names
     */
    public static SpecificRecordBase decode(byte[] message) {
        if (message == null || message.length == 0) {
            throw new WireException("empty message: expected Avro single-object encoding");
        }
        if (message.length < PREFIX_LENGTH) {
            throw new WireException("message of " + message.length
                    + " bytes is shorter than the 10-byte single-object prefix");
        }
        if ((message[0] & 0xff) != 0xC3 || (message[1] & 0xff) != 0x01) {
            throw new WireException(String.format(
                    "not Avro single-object encoding: marker is %02X %02X, expected C3 01",
                    message[0] & 0xff, message[1] & 0xff));
        }
        long fingerprint = ByteBuffer.wrap(message, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        BinaryMessageDecoder<SpecificRecordBase> decoder = DECODERS.get(fingerprint);
        if (decoder == null) {
            throw new WireException(String.format(
                    "unknown schema fingerprint %016X: not an averager record", fingerprint));
        }
        try {
            return decoder.decode(message);
        } catch (IOException | RuntimeException e) {
            throw new WireException("malformed " + NAMES.get(fingerprint) + " body: " + e.getMessage(), e);
        }
    }

    /**
     * The step of a snapshot header, chunk or commit, read from its first two fields (run, step)
     * without decoding the rest, so a chunk's data is not copied; -1 for a message of any other
     * type or one that does not hold them.
     */
    public static long snapshotStep(byte[] message) {
        if (message == null || message.length < PREFIX_LENGTH || (message[0] & 0xff) != 0xC3 || (message[1] & 0xff) != 0x01) {
            return -1;
        }
        String name = NAMES.get(ByteBuffer.wrap(message, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong());
        if (!SNAPSHOT_RECORDS.contains(name)) {
            return -1;
        }
        BinaryDecoder in = DecoderFactory.get().binaryDecoder(message, PREFIX_LENGTH, message.length - PREFIX_LENGTH, null);
        try {
            in.skipString();
            return in.readLong();
        } catch (IOException e) {
            return -1;
        }
    }

    /** Decodes stored bytes that must hold a {@code type}; null stays null. */
    public static <T extends SpecificRecordBase> T decodeOrNull(byte[] message, Class<T> type) {
        return message == null ? null : decode(message, type);
    }

    /** Decodes a message that must be of type {@code type}. */
    public static <T extends SpecificRecordBase> T decode(byte[] message, Class<T> type) {
        SpecificRecordBase record = decode(message);
        if (!type.isInstance(record)) {
            throw new WireException("expected " + type.getSimpleName() + ", got "
                    + record.getClass().getSimpleName());
        }
        return type.cast(record);
    }
}
