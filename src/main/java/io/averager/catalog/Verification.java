package io.averager.catalog;

import io.averager.sink.FileDigest;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Checks a checkpoint file against the manifest that names it: size and SHA-256.
 *
 * @param manifest the manifest whose uri names the file; empty if none does
 * @param size the file's size
 * @param sha256 the file's SHA-256
 */
public record Verification(Path file, Optional<CheckpointManifest> manifest, long size, String sha256) {

    /** Verifies {@code file} against the last of {@code manifests} whose uri names it. */
    public static Verification of(Path file, List<CheckpointManifest> manifests) throws IOException {
        URI uri = file.toAbsolutePath().normalize().toUri();
        Optional<CheckpointManifest> named = manifests.stream()
                .filter(m -> uri.equals(URI.create(m.getUri()).normalize()))
                .reduce((first, second) -> second);
        return new Verification(file, named, Files.size(file), FileDigest.sha256(file));
    }

    public boolean ok() {
        return manifest.isPresent() && manifest.get().getSize() == size && manifest.get().getSha256().equals(sha256);
    }

    /** One line for a terminal. */
    public String describe() {
        if (manifest.isEmpty()) {
            return "UNKNOWN " + file + ": no manifest names this file";
        }
        CheckpointManifest m = manifest.get();
        String which = "run " + m.getRun() + " profile " + m.getProfile() + " step " + m.getStep();
        if (ok()) {
            return "OK " + file + " (" + which + ", sha256 " + sha256 + ")";
        }
        return "MISMATCH " + file + " (" + which + "): manifest says " + m.getSize() + " bytes, sha256 " + m.getSha256()
                + "; file has " + size + " bytes, sha256 " + sha256;
    }
}
