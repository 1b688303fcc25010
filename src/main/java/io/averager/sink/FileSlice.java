package io.averager.sink;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import software.amazon.awssdk.http.ContentStreamProvider;

/**
 * The bytes {@code [offset, offset + length)} of a file as request content: every
 * {@link #newStream()} reads them afresh from the file, so the SDK can retry a request without
 * anything held in memory. Each stream is closed when the next is opened, or by {@link #close()}.
 * Not thread-safe.
 */
final class FileSlice implements ContentStreamProvider, AutoCloseable {

    private final Path file;
    private final long offset;
    private final long length;
    private InputStream current;

    FileSlice(Path file, long offset, long length) {
        this.file = file;
        this.offset = offset;
        this.length = length;
    }

    @Override
    public InputStream newStream() {
        close();
        try {
            current = new SliceStream(FileChannel.open(file, StandardOpenOption.READ), offset, offset + length);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + file, e);
        }
        return current;
    }

    @Override
    public String name() {
        return "FileSlice";
    }

    @Override
    public void close() {
        if (current != null) {
            try {
                current.close();
            } catch (IOException e) {
                // A read-only channel: nothing was written that closing could lose.
            }
            current = null;
        }
    }

    private static final class SliceStream extends InputStream {
        private final FileChannel channel;
        private final long end;
        private long position;

        SliceStream(FileChannel channel, long start, long end) {
            this.channel = channel;
            this.position = start;
            this.end = end;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (position >= end) {
                return -1;
            }
            int n = channel.read(ByteBuffer.wrap(b, off, (int) Math.min(len, end - position)), position);
            if (n < 0) {
                throw new IOException("File shrank while being uploaded: ends before byte " + end);
            }
            position += n;
            return n;
        }

        @Override
        public int available() {
            return (int) Math.min(Integer.MAX_VALUE, end - position);
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }
}
