package io.averager.lifecycle;

import java.util.Locale;

/** Why a snapshot closed without being averaged whole: the {@code reason} tag of the incomplete-snapshot counter. */
public enum Incomplete {
    /** A chunk was rejected for holding NaN or an infinity. */
    NONFINITE,
    /** The commit came, but not every chunk the header declared was applied. */
    MISSING_CHUNKS,
    /** Every chunk came, but their digest is not the commit's. */
    DIGEST_MISMATCH,
    /** The commit never came: the next header of the run closed the snapshot. */
    NO_COMMIT;

    /** The tag value: the name in lower case. */
    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
