package io.averager.cli;

import io.averager.wire.avro.CheckpointManifest;

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
}
