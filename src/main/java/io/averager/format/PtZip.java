package io.averager.format;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.zip.CRC32;

/**
 * Writes a zip archive of uncompressed (STORED) entries laid out as PyTorch's own writer lays them
 * out: the data of every entry starts at a multiple of {@value #ALIGNMENT} bytes, reached with
 * padding in an extra field of the local header, so that readers can map storages in place; ZIP64
 * records are added where a size, an offset or the entry count needs them, so archives and entries
 * may be larger than 4 GiB.
 *
 * <p>Entry data is streamed: {@link #begin} declares the size, {@link #write} appends, and
 * {@link #end} checks the byte count and patches the CRC-32, computed on the way, into the local
 * header. The heap holds one small record per entry, never entry data. Timestamps are fixed, so
 * the same entries give the same bytes.
 *
 * <p>Not thread-safe: one entry at a time, in order.
 */
final class PtZip implements Closeable {

    /** Alignment of entry data, as torch's {@code kFieldAlignment}. */
    static final int ALIGNMENT = 64;
    private static final long MAX32 = 0xFFFFFFFFL;
    private static final int MAX16 = 0xFFFF;
    private static final int LOCAL_HEADER = 30;
    private static final int CRC_OFFSET = 14;
    private static final int CENTRAL_HEADER = 46;
    /** 1980-01-01, the earliest date a zip header holds. */
    private static final short DOS_DATE = (1 << 5) | 1;
    private static final short ZIP64_TAG = 0x0001;
    /** "FB", the extra field torch pads with. */
    private static final short PADDING_TAG = 'F' | ('B' << 8);

    private final Path path;
    private final FileChannel channel;
    private final boolean forceZip64;
    private final List<Entry> entries = new ArrayList<>();
    private long position;
    private Entry current;
    private CRC32 crc;
    private long written;

    /** One entry's central directory record, less the CRC while the entry is open. */
    private record Entry(byte[] name, long size, long offset, long crc) {
    }

    private PtZip(Path path, FileChannel channel, boolean forceZip64) {
        this.path = path;
        this.channel = channel;
        this.forceZip64 = forceZip64;
    }

    /**
     * Creates (or truncates) {@code path}.
     *
     * @param forceZip64 write ZIP64 fields for every entry and the end record even where plain
     *     fields suffice, as archives over 4 GiB need them; for tests of that layout on small files
     */
    static PtZip create(Path path, boolean forceZip64) throws IOException {
        FileChannel channel = FileChannel.open(Objects.requireNonNull(path, "path"), StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
        return new PtZip(path, channel, forceZip64);
    }

    /** Writes a whole entry from memory. */
    void add(String name, byte[] data) throws IOException {
        begin(name, data.length);
        write(ByteBuffer.wrap(data));
        end();
    }

    /** Starts an entry of exactly {@code size} bytes and writes its local header. */
    void begin(String name, long size) throws IOException {
        if (current != null) {
            throw new IllegalStateException("Entry " + name(current) + " of " + path + " is still open");
        }
        if (size < 0) {
            throw new IllegalArgumentException("Entry " + name + " of " + path + ": negative size " + size);
        }
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        if (nameBytes.length > MAX16) {
            throw new IllegalArgumentException("Entry name of " + nameBytes.length + " bytes is too long for " + path);
        }
        boolean zip64 = forceZip64 || size >= MAX32;
        int zip64Length = zip64 ? 4 + 16 : 0;
        long dataStart = position + LOCAL_HEADER + nameBytes.length + zip64Length + 4;
        int padding = (int) ((ALIGNMENT - dataStart % ALIGNMENT) % ALIGNMENT);
        ByteBuffer h = buffer(LOCAL_HEADER + nameBytes.length + zip64Length + 4 + padding);
        h.putInt(0x04034b50).putShort(version(zip64)).putShort((short) 0).putShort((short) 0)
                .putShort((short) 0).putShort(DOS_DATE).putInt(0)
                .putInt(zip64 ? (int) MAX32 : (int) size).putInt(zip64 ? (int) MAX32 : (int) size)
                .putShort((short) nameBytes.length).putShort((short) (zip64Length + 4 + padding))
                .put(nameBytes);
        if (zip64) {
            h.putShort(ZIP64_TAG).putShort((short) 16).putLong(size).putLong(size);
        }
        h.putShort(PADDING_TAG).putShort((short) padding);
        while (h.hasRemaining()) {
            h.put((byte) 'Z');
        }
        current = new Entry(nameBytes, size, position, 0);
        crc = new CRC32();
        written = 0;
        append(h.flip());
    }

    /** Appends the remaining bytes of {@code data} to the open entry; the buffer is consumed. */
    void write(ByteBuffer data) throws IOException {
        if (current == null) {
            throw new IllegalStateException("No open entry in " + path);
        }
        if (data.remaining() > current.size() - written) {
            throw new IllegalArgumentException(String.format("Entry %s of %s: %d bytes more would exceed its"
                    + " declared %d bytes (%d written)", name(current), path, data.remaining(), current.size(), written));
        }
        written += data.remaining();
        crc.update(data.duplicate());
        append(data);
    }

    /** Closes the open entry after checking its length, and patches its CRC-32 into its local header. */
    void end() throws IOException {
        if (current == null) {
            throw new IllegalStateException("No open entry in " + path);
        }
        if (written != current.size()) {
            throw new IllegalStateException(String.format("Entry %s of %s: %d bytes written, %d declared",
                    name(current), path, written, current.size()));
        }
        Entry done = new Entry(current.name(), current.size(), current.offset(), crc.getValue());
        writeFully(buffer(4).putInt((int) done.crc()).flip(), done.offset() + CRC_OFFSET);
        entries.add(done);
        current = null;
    }

    /** Writes the central directory and the end records, and forces the file to the device. */
    void finish() throws IOException {
        if (current != null) {
            throw new IllegalStateException("Entry " + name(current) + " of " + path + " is still open");
        }
        long directoryStart = position;
        for (Entry e : entries) {
            append(centralHeader(e));
        }
        long directorySize = position - directoryStart;
        boolean zip64 = forceZip64 || entries.size() >= MAX16 || directoryStart >= MAX32 || directorySize >= MAX32;
        if (zip64) {
            long recordStart = position;
            append(buffer(56).putInt(0x06064b50).putLong(44).putShort(version(true)).putShort(version(true))
                    .putInt(0).putInt(0).putLong(entries.size()).putLong(entries.size())
                    .putLong(directorySize).putLong(directoryStart).flip());
            append(buffer(20).putInt(0x07064b50).putInt(0).putLong(recordStart).putInt(1).flip());
        }
        short count = (short) (zip64 ? MAX16 : entries.size());
        append(buffer(22).putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort(count).putShort(count)
                .putInt(zip64 ? (int) MAX32 : (int) directorySize).putInt(zip64 ? (int) MAX32 : (int) directoryStart)
                .putShort((short) 0).flip());
        channel.force(true);
    }

    private ByteBuffer centralHeader(Entry e) {
        boolean sizes64 = forceZip64 || e.size() >= MAX32;
        boolean offset64 = forceZip64 || e.offset() >= MAX32;
        int zip64Data = (sizes64 ? 16 : 0) + (offset64 ? 8 : 0);
        int extra = zip64Data == 0 ? 0 : 4 + zip64Data;
        ByteBuffer h = buffer(CENTRAL_HEADER + e.name().length + extra);
        short version = version(sizes64 || offset64);
        h.putInt(0x02014b50).putShort(version).putShort(version).putShort((short) 0).putShort((short) 0)
                .putShort((short) 0).putShort(DOS_DATE).putInt((int) e.crc())
                .putInt(sizes64 ? (int) MAX32 : (int) e.size()).putInt(sizes64 ? (int) MAX32 : (int) e.size())
                .putShort((short) e.name().length).putShort((short) extra).putShort((short) 0)
                .putShort((short) 0).putShort((short) 0).putInt(0)
                .putInt(offset64 ? (int) MAX32 : (int) e.offset()).put(e.name());
        if (extra > 0) {
            // Only the fields marked 0xFFFFFFFF above, in the order the format fixes.
            h.putShort(ZIP64_TAG).putShort((short) zip64Data);
            if (sizes64) {
                h.putLong(e.size()).putLong(e.size());
            }
            if (offset64) {
                h.putLong(e.offset());
            }
        }
        return h.flip();
    }

    /** Version needed to extract: 2.0 for stored entries, 4.5 where ZIP64 fields are present. */
    private static short version(boolean zip64) {
        return (short) (zip64 ? 45 : 20);
    }

    private static ByteBuffer buffer(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static String name(Entry e) {
        return new String(e.name(), StandardCharsets.UTF_8);
    }

    private void append(ByteBuffer data) throws IOException {
        position = writeFully(data, position);
    }

    private long writeFully(ByteBuffer data, long at) throws IOException {
        long p = at;
        while (data.hasRemaining()) {
            p += channel.write(data, p);
        }
        return p;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
