package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.AveragerConfig;
import io.averager.ema.TensorSpec;
import io.averager.format.SafetensorsReader;
import io.averager.it.Workload.CheckpointKey;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Compares the checkpoints of a service that went through trouble with those of an uninterrupted
 * reference that averaged the same snapshots: the same checkpoints, bitwise identical files, and
 * manifests equal but for where the file lies; a checkpoint stored twice must have been stored the
 * same both times.
 */
final class CheckpointComparison {

    /** What one service produced: every manifest on its topic and the directory of its files. */
    record Output(List<CheckpointManifest> manifests, Path checkpointRoot) {

        Set<CheckpointKey> keys() {
            return manifests.stream().map(CheckpointKey::of).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    private CheckpointComparison() {
    }

    /**
     * Runs an uninterrupted reference service with {@code settings} under {@code dir} over the
     * snapshots topic {@code snapshots} of the shared broker, waits for its {@code expected}
     * checkpoints and compares {@code tested} with them.
     */
    static void assertSameAsReference(Output tested, Path dir, Map<String, String> settings, String snapshots,
                                      Set<CheckpointKey> expected, Duration timeout) throws Exception {
        try (ServiceUnderTest reference = new ServiceUnderTest(dir)) {
            reference.settings.putAll(settings);
            reference.settings.put(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG, snapshots);
            reference.start();
            Output referenceOutput = new Output(TopicReader.awaitManifests(SharedKafka.bootstrapServers(),
                    reference.name + "-manifests", expected, timeout,
                    () -> assertThat(reference.service().failure()).isNotDone()), dir.resolve("checkpoints"));
            assertThat(referenceOutput.keys()).as("the reference's checkpoints").isEqualTo(expected);
            assertSameCheckpoints(tested, referenceOutput);
        }
    }

    static void assertSameCheckpoints(Output tested, Output reference) throws IOException {
        assertThat(tested.keys()).as("checkpoints (run, profile, step) of the service against the reference's")
                .isEqualTo(reference.keys());
        Map<CheckpointKey, CheckpointManifest> testedByKey = single(tested, "the service");
        Map<CheckpointKey, CheckpointManifest> referenceByKey = single(reference, "the reference");
        testedByKey.forEach((key, m) -> assertThat(located(m, tested.checkpointRoot()))
                .as("manifest of %s, with its file's location relative to the store", key)
                .isEqualTo(located(referenceByKey.get(key), reference.checkpointRoot())));

        Set<Path> files = files(tested.checkpointRoot());
        assertThat(files).as("files in the service's checkpoint store against the reference's")
                .isEqualTo(files(reference.checkpointRoot()));
        assertThat(files).as("files of the manifests").isEqualTo(testedByKey.values().stream()
                .map(m -> normalized(tested.checkpointRoot()).relativize(file(m))).collect(Collectors.toSet()));
        for (Path file : files) {
            Path a = tested.checkpointRoot().resolve(file);
            assertThat(Files.mismatch(a, reference.checkpointRoot().resolve(file)))
                    .as("first byte where %s differs from the reference's", file).isEqualTo(-1L);
        }
        for (CheckpointManifest m : testedByKey.values()) {
            Path file = file(m);
            assertThat(Files.size(file)).as("size of %s", file).isEqualTo(m.getSize());
            assertThat(sha256(file)).as("SHA-256 of %s", file).isEqualTo(m.getSha256());
        }
    }

    /** The one manifest of each checkpoint, after checking that every copy of it is the same. */
    private static Map<CheckpointKey, CheckpointManifest> single(Output output, String who) {
        Map<CheckpointKey, List<CheckpointManifest>> byKey = output.manifests().stream()
                .collect(Collectors.groupingBy(CheckpointKey::of, TreeMap::new, Collectors.toList()));
        Map<CheckpointKey, CheckpointManifest> single = new TreeMap<>();
        byKey.forEach((key, copies) -> {
            assertThat(Set.copyOf(copies)).as("distinct manifests %s published for %s", who, key).hasSize(1);
            single.put(key, copies.get(0));
        });
        return single;
    }

    /** The manifest with its uri made relative to the store's root, where two services' files differ. */
    private static CheckpointManifest located(CheckpointManifest m, Path root) {
        return CheckpointManifest.newBuilder(m).setUri(normalized(root).relativize(file(m)).toString()).build();
    }

    private static Path file(CheckpointManifest m) {
        return Path.of(URI.create(m.getUri()));
    }

    private static Path normalized(Path root) {
        return root.toAbsolutePath().normalize();
    }

    /** Every regular file below {@code root}, relative to it. */
    static Set<Path> files(Path root) throws IOException {
        Path base = normalized(root);
        if (!Files.exists(base)) {
            return Set.of();
        }
        try (Stream<Path> walk = Files.walk(base)) {
            return walk.filter(Files::isRegularFile).map(base::relativize).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    private static String sha256(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The two safetensors files hold the same tensors, bitwise, and the same number of snapshots
     * averaged: a run that was interrupted against one that was not.
     */
    static void assertSameTensors(String profile, Path resumed, Path uninterrupted) throws IOException {
        try (SafetensorsReader a = SafetensorsReader.open(resumed); SafetensorsReader b = SafetensorsReader.open(uninterrupted)) {
            assertThat(a.tensors()).extracting(TensorSpec::name).isEqualTo(b.tensors().stream().map(TensorSpec::name).toList());
            assertThat(a.metadata()).containsEntry("snapshots_averaged", b.metadata().get("snapshots_averaged"));
            for (TensorSpec t : a.tensors()) {
                ByteBuffer got = a.read(t.name(), 0, Math.toIntExact(t.numel()));
                ByteBuffer want = b.read(t.name(), 0, Math.toIntExact(t.numel()));
                assertThat(got).as("profile %s tensor %s, bitwise", profile, t.name()).isEqualTo(want);
            }
        }
    }
}
