package io.averager.ops;

import io.averager.wire.FieldLines;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who may use the HTTP API, from the access file the operator manages: bearer tokens and client
 * certificates, each with its grants. Tokens are kept as SHA-256 hashes only. The file is read
 * again when it changes (checked at most once a second), so tokens are added, removed and
 * rotated without a restart; a file that no longer parses keeps the last good one in force and
 * is logged. Thread-safe.
 *
 * <pre>
 * # token NAME TOKEN|sha256:HEX GRANT... [expires=2027-01-31T00:00:00Z]
 * # cert  COMMON-NAME GRANT... [expires=...]
 * # GRANT: metrics | read[:RUN-PREFIX] | synthesize[:RUN-PREFIX] | peer
 * token prometheus  sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  metrics
 * token team-a      9b2c...                                                                    read:team-a/ synthesize:team-a/
 * cert  eval-runner read:team-a/
 * </pre>
 */
final class Access {

    private static final Logger log = LoggerFactory.getLogger(Access.class);
    private static final long RECHECK_MS = 1000;

    /** What a grant allows. */
    enum Role {
        /** {@code GET /metrics}. */
        METRICS,
        /** {@code /runs}, a run's live EMA and distances, for runs whose id starts with the prefix. */
        READ,
        /** {@code /runs/{run}/synthesize}, for runs whose id starts with the prefix. */
        SYNTHESIZE,
        /** Another instance of the service: {@code /runs?scope=local} of every run. */
        PEER
    }

    /** A role, for the runs whose id starts with {@code prefix} ("" for all). */
    record Grant(Role role, String prefix) {
        boolean covers(Role wanted, String run) {
            return (role == wanted || role == Role.PEER && wanted == Role.READ) && (run == null || run.startsWith(prefix));
        }

        @Override
        public String toString() {
            return role.name().toLowerCase(Locale.ROOT) + (prefix.isEmpty() ? "" : ":" + prefix);
        }
    }

    /** Who a request is from, and what it may do. */
    record Principal(String name, List<Grant> grants, Instant expires) {
        /** Whether any grant allows {@code role} on {@code run} (null: on some run). */
        boolean may(Role role, String run) {
            return grants.stream().anyMatch(g -> g.covers(role, run));
        }

        /** The prefixes of the runs it may read. */
        List<String> readable() {
            return grants.stream().filter(g -> g.covers(Role.READ, null)).map(Grant::prefix).toList();
        }
    }

    /** The parsed file: token hash (hex) and certificate name to principal. */
    private record Entries(Map<String, Principal> tokens, Map<String, Principal> certificates) {
    }

    /** The file's entries, with the modification time and size the file had when they were read. */
    private record Loaded(Entries entries, FileTime modified, long size) {
        static Loaded from(Path file) throws IOException {
            FileTime modified = Files.getLastModifiedTime(file);
            long size = Files.size(file);
            return new Loaded(parse(file, Files.readAllLines(file, StandardCharsets.UTF_8)), modified, size);
        }

        /** Whether the file looks as it did when read: the same modification time and size. */
        boolean isCurrent(Path file) throws IOException {
            return Files.getLastModifiedTime(file).equals(modified) && Files.size(file) == size;
        }
    }

    private final Path file;
    private final Clock clock;
    private volatile Loaded loaded;
    private volatile long checkedMs;

    private Access(Path file, Clock clock, Loaded loaded) {
        this.file = file;
        this.clock = clock;
        this.loaded = loaded;
        this.checkedMs = clock.millis();
    }

    /**
     * Reads the access file.
     *
     * @throws IllegalArgumentException naming the file and line of the first entry that does not parse
     */
    static Access read(Path file, Clock clock) {
        try {
            return new Access(file, clock, Loaded.from(file));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read the HTTP access file " + file + ": " + e.getMessage(), e);
        }
    }

    /** The principal of a bearer token, or null if no live entry has it. */
    Principal byToken(String token) {
        return live(current().tokens().get(sha256(token)));
    }

    /** The principal of a client certificate's common name, or null if no live entry has it. */
    Principal byCertificate(String commonName) {
        return live(current().certificates().get(commonName));
    }

    private Principal live(Principal p) {
        return p == null || p.expires() != null && !clock.instant().isBefore(p.expires()) ? null : p;
    }

    private Entries current() {
        long now = clock.millis();
        if (now - checkedMs < RECHECK_MS) {
            return loaded.entries();
        }
        synchronized (this) {
            if (now - checkedMs < RECHECK_MS) {
                return loaded.entries();
            }
            checkedMs = now;
            try {
                if (!loaded.isCurrent(file)) {
                    loaded = Loaded.from(file);
                    log.info("HTTP access file {} read again: {} tokens, {} certificates", file,
                            loaded.entries().tokens().size(), loaded.entries().certificates().size());
                }
            } catch (IOException | RuntimeException e) {
                log.error("HTTP access file {} could not be read again; the previous entries stay in force: {}",
                        file, e.getMessage());
            }
            return loaded.entries();
        }
    }

    private static Entries parse(Path file, List<String> lines) {
        Map<String, Principal> tokens = new HashMap<>();
        Map<String, Principal> certificates = new HashMap<>();
        for (FieldLines line : FieldLines.of(file, lines)) {
            String at = line.at();
            String[] fields = line.fields();
            boolean token = fields[0].equals("token");
            if (!token && !fields[0].equals("cert")) {
                throw new IllegalArgumentException(at + "'" + fields[0] + "' is neither 'token' nor 'cert'");
            }
            int first = token ? 3 : 2;
            if (fields.length <= first) {
                throw new IllegalArgumentException(at + (token ? "expected 'token NAME TOKEN GRANT...'"
                        : "expected 'cert COMMON-NAME GRANT...'"));
            }
            List<Grant> grants = new ArrayList<>();
            Instant expires = null;
            for (int f = first; f < fields.length; f++) {
                if (fields[f].startsWith("expires=")) {
                    try {
                        expires = Instant.parse(fields[f].substring("expires=".length()));
                    } catch (DateTimeParseException e) {
                        throw new IllegalArgumentException(at + fields[f] + " is not an instant such as expires=2027-01-31T00:00:00Z");
                    }
                } else {
                    grants.add(grant(at, fields[f]));
                }
            }
            Principal p = new Principal(fields[1], List.copyOf(grants), expires);
            if (token) {
                String secret = fields[2];
                String key = secret.startsWith("sha256:") ? secret.substring(7).toLowerCase(Locale.ROOT) : sha256(secret);
                if (key.length() != 64 || !key.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                    throw new IllegalArgumentException(at + "sha256: must be followed by 64 hex digits");
                }
                if (!secret.startsWith("sha256:") && secret.length() < 16) {
                    throw new IllegalArgumentException(at + "the token of " + fields[1] + " has " + secret.length()
                            + " characters; give at least 16 (e.g. openssl rand -hex 32)");
                }
                if (tokens.putIfAbsent(key, p) != null) {
                    throw new IllegalArgumentException(at + "the token of " + fields[1] + " is another entry's too");
                }
            } else if (certificates.putIfAbsent(fields[1], p) != null) {
                throw new IllegalArgumentException(at + "certificate " + fields[1] + " is listed twice");
            }
        }
        return new Entries(Map.copyOf(tokens), Map.copyOf(certificates));
    }

    private static Grant grant(String at, String text) {
        int colon = text.indexOf(':');
        String role = colon < 0 ? text : text.substring(0, colon);
        String prefix = colon < 0 ? "" : text.substring(colon + 1);
        Role r = switch (role) {
            case "metrics" -> Role.METRICS;
            case "read" -> Role.READ;
            case "synthesize" -> Role.SYNTHESIZE;
            case "peer" -> Role.PEER;
            default -> throw new IllegalArgumentException(at + "unknown grant '" + text
                    + "'; expected metrics, read[:PREFIX], synthesize[:PREFIX] or peer");
        };
        if ((r == Role.METRICS || r == Role.PEER) && colon >= 0) {
            throw new IllegalArgumentException(at + "grant " + role + " takes no run prefix");
        }
        return new Grant(r, prefix);
    }

    /** Lowercase hex SHA-256 of the UTF-8 bytes. */
    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
