package io.averager.rebuild;

import io.averager.AveragerException;
import io.averager.catalog.Catalog;
import io.averager.catalog.Checkpoints;
import io.averager.catalog.Download;
import io.averager.catalog.ManifestLog;
import io.averager.ema.TensorSpec;
import io.averager.format.SafetensorsReader;
import io.averager.sink.ObjectStore;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SeedRequest;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A fork's parent checkpoints, one per profile of the service, fetched and verified into the
 * work directory: what the rebuilder publishes into the new run, chunk by chunk.
 */
final class Seeds implements AutoCloseable {

    private static final Duration MANIFESTS_TIMEOUT = Duration.ofSeconds(60);

    private final List<CheckpointManifest> manifests;
    private final List<Path> files;
    private final List<SafetensorsReader> readers = new ArrayList<>();

    private Seeds(List<CheckpointManifest> manifests, List<Path> files) throws IOException {
        this.manifests = manifests;
        this.files = files;
        for (Path f : files) {
            readers.add(SafetensorsReader.open(f));
        }
    }

    /**
     * The parent's live safetensors checkpoints at the request's step, fetched.
     *
     * @throws AveragerException saying why the fork cannot be seeded: no such checkpoint of a
     *     profile (naming the steps there are), files of different tensors, a file that does not
     *     match its manifest
     */
    static Seeds fetch(SeedRequest r, ParentCheckpoints sources) throws IOException {
        Catalog catalog = ManifestLog.read(sources.consumerProperties(), sources.manifestsTopic(), sources.runEventsTopic(),
                MANIFESTS_TIMEOUT);
        List<CheckpointManifest> manifests = new ArrayList<>();
        for (String profile : sources.profiles()) {
            manifests.add(Checkpoints.select(catalog, r.getParent(), Optional.of(profile), OptionalLong.of(r.getStep()),
                    Optional.of("safetensors")));
        }
        for (CheckpointManifest m : manifests) {
            if (!m.getTensors().equals(manifests.get(0).getTensors())) {
                throw new AveragerException("the checkpoints of run " + r.getParent() + " at step " + r.getStep()
                        + " hold different tensors in profiles " + manifests.get(0).getProfile() + " and " + m.getProfile());
            }
        }
        Files.createDirectories(sources.workDir());
        List<Path> files = new ArrayList<>();
        try {
            for (CheckpointManifest m : manifests) {
                Path file = Files.createTempFile(sources.workDir(), "seed-", ".safetensors");
                files.add(file);
                try (ObjectStore store = sources.storeAt().apply(Download.storeLocation(URI.create(m.getUri())))) {
                    Download.fetch(m, store, file);
                }
            }
            return new Seeds(manifests, files);
        } catch (IOException | RuntimeException e) {
            for (Path f : files) {
                Files.deleteIfExists(f);
            }
            throw e;
        }
    }

    List<CheckpointManifest> manifests() {
        return manifests;
    }

    /** Snapshots the parent had averaged at the step, from the file's metadata. */
    long snapshotsAveraged() {
        return Long.parseLong(readers.get(0).metadata().getOrDefault("snapshots_averaged", "0"));
    }

    /** The tensors of profile {@code i}'s file. */
    List<TensorSpec> tensors(int i) {
        return readers.get(i).tensors();
    }

    SafetensorsReader reader(int i) {
        return readers.get(i);
    }

    @Override
    public void close() throws IOException {
        for (SafetensorsReader r : readers) {
            r.close();
        }
        for (Path f : files) {
            Files.deleteIfExists(f);
        }
    }
}
