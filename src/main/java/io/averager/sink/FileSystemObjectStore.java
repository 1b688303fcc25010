package io.averager.sink;

import java.io.IOException;
import java.net.URI;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Keeps objects as files under a root directory. A put lands by an atomic rename, so a reader
 * never sees a partial file; across file systems it copies next to the target first.
 */
public final class FileSystemObjectStore implements ObjectStore {

    private final Path root;

    public FileSystemObjectStore(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    @Override
    public URI put(String key, Path file) throws IOException {
        Path target = root.resolve(key).normalize();
        if (!target.startsWith(root)) {
            throw new IllegalArgumentException("object key " + key + " leaves the store's root " + root);
        }
        Files.createDirectories(target.getParent());
        try {
            Files.move(file, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Path staged = Files.createTempFile(target.getParent(), ".incoming-", ".part");
            try {
                Files.copy(file, staged, StandardCopyOption.REPLACE_EXISTING);
                Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                Files.delete(file);
            } finally {
                Files.deleteIfExists(staged);
            }
        }
        return target.toUri();
    }

    /** Copies the file {@code uri} names (a file: URI, below this store's root or not). */
    @Override
    public void get(URI uri, Path target) throws IOException {
        if (!"file".equals(uri.getScheme())) {
            throw new IllegalArgumentException("Not a file: URI: " + uri);
        }
        try {
            Files.copy(Path.of(uri), target, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            Files.deleteIfExists(target);
            throw e;
        }
    }

    @Override
    public String describe() {
        return root.toString();
    }
}
