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

    /**
     * Streams the object {@code uri} names, as {@link #put} returned it, into {@code target},
     * replacing any file there. On failure {@code target} is deleted.
     *
     * @throws IllegalArgumentException if this kind of store cannot read {@code uri} (another scheme)
     */
    void get(URI uri, Path target) throws IOException;

    /** Where this store keeps objects, for messages. */
    String describe();

    @Override
    default void close() {
    }
}
