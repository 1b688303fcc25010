package io.averager.wire;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Signed snapshots: the runs whose ids start with a given prefix take only records that carry,
 * in the Kafka record header {@value #HEADER}, the HMAC-SHA256 under that prefix's secret key of
 * the record's key and value: {@code HMAC(secret, uint32be(len(key)) || key || value)}. So a
 * team's publishers, given its key, are the only ones who can write into its runs. Thread-safe.
 *
 * <p>The keys file has one prefix a line: {@code PREFIX HEX-KEY} (at least 32 bytes, e.g.
 * {@code openssl rand -hex 32}); {@code #} starts a comment; of several prefixes of a run id the
 * longest wins.
 */
public final class Signatures {

    /** The Kafka record header that carries a record's MAC. */
    public static final String HEADER = "averager-mac";
    private static final String ALGORITHM = "HmacSHA256";
    /** Shortest key taken, in bytes: HMAC-SHA256's block of security. */
    public static final int MIN_KEY_BYTES = 32;

    private record Entry(String prefix, byte[] key) {
    }

    private final List<Entry> entries;

    private Signatures(List<Entry> entries) {
        this.entries = entries;
    }

    /** No run signed. */
    public static Signatures none() {
        return new Signatures(List.of());
    }

    /**
     * Reads a keys file.
     *
     * @throws IllegalArgumentException naming the file and line of the first entry that does not parse
     */
    public static Signatures read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read the snapshot signing keys " + file + ": " + e.getMessage(), e);
        }
        List<Entry> entries = new ArrayList<>();
        for (FieldLines line : FieldLines.of(file, lines)) {
            String at = line.at();
            String[] fields = line.fields();
            if (fields.length != 2) {
                throw new IllegalArgumentException(at + "expected 'RUN-PREFIX HEX-KEY'");
            }
            byte[] key = key(at, fields[1]);
            if (entries.stream().anyMatch(e -> e.prefix().equals(fields[0]))) {
                throw new IllegalArgumentException(at + "prefix " + fields[0] + " is listed twice");
            }
            entries.add(new Entry(fields[0], key));
        }
        entries.sort(Comparator.comparingInt((Entry e) -> e.prefix().length()).reversed());
        return new Signatures(List.copyOf(entries));
    }

    /** A key given as hex, checked: at least {@value #MIN_KEY_BYTES} bytes. */
    public static byte[] key(String at, String hex) {
        byte[] key;
        try {
            key = HexFormat.of().parseHex(hex);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(at + "the key is not hex digits");
        }
        if (key.length < MIN_KEY_BYTES) {
            throw new IllegalArgumentException(at + "the key has " + key.length + " bytes; give at least " + MIN_KEY_BYTES
                    + " (openssl rand -hex 32)");
        }
        return key;
    }

    /** The key the records of {@code run} must be signed with, or null if the run is not signed. */
    public byte[] keyOf(String run) {
        Entry e = entryOf(run);
        return e == null ? null : e.key();
    }

    /** The prefix whose key signs {@code run}, or null. */
    public String prefixOf(String run) {
        Entry e = entryOf(run);
        return e == null ? null : e.prefix();
    }

    /** The entry of the longest prefix of {@code run}: they are sorted longest first. */
    private Entry entryOf(String run) {
        return entries.stream().filter(e -> run.startsWith(e.prefix())).findFirst().orElse(null);
    }

    /** The MAC of a record's key and value under {@code secret}. */
    public static byte[] mac(byte[] secret, byte[] key, byte[] value) {
        try {
            Mac mac = Mac.getInstance(ALGORITHM);
            mac.init(new SecretKeySpec(secret, ALGORITHM));
            mac.update(new byte[] {(byte) (key.length >>> 24), (byte) (key.length >>> 16), (byte) (key.length >>> 8),
                    (byte) key.length});
            mac.update(key);
            mac.update(value);
            return mac.doFinal();
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether {@code given} is the MAC of the record under {@code secret}, compared in constant time. */
    public static boolean verify(byte[] secret, byte[] key, byte[] value, byte[] given) {
        return given != null && MessageDigest.isEqual(mac(secret, key, value), given);
    }
}
