package io.averager.wire;

/**
 * Sizes the wire format sets for every Kafka client and broker that carries it: the service,
 * the publishers, the embedded broker.
 */
public final class RecordLimits {

    /** Largest record the service produces or accepts (a chunk of 16M F32 elements plus framing). */
    public static final int MAX_MESSAGE_BYTES = 64 * 1024 * 1024 + 64 * 1024;

    /** Longest run id, in UTF-8 bytes, a record key may hold or a request name: it names files and keys in object stores. */
    public static final int MAX_RUN_BYTES = 512;

    /**
     * {@code send.buffer.bytes} of the producers that send chunks (the service's, the publisher's):
     * the operating system's default, which Linux grows as a connection needs. With Kafka's fixed
     * 128 KiB a socket takes a few hundred KiB a write, and before each write Java copies all that
     * is left of the record's heap buffer into a native one: a 4 MiB chunk was copied about ten
     * times, and the service spent about a fifth more CPU a GiB (14.8-15.6 against 11.7-13.0 s/GiB).
     */
    public static final int SEND_BUFFER_BYTES = -1;

    private RecordLimits() {
    }
}
