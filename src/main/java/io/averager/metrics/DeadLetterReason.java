package io.averager.metrics;

import java.util.Locale;

/**
 * A small fixed set of dead-letter categories, for the {@code reason} tag of
 * {@value RunMeters#DEAD_LETTERS}: the reason text itself names runs, steps and tensors and
 * would make a time series per record. Derived from the reason text by the phrases the topology's
 * messages use; anything not recognized is {@link #MALFORMED}.
 */
public enum DeadLetterReason {
    /** Not a snapshot record this service can read: no or bad key, undecodable, invalid header. */
    MALFORMED,
    /** A step not newer than the run's last one. */
    STALE_STEP,
    /** A chunk or commit without an open snapshot of its step. */
    NO_OPEN_SNAPSHOT,
    /** A record that does not fit the run's tensor layout or chunk grid. */
    LAYOUT_MISMATCH,
    /** A chunk holding NaN or infinities, rejected by {@code averager.nonfinite=reject}. */
    NONFINITE,
    /** A snapshot closed without being averaged whole: chunks missing, digest wrong, commit never came. */
    INCOMPLETE_SNAPSHOT;

    /** The category of a dead-letter reason. */
    public static DeadLetterReason of(String reason) {
        String r = reason.toLowerCase(Locale.ROOT);
        if (r.contains("averager.nonfinite") || r.contains("a chunk was rejected")) {
            return r.contains("commit for run") ? INCOMPLETE_SNAPSHOT : NONFINITE;
        }
        if (r.contains("not newer than") || r.contains("already applied")) {
            return STALE_STEP;
        }
        if (r.contains("no open snapshot")) {
            return NO_OPEN_SNAPSHOT;
        }
        if (r.contains("is incomplete") || r.contains("chunks received") || r.contains("does not match the chunks")) {
            return INCOMPLETE_SNAPSHOT;
        }
        if (r.contains("layout differs") || r.contains("not declared in the snapshot header")
                || r.contains("not on the chunk grid") || r.contains("past the tensor's end")
                || r.contains("bytes, expected")) {
            return LAYOUT_MISMATCH;
        }
        return MALFORMED;
    }

    /** The tag value: the name in lower case. */
    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
