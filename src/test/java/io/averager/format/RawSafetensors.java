package io.averager.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes safetensors-like files byte by byte, so that tests can build malformed ones. */
final class RawSafetensors {

    private RawSafetensors() {
    }

    /** A file with the given header JSON (unpadded) followed by {@code dataBytes} zero bytes. */
    static Path write(Path file, String json, int dataBytes) throws IOException {
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        return write(file, header.length, header, dataBytes);
    }

    /** A file whose length prefix says {@code declaredLength}, whatever follows. */
    static Path write(Path file, long declaredLength, byte[] header, int dataBytes) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(declaredLength).put(header);
        Files.write(file, buf.array());
        return file;
    }
}
