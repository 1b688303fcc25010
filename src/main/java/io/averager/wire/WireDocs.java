package io.averager.wire;

import io.averager.wire.avro.CheckpointChunk;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.CheckpointHeader;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.ForkAnswer;
import io.averager.wire.avro.ForkRequest;
import io.averager.wire.avro.RebuildMark;
import io.averager.wire.avro.RebuildRequest;
import io.averager.wire.avro.RewindAnswer;
import io.averager.wire.avro.RewindRequest;
import io.averager.wire.avro.SeedChunk;
import io.averager.wire.avro.SeedMark;
import io.averager.wire.avro.SeedRequest;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import io.averager.wire.avro.TensorInfo;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;

/** Renders the wire format reference from the Avro schemas themselves, so the docs cannot drift. */
public final class WireDocs {

    private static final List<Schema> PUBLIC = List.of(SnapshotHeader.SCHEMA$, SnapshotChunk.SCHEMA$,
            SnapshotCommit.SCHEMA$, RewindRequest.SCHEMA$, RewindAnswer.SCHEMA$, ForkRequest.SCHEMA$, ForkAnswer.SCHEMA$,
            RebuildRequest.SCHEMA$, RebuildMark.SCHEMA$, SeedRequest.SCHEMA$, SeedMark.SCHEMA$, SeedChunk.SCHEMA$,
            TensorInfo.SCHEMA$, CheckpointHeader.SCHEMA$, CheckpointChunk.SCHEMA$,
            CheckpointCommit.SCHEMA$, CheckpointManifest.SCHEMA$);

    private WireDocs() {
    }

    public static String markdown() {
        StringBuilder out = new StringBuilder();
        for (Schema schema : PUBLIC) {
            long fp = SchemaNormalization.parsingFingerprint64(schema);
            byte[] le = new byte[8];
            for (int i = 0; i < 8; i++) {
                le[i] = (byte) (fp >>> (8 * i));
            }
            out.append("#### ").append(schema.getName()).append("\n\n").append(schema.getDoc()).append(" ")
                    .append("Single-object prefix: `C3 01 ").append(HexFormat.ofDelimiter(" ").withUpperCase().formatHex(le))
                    .append("`.\n\n| field | type | meaning |\n|---|---|---|\n");
            for (Schema.Field f : schema.getFields()) {
                out.append("| `").append(f.name()).append("` | ").append(type(f.schema())).append(" | ")
                        .append(f.doc() == null ? "" : f.doc().replace("|", "\\|")).append(" |\n");
            }
            out.append("\n");
        }
        return out.toString();
    }

    private static String type(Schema s) {
        return switch (s.getType()) {
            case ARRAY -> "array of " + type(s.getElementType());
            case MAP -> "map of string to " + type(s.getValueType());
            case UNION -> s.getTypes().stream().map(WireDocs::type).collect(Collectors.joining(" or "));
            case ENUM -> "enum " + s.getName() + " (" + String.join(", ", s.getEnumSymbols()) + ")";
            case RECORD -> s.getName();
            default -> s.getLogicalType() != null ? s.getType().getName() + " (" + s.getLogicalType().getName() + ")"
                    : s.getType().getName();
        };
    }
}
