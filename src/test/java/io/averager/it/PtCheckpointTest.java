package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.AveragerConfig;
import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.format.SafetensorsLayout;
import io.averager.format.SafetensorsWriter;
import io.averager.publish.SnapshotPublisher;
import io.averager.publish.TensorSource;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SnapshotMode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints in PyTorch's format, end to end on a real broker: a profile configured with format
 * {@code both} stores a safetensors file and a .pt file under the same key, each with its own
 * manifest, and PyTorch loads the .pt (weights_only) into a real model with exactly the tensors of
 * the safetensors file; a profile left at the default stores safetensors alone.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class PtCheckpointTest {

    private static final long LAST_STEP = 30;
    /** The state dict of {@code nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))}. */
    private static final List<TensorSpec> MODEL = List.of(
            new TensorSpec("0.weight", Dtype.F32, new long[] {4, 3}),
            new TensorSpec("0.bias", Dtype.F32, new long[] {4}),
            new TensorSpec("1.weight", Dtype.F32, new long[] {4}),
            new TensorSpec("1.bias", Dtype.F32, new long[] {4}),
            new TensorSpec("1.running_mean", Dtype.F32, new long[] {4}),
            new TensorSpec("1.running_var", Dtype.F32, new long[] {4}),
            new TensorSpec("1.num_batches_tracked", Dtype.I64, new long[0]));

    @TempDir
    Path dir;

    private static List<TensorSource> weights(long step) {
        Random random = new Random(step);
        List<TensorSource> sources = new ArrayList<>();
        for (TensorSpec t : MODEL) {
            ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(t.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < t.numel(); i++) {
                if (t.dtype() == Dtype.I64) {
                    b.putLong(step);
                } else {
                    b.putFloat((float) random.nextGaussian());
                }
            }
            sources.add(TensorSource.ofBytes(t, b.flip()));
        }
        return sources;
    }

    @Test
    void aProfileWithFormatBothStoresASafetensorsAndAPtFileThatTorchLoadsIntoTheModel() throws Exception {
        String run = SharedKafka.unique("run");
        Path snapshots = Files.createDirectories(dir.resolve("snapshots"));
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            service.settings.put(AveragerConfig.PROFILES_CONFIG, "ema,plain");
            service.settings.put("averager.profile.ema.decay", "0.9");
            service.settings.put("averager.profile.ema.format", "both");
            service.settings.put("averager.profile.plain.decay", "0.5");
            service.start();
            Map<String, Object> producer = Map.of("bootstrap.servers", SharedKafka.bootstrapServers());
            try (SnapshotPublisher publisher = new SnapshotPublisher(producer, service.snapshotsTopic(), 1024)) {
                for (long step = 10; step <= LAST_STEP; step += 10) {
                    publisher.publish(run, step, SnapshotMode.UPDATE, step == LAST_STEP, Map.of(), weights(step));
                    write(weights(step), snapshots.resolve(String.format("step-%06d.safetensors", step)));
                }
            }

            List<CheckpointManifest> manifests = service.awaitManifests(run, LAST_STEP, 3, Duration.ofSeconds(60));
            assertThat(manifests).hasSize(3);
            // Once the sink has committed its way past every checkpoint record, all it will
            // publish of them is on the manifests topic, published with those offsets.
            service.awaitSinkCaughtUp(Duration.ofSeconds(60));
            assertThat(TopicReader.manifests(SharedKafka.bootstrapServers(), service.name + "-manifests"))
                    .filteredOn(m -> m.getRun().equals(run) && m.getStep() == LAST_STEP)
                    .as("manifests of the last step on the manifests topic").hasSize(3);
            assertThat(service.awaitManifests(run, LAST_STEP, 1, Duration.ZERO)).as("manifests beyond three").isEmpty();
            Map<String, List<String>> formats = manifests.stream().collect(Collectors.groupingBy(
                    CheckpointManifest::getProfile, Collectors.mapping(CheckpointManifest::getFormat, Collectors.toList())));
            assertThat(formats).containsOnlyKeys("ema", "plain");
            assertThat(formats.get("ema")).containsExactlyInAnyOrder("safetensors", "pt");
            assertThat(formats.get("plain")).containsExactly("safetensors");

            Path safetensors = null;
            Path pt = null;
            for (CheckpointManifest m : manifests) {
                Path file = PipelineTest.verifiedFile(m);
                assertThat(file.getFileName().toString()).isEqualTo("step-" + LAST_STEP + "." + m.getFormat());
                assertThat(m.getTensors()).hasSize(MODEL.size());
                if (m.getProfile().equals("ema")) {
                    if (m.getFormat().equals("pt")) {
                        pt = file;
                    } else {
                        safetensors = file;
                    }
                }
            }
            assertThat(pt.getParent()).isEqualTo(safetensors.getParent());
            try (Stream<Path> left = Files.list(dir.resolve("state").resolve("spool"))) {
                assertThat(left).as("files left in the spool directory").isEmpty();
            }
            // PyTorch's own EMA of the snapshots equals the safetensors file, which equals the .pt.
            PythonCheck.run("src/test/python/check_ema.py", "--snapshots", snapshots.toString(),
                    "--checkpoint", safetensors.toString(), "--decay", "0.9");
            PythonCheck.run("src/test/python/check_pt.py", "--pt", pt.toString(), "--safetensors", safetensors.toString(),
                    "--run", run, "--profile", "ema", "--step", Long.toString(LAST_STEP), "--model", "linear-bn:3:4");
        }
    }

    private static void write(List<TensorSource> tensors, Path file) throws IOException {
        try (SafetensorsWriter w = SafetensorsWriter.create(file, SafetensorsLayout.of(MODEL, Map.of()))) {
            for (TensorSource t : tensors) {
                w.write(t.spec().name(), 0, t.read(0, Math.toIntExact(t.spec().numel())));
            }
        }
    }
}
