package io.averager.wire;

/** How the snapshots a rebuild publishes again are told from the others. */
public final class Rebuilds {

    /**
     * The Kafka record header each snapshot record a rebuild publishes again carries: the
     * RewindRequest's id, in UTF-8. No publisher sets it.
     */
    public static final String HEADER = "averager.rebuild";

    private Rebuilds() {
    }
}
