package io.averager.lifecycle;

import java.util.Locale;

/**
 * Why a record was dead-lettered, as a small fixed set: the {@code reason} tag of the
 * dead-letter counter. The message that goes with it names runs, steps and tensors and would make
 * a time series per record.
 */
public enum DeadLetterReason {
    /** Not a snapshot record this service can read: no or bad key, undecodable, invalid header. */
    MALFORMED,
    /** A record into a signed run without the MAC of its prefix's key (averager.snapshot.signing.keys). */
    UNSIGNED,
    /** A step not newer than the run's last one (or, for a header, than its open snapshot's). */
    STALE_STEP,
    /** A chunk or commit without an open snapshot of its step. */
    NO_OPEN_SNAPSHOT,
    /** A record that does not fit the run's tensor layout or chunk grid. */
    LAYOUT_MISMATCH,
    /** A chunk holding NaN or infinities, rejected by {@code averager.nonfinite=reject}. */
    NONFINITE,
    /** A snapshot closed without being averaged whole: chunks missing, digest wrong, commit never came. */
    INCOMPLETE_SNAPSHOT,
    /** A rewind the run cannot take: no restore point at or below its step, its history gone, or a step ahead of the run. */
    REWIND_REFUSED,
    /** A record of a run being rebuilt for a rewind that is not one the rebuild publishes again, or a stray rebuild mark. */
    REWIND_IN_PROGRESS,
    /** A fork the service cannot take (the new run exists, the parent has no live checkpoint at the step), or a stray seed record. */
    FORK_REFUSED;

    /** The tag value: the name in lower case. */
    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
