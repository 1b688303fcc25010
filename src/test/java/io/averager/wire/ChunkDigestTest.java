package io.averager.wire;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

class ChunkDigestTest {

    @Test
    void isTheStandardCrc32CheckValueForTheBytes123456789() {
        // Name "1", then "23456789" read as a little-endian offset: the digest covers "123456789".
        long offset = ByteBuffer.wrap("23456789".getBytes(StandardCharsets.US_ASCII))
                .order(ByteOrder.LITTLE_ENDIAN).getLong();

        assertThat(ChunkDigest.of("1", offset, ByteBuffer.allocate(0))).isEqualTo(0xCBF43926L);
    }

    @Test
    void equalsPythonZlibCrc32OfNameOffsetAndData() {
        // zlib.crc32(b"layer1.weight" + struct.pack("<q", 1024) + struct.pack("<2f", 1.0, -2.5))
        ByteBuffer data = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.0f).putFloat(-2.5f).flip();

        assertThat(ChunkDigest.of("layer1.weight", 1024, data)).isEqualTo(2257336821L);
    }

    @Test
    void encodesTheTensorNameInUtf8() {
        // zlib.crc32("poids.é".encode("utf-8") + struct.pack("<q", 0) + bytes([0, 1, 2, 3]))
        assertThat(ChunkDigest.of("poids.é", 0, ByteBuffer.wrap(new byte[] {0, 1, 2, 3}))).isEqualTo(3840822774L);
    }

    @Test
    void writesTheOffsetAsEightLittleEndianBytes() {
        // zlib.crc32(b"b" + struct.pack("<q", 1 << 40))
        assertThat(ChunkDigest.of("b", 1L << 40, ByteBuffer.allocate(0))).isEqualTo(2506020795L);
    }

    @Test
    void equalsCrc32OfHandAssembledBytes() {
        byte[] assembled = {'w', '.', 'x',
                (byte) 0x10, 0x32, 0x54, 0x76, (byte) 0x98, (byte) 0xBA, (byte) 0xDC, 0x0E,
                1, 2, 3, (byte) 0xFF};
        CRC32 crc = new CRC32();
        crc.update(assembled);

        long digest = ChunkDigest.of("w.x", 0x0EDCBA9876543210L, ByteBuffer.wrap(new byte[] {1, 2, 3, (byte) 0xFF}));

        assertThat(digest).isEqualTo(crc.getValue()).isBetween(0L, 0xFFFFFFFFL);
    }

    @Test
    void readsOnlyTheRemainingBytesAndLeavesTheBufferAsItWas() {
        ByteBuffer data = ByteBuffer.wrap(new byte[] {9, 9, 0, 1, 2, 3, 9});
        data.position(2).limit(6);

        long digest = ChunkDigest.of("poids.é", 0, data);

        assertThat(digest).isEqualTo(3840822774L);
        assertThat(data.position()).isEqualTo(2);
        assertThat(data.limit()).isEqualTo(6);
    }
}
