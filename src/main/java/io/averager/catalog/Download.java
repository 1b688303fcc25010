package io.averager.catalog;

import io.averager.AveragerException;
import io.averager.sink.FileDigest;
import io.averager.sink.ObjectStore;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Fetches a checkpoint file from its object store and checks it against its manifest. The file
 * is streamed to a temporary sibling of the target and renamed only once its size and SHA-256
 * match, so the target never holds a partial or wrong file.
 */
public final class Download {

    private Download() {
    }

    /**
     * The location of a store that can read {@code uri}: {@code s3://bucket} for an S3 object,
     * the file's directory for a file: URI.
     */
    public static String storeLocation(URI uri) {
        return switch (String.valueOf(uri.getScheme())) {
            case "s3" -> "s3://" + uri.getAuthority();
            case "file" -> Path.of(uri).getParent().toUri().toString();
            default -> throw new AveragerException("Cannot download " + uri + ": only file: and s3: URIs are supported");
        };
    }

    /**
     * Streams the manifest's file from {@code store} to {@code target} and verifies it.
     *
     * @throws AveragerException if size or SHA-256 differ from the manifest's; nothing is left at {@code target}
     */
    public static void fetch(CheckpointManifest manifest, ObjectStore store, Path target) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path part = absolute.resolveSibling(absolute.getFileName() + ".part");
        URI uri = URI.create(manifest.getUri());
        try {
            store.get(uri, part);
            long size = Files.size(part);
            String sha256 = FileDigest.sha256(part);
            if (size != manifest.getSize() || !sha256.equals(manifest.getSha256())) {
                throw new AveragerException("Downloaded " + uri + " (run " + manifest.getRun() + " profile "
                        + manifest.getProfile() + " step " + manifest.getStep() + ") does not match its manifest: expected "
                        + manifest.getSize() + " bytes, sha256 " + manifest.getSha256() + "; got " + size
                        + " bytes, sha256 " + sha256 + ". Nothing was written to " + target);
            }
            Files.move(part, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(part);
        }
    }
}
