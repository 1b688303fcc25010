package io.averager.catalog;

import io.averager.format.SafetensorsReader;
import io.averager.sink.FileDigest;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Checks a checkpoint file against its manifest: size and SHA-256. The file is found by its
 * content, so a copy anywhere (downloaded, moved, from another machine) is verified like the
 * stored file; a file that matches no manifest is compared with the manifest of the location it
 * was stored at, or else with the one its own safetensors metadata names (run, profile, step), to
 * say what differs.
 *
 * @param file what was checked, as the user named it (a path or a URI)
 * @param manifest the manifest of the file's checkpoint; empty if none was found
 * @param size the file's size
 * @param sha256 the file's SHA-256
 */
public record Verification(String file, Optional<CheckpointManifest> manifest, long size, String sha256) {

    /** Verifies {@code file} against {@code manifests}. */
    public static Verification of(Path file, List<CheckpointManifest> manifests) throws IOException {
        return of(file, file.toString(), Optional.of(file.toAbsolutePath().normalize().toUri()), manifests);
    }

    /**
     * Verifies the local copy {@code file} of {@code name} (its stored URI if {@code stored} is
     * given) against {@code manifests}.
     */
    public static Verification of(Path file, String name, Optional<URI> stored, List<CheckpointManifest> manifests)
            throws IOException {
        long size = Files.size(file);
        String sha256 = FileDigest.sha256(file);
        Optional<CheckpointManifest> found = last(manifests.stream()
                .filter(m -> m.getSize() == size && m.getSha256().equals(sha256)).toList());
        if (found.isEmpty() && stored.isPresent()) {
            URI uri = stored.get().normalize();
            found = last(manifests.stream().filter(m -> uri.equals(URI.create(m.getUri()).normalize())).toList());
        }
        if (found.isEmpty()) {
            found = ownMetadata(file).flatMap(meta -> last(manifests.stream()
                    .filter(m -> m.getRun().equals(meta.get("run")) && m.getProfile().equals(meta.get("profile"))
                            && Long.toString(m.getStep()).equals(meta.get("step")) && m.getFormat().equals("safetensors"))
                    .toList()));
        }
        return new Verification(name, found, size, sha256);
    }

    private static Optional<CheckpointManifest> last(List<CheckpointManifest> manifests) {
        return manifests.isEmpty() ? Optional.empty() : Optional.of(manifests.get(manifests.size() - 1));
    }

    /** The metadata of a safetensors checkpoint; empty for any other file. */
    private static Optional<Map<String, String>> ownMetadata(Path file) {
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            return Optional.of(r.metadata());
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    public boolean ok() {
        return manifest.isPresent() && manifest.get().getSize() == size && manifest.get().getSha256().equals(sha256);
    }

    /** One line for a terminal. */
    public String describe() {
        if (manifest.isEmpty()) {
            return "UNKNOWN " + file + ": no manifest has its SHA-256 " + sha256 + " or names it";
        }
        CheckpointManifest m = manifest.get();
        String which = "run " + m.getRun() + " profile " + m.getProfile() + " step " + m.getStep();
        if (ok()) {
            return "OK " + file + " (" + which + ", sha256 " + sha256 + ", stored at " + m.getUri() + ")";
        }
        return "MISMATCH " + file + " (" + which + ", stored at " + m.getUri() + "): manifest says " + m.getSize()
                + " bytes, sha256 " + m.getSha256() + "; file has " + size + " bytes, sha256 " + sha256;
    }
}
