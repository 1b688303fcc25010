package io.averager.store;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Value of one EMA entry as stored: a version byte, the last optimizer step applied, the number
 * of updates since the EMA was last set, then the accumulator's little-endian elements. Wraps the
 * stored bytes without copying; {@link #data()} is a view the kernels update in place. Not
 * thread-safe.
 */
public final class EmaEntry {

    private static final byte VERSION = 1;
    private static final int HEADER = 17;

    private final byte[] bytes;

    private EmaEntry(byte[] bytes) {
        this.bytes = bytes;
    }

    /** A new entry with room for {@code dataBytes} bytes of data. */
    public static EmaEntry allocate(int dataBytes) {
        byte[] bytes = new byte[HEADER + dataBytes];
        bytes[0] = VERSION;
        return new EmaEntry(bytes);
    }

    /** Wraps stored bytes; null stays null. */
    public static EmaEntry wrap(byte[] stored) {
        if (stored == null) {
            return null;
        }
        if (stored.length < HEADER || stored[0] != VERSION) {
            throw new IllegalStateException("EMA entry of unknown layout (" + stored.length + " bytes, version "
                    + (stored.length == 0 ? "none" : stored[0]) + ")");
        }
        return new EmaEntry(stored);
    }

    public long lastStep() {
        return header().getLong(1);
    }

    public long updates() {
        return header().getLong(9);
    }

    /** Records that the entry now holds the EMA at {@code step} after {@code updates} updates. */
    public EmaEntry stamp(long step, long updates) {
        header().putLong(1, step).putLong(9, updates);
        return this;
    }

    /** The accumulator elements, little-endian, position 0; writes go to this entry. */
    public ByteBuffer data() {
        return ByteBuffer.wrap(bytes, HEADER, bytes.length - HEADER).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    public int dataBytes() {
        return bytes.length - HEADER;
    }

    /** The bytes to store. */
    public byte[] bytes() {
        return bytes;
    }

    private ByteBuffer header() {
        return ByteBuffer.wrap(bytes, 0, HEADER);
    }
}
