package io.averager.format;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PtZipTest {

    @TempDir
    Path dir;

    private static Map<String, byte[]> contents() {
        Random random = new Random(7);
        Map<String, byte[]> entries = new LinkedHashMap<>();
        for (int size : new int[] {5, 0, 1, 64, 1000, 3}) {
            byte[] data = new byte[size];
            random.nextBytes(data);
            entries.put("archive/data/" + entries.size(), data);
        }
        return entries;
    }

    /** Writes each entry in chunks of 7 bytes, so that the CRC is computed across writes. */
    private Path write(String name, Map<String, byte[]> entries, boolean forceZip64) throws IOException {
        Path file = dir.resolve(name);
        try (PtZip zip = PtZip.create(file, forceZip64)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                zip.begin(e.getKey(), e.getValue().length);
                for (int at = 0; at < e.getValue().length; at += 7) {
                    zip.write(ByteBuffer.wrap(e.getValue(), at, Math.min(7, e.getValue().length - at)));
                }
                zip.end();
            }
            zip.finish();
        }
        return file;
    }

    /** Where each entry's data starts, found by walking the local headers from the start of the file. */
    static List<Long> dataOffsets(Path file, int entries) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        List<Long> offsets = new ArrayList<>();
        int at = 0;
        for (int i = 0; i < entries; i++) {
            assertThat(b.getInt(at)).as("local header signature of entry %d", i).isEqualTo(0x04034b50);
            long size = Integer.toUnsignedLong(b.getInt(at + 22));
            int nameLength = Short.toUnsignedInt(b.getShort(at + 26));
            int extraLength = Short.toUnsignedInt(b.getShort(at + 28));
            int extra = at + 30 + nameLength;
            if (size == 0xFFFFFFFFL) {
                assertThat(b.getShort(extra)).as("ZIP64 extra field first").isEqualTo((short) 1);
                size = b.getLong(extra + 4);
            }
            int data = extra + extraLength;
            offsets.add((long) data);
            at = Math.toIntExact(data + size);
        }
        return offsets;
    }

    private static void assertReadsBack(Path file, Map<String, byte[]> entries) throws IOException {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            assertThat(Collections.list(zip.entries())).extracting(ZipEntry::getName)
                    .containsExactlyElementsOf(entries.keySet());
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                ZipEntry entry = zip.getEntry(e.getKey());
                CRC32 crc = new CRC32();
                crc.update(e.getValue());
                assertThat(entry.getMethod()).as(e.getKey()).isEqualTo(ZipEntry.STORED);
                assertThat(entry.getSize()).as(e.getKey()).isEqualTo(e.getValue().length);
                assertThat(entry.getCrc()).as(e.getKey()).isEqualTo(crc.getValue());
                try (InputStream in = zip.getInputStream(entry)) {
                    assertThat(in.readAllBytes()).as(e.getKey()).isEqualTo(e.getValue());
                }
            }
        }
        assertThat(dataOffsets(file, entries.size())).allSatisfy(offset -> assertThat(offset % 64).isZero());
    }

    @Test
    void storedEntriesReadBackWithJavasZipReaderWithDataAlignedTo64Bytes() throws IOException {
        Map<String, byte[]> entries = contents();

        assertReadsBack(write("plain.zip", entries, false), entries);
    }

    @Test
    void anArchiveWithZip64FieldsThroughoutReadsBackTheSame() throws IOException {
        Map<String, byte[]> entries = contents();
        Path file = write("zip64.zip", entries, true);

        assertReadsBack(file, entries);
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(b.getInt(b.limit() - 22 - 20)).as("ZIP64 end locator").isEqualTo(0x07064b50);
        assertThat(b.getInt(b.limit() - 22)).as("end of central directory").isEqualTo(0x06054b50);
    }

    @Test
    void theSameEntriesGiveTheSameBytes() throws IOException {
        assertThat(Files.readAllBytes(write("a.zip", contents(), false)))
                .isEqualTo(Files.readAllBytes(write("b.zip", contents(), false)));
    }

    @Test
    void refusesMoreOrFewerBytesThanAnEntryDeclared() throws IOException {
        try (PtZip zip = PtZip.create(dir.resolve("short.zip"), false)) {
            zip.begin("archive/data/0", 4);
            zip.write(ByteBuffer.allocate(3));
            assertThatThrownBy(zip::end).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("archive/data/0").hasMessageContaining("3 bytes written, 4 declared");
            assertThatThrownBy(() -> zip.write(ByteBuffer.allocate(2))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("would exceed its declared 4 bytes");
        }
    }
}
