package io.averager.store;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * Value of one EMA entry as stored: a version byte, the last optimizer step applied, the number
 * of updates since the EMA was last set, the run's branch it was written in (its rewinds so far),
 * a CRC32C of everything else (all big-endian), then the accumulator's little-endian elements.
 * Wraps the stored bytes without copying and checks their CRC; {@link #data()} is a view the
 * kernels update in place, and {@link #bytes()} seals the entry with a new CRC. The CRC is the
 * entry's only check on a point read, which skips RocksDB's own ({@link EmaStore}). Entries of
 * the earlier layouts (without a CRC; without a branch, read as branch 0) are copied into the
 * current one when read. Not thread-safe.
 */
public final class EmaEntry {

    private static final byte VERSION = 3;
    private static final byte UNCHECKED_VERSION = 1;
    private static final int UNCHECKED_HEADER = 17;
    private static final byte UNBRANCHED_VERSION = 2;
    private static final int UNBRANCHED_CRC_AT = 17;
    private static final int UNBRANCHED_HEADER = 21;
    private static final int BRANCH_AT = 17;
    private static final int CRC_AT = 21;
    private static final int HEADER = 25;

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

    /**
     * Wraps stored bytes, or a copy of them in the current layout if they are of an earlier one;
     * null stays null.
     *
     * @throws IllegalStateException if the bytes are of no known layout or fail their CRC
     */
    public static EmaEntry wrap(byte[] stored) {
        if (stored == null) {
            return null;
        }
        if (stored.length >= UNCHECKED_HEADER && stored[0] == UNCHECKED_VERSION) {
            return upgraded(stored, UNCHECKED_HEADER);
        }
        if (stored.length >= UNBRANCHED_HEADER && stored[0] == UNBRANCHED_VERSION) {
            checkCrc(stored, UNBRANCHED_CRC_AT, UNBRANCHED_HEADER);
            return upgraded(stored, UNBRANCHED_HEADER);
        }
        if (stored.length < HEADER || stored[0] != VERSION) {
            throw new IllegalStateException("EMA entry of unknown layout (" + stored.length + " bytes, version "
                    + (stored.length == 0 ? "none" : stored[0]) + ")");
        }
        checkCrc(stored, CRC_AT, HEADER);
        return new EmaEntry(stored);
    }

    /** A copy in the current layout of an entry of an earlier one: its step and updates, branch 0. */
    private static EmaEntry upgraded(byte[] stored, int header) {
        EmaEntry entry = allocate(stored.length - header);
        System.arraycopy(stored, 1, entry.bytes, 1, UNCHECKED_HEADER - 1);
        System.arraycopy(stored, header, entry.bytes, HEADER, stored.length - header);
        return entry;
    }

    private static void checkCrc(byte[] stored, int crcAt, int header) {
        int expected = ByteBuffer.wrap(stored).getInt(crcAt);
        int actual = crc(stored, crcAt, header);
        if (actual != expected) {
            throw new IllegalStateException(String.format("EMA entry of %d bytes fails its CRC32C (stored %08x,"
                    + " computed %08x): the state store is corrupted", stored.length, expected, actual));
        }
    }

    public long lastStep() {
        return header().getLong(1);
    }

    public long updates() {
        return header().getLong(9);
    }

    /** The run's branch (its rewinds so far) the entry was last written in. */
    public int branch() {
        return header().getInt(BRANCH_AT);
    }

    /**
     * Records that the entry now holds the EMA at {@code step} after {@code updates} updates,
     * written in the run's {@code branch}.
     */
    public EmaEntry stamp(long step, long updates, int branch) {
        header().putLong(1, step).putLong(9, updates).putInt(BRANCH_AT, branch);
        return this;
    }

    /** The accumulator elements, little-endian, position 0; writes go to this entry. */
    public ByteBuffer data() {
        return ByteBuffer.wrap(bytes, HEADER, bytes.length - HEADER).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    public int dataBytes() {
        return bytes.length - HEADER;
    }

    /** The bytes to store, sealed with the CRC of what the entry now holds. */
    public byte[] bytes() {
        header().putInt(CRC_AT, crc(bytes, CRC_AT, HEADER));
        return bytes;
    }

    /** CRC32C of an entry's bytes but its CRC field. */
    private static int crc(byte[] entry, int crcAt, int header) {
        CRC32C crc = new CRC32C();
        crc.update(entry, 0, crcAt);
        crc.update(entry, header, entry.length - header);
        return (int) crc.getValue();
    }

    private ByteBuffer header() {
        return ByteBuffer.wrap(bytes, 0, HEADER);
    }
}
