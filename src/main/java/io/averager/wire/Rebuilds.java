package io.averager.wire;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/** How the snapshots a rebuild publishes again are told from the others. */
public final class Rebuilds {

    /**
     * The Kafka record header each snapshot record a rebuild publishes again carries: the
     * RewindRequest's id, in UTF-8. No publisher sets it.
     */
    public static final String HEADER = "averager.rebuild";

    private Rebuilds() {
    }

    /** The request whose rebuild published a record again, from its {@link #HEADER}; null for any other record. */
    public static String idOf(Headers headers) {
        Header h = headers.lastHeader(HEADER);
        return h == null || h.value() == null ? null : StrictUtf8.decodeOrNull(h.value());
    }
}
