package io.averager.cli;

import io.averager.catalog.Rewinds;
import io.averager.wire.avro.CheckpointManifest;
import java.util.ArrayList;
import java.util.List;

/** One-line renderings for terminal output. */
final class Format {

    private Format() {
    }

    static String manifest(CheckpointManifest m) {
        return String.format("checkpoint run=%s profile=%s step=%d size=%s sha256=%s %s", m.getRun(), m.getProfile(),
                m.getStep(), bytes(m.getSize()), m.getSha256().substring(0, 12), m.getUri());
    }

    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        int unit = (63 - Long.numberOfLeadingZeros(n)) / 10;
        return String.format("%.1f %siB", n / (double) (1L << (unit * 10)), " KMGTPE".charAt(unit));
    }

    /** A table of checkpoints, columns padded to their widest cell. */
    static String table(List<CheckpointManifest> manifests, Rewinds rewinds) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"RUN", "PROFILE", "STEP", "TIME", "SIZE", "STATE", "URI"});
        for (CheckpointManifest m : manifests) {
            rows.add(new String[] {m.getRun(), m.getProfile(), Long.toString(m.getStep()),
                    m.getSnapshotTime().toString(), bytes(m.getSize()), rewinds.describe(m), m.getUri()});
        }
        int[] width = new int[rows.get(0).length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                width[i] = Math.max(width[i], row[i].length());
            }
        }
        StringBuilder out = new StringBuilder();
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                boolean number = i == 2 || i == 4;
                String cell = i == row.length - 1 ? row[i]
                        : String.format("%" + (number ? "" : "-") + width[i] + "s  ", row[i]);
                out.append(cell);
            }
            out.append('\n');
        }
        return out.toString();
    }
}
