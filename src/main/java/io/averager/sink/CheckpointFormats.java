package io.averager.sink;

import io.averager.format.PtWriter;
import io.averager.format.SafetensorsReader;
import io.averager.wire.avro.CheckpointHeader;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * The files a checkpoint is stored as, by its profile's formats: the assembled safetensors file, a
 * PyTorch file converted from it, or both, each with the manifest to publish once it is stored.
 * The format name is also the file's extension. Immutable; conversions run on the calling thread.
 */
final class CheckpointFormats {

    static final String SAFETENSORS = "safetensors";
    static final String PT = "pt";
    /** Suffix of converted files in the spool directory while they wait to be stored. */
    static final String PT_PART_SUFFIX = ".pt.part";
    private static final Set<String> KNOWN = Set.of(SAFETENSORS, PT);

    private final Map<String, Set<String>> byProfile;

    /**
     * @param byProfile formats by profile name, each a non-empty subset of {@value #SAFETENSORS}
     *     and {@value #PT}; profiles not named get safetensors alone
     * @throws IllegalArgumentException on an empty or unknown format set
     */
    CheckpointFormats(Map<String, Set<String>> byProfile) {
        Map<String, Set<String>> copy = new HashMap<>();
        byProfile.forEach((profile, formats) -> {
            if (formats.isEmpty() || !KNOWN.containsAll(formats)) {
                throw new IllegalArgumentException("Checkpoint formats of profile " + profile + " are " + formats
                        + "; expected one or more of " + KNOWN);
            }
            copy.put(profile, Set.copyOf(formats));
        });
        this.byProfile = Map.copyOf(copy);
    }

    /** A file to store and the manifest to publish for it; the manifest's URI is set once stored. */
    record Output(CheckpointManifest manifest, Path file) {
    }

    /**
     * The files to store for a finished checkpoint, safetensors first. A PyTorch file is converted
     * from the assembled one into the same directory; the assembled file is deleted when its own
     * format is not wanted.
     *
     * @param time the manifest's timestamp
     */
    List<Output> outputs(CheckpointAssembly.Finished assembled, CheckpointHeader header, Instant time) throws IOException {
        Set<String> formats = byProfile.getOrDefault(header.getProfile(), Set.of(SAFETENSORS));
        List<Output> outputs = new ArrayList<>();
        if (formats.contains(SAFETENSORS)) {
            outputs.add(new Output(manifest(header, SAFETENSORS, assembled.size(), assembled.sha256(), time),
                    assembled.file()));
        }
        if (formats.contains(PT)) {
            Path pt = assembled.file().resolveSibling(UUID.randomUUID() + PT_PART_SUFFIX);
            try (SafetensorsReader source = SafetensorsReader.open(assembled.file())) {
                PtWriter.write(source, pt, header.getStep(), header.getRun(), header.getProfile());
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(pt);
                throw e;
            }
            outputs.add(new Output(manifest(header, PT, Files.size(pt), FileDigest.sha256(pt), time), pt));
        }
        if (!formats.contains(SAFETENSORS)) {
            Files.delete(assembled.file());
        }
        return outputs;
    }

    private static CheckpointManifest manifest(CheckpointHeader h, String format, long size, String sha256,
                                               Instant time) {
        return new CheckpointManifest(h.getRun(), h.getProfile(), h.getStep(), null, format, size, sha256,
                h.getTensors(), time, h.getRewinds());
    }
}
