package io.averager.sink;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;

/**
 * Where checkpoint files end up. Implementations are thread-safe.
 */
public interface ObjectStore extends AutoCloseable {

    /**
     * Stores the file's content under {@code key}, replacing any object there. Readers see the
     * old object or the whole new one, never a part. The file is consumed: it may be moved.
     *
     * @param key a relative path of '/'-separated segments made by {@link ObjectKeys}
     * @return the URI of the stored object
     */
    URI put(String key, Path file) throws IOException;

    /** Where this store keeps objects, for messages. */
    String describe();

    @Override
    default void close() {
    }
}
