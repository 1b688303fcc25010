package io.averager.wire;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;

/**
 * The digest a snapshot commit carries: the sum, modulo 2^64, over its chunks of the CRC-32
 * (IEEE, as {@code zlib.crc32}) of the tensor name in UTF-8, the element offset as 8 bytes
 * little-endian, and the chunk data. A sum does not depend on the order chunks arrive in, and
 * ranks that each send part of a snapshot can add their partial sums.
 */
public final class ChunkDigest {

    private ChunkDigest() {
    }

    /** The digest term of one chunk; reads {@code data}'s remaining bytes without moving it. */
    public static long of(String tensor, long offset, ByteBuffer data) {
        CRC32 crc = new CRC32();
        crc.update(tensor.getBytes(StandardCharsets.UTF_8));
        crc.update(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, offset));
        crc.update(data.duplicate());
        return crc.getValue();
    }
}
