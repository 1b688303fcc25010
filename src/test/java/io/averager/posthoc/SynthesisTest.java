package io.averager.posthoc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.AveragerException;
import io.averager.ema.Dtype;
import io.averager.ema.PowerFunction;
import io.averager.ema.TensorSpec;
import io.averager.format.SafetensorsLayout;
import io.averager.format.SafetensorsReader;
import io.averager.format.SafetensorsWriter;
import io.averager.sink.FileDigest;
import io.averager.sink.FileSystemObjectStore;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding, fetching and combining a run's power checkpoints, from manifests and files made here:
 * profiles p05 and p10 (power) and ema (exponential) of run r, checkpointed every 100 steps to 400.
 */
class SynthesisTest {

    private static final TensorSpec W = new TensorSpec("w", Dtype.F32, new long[] {4});

    @TempDir
    Path dir;
    private final List<CheckpointManifest> manifests = new ArrayList<>();

    @BeforeEach
    void storeCheckpoints() throws IOException {
        Files.createDirectories(dir.resolve("store"));
        Files.createDirectories(dir.resolve("work"));
        for (long step = 100; step <= 400; step += 100) {
            store("r", "p05", step, Map.of("ema.type", "power", "ema.gamma", Double.toString(PowerFunction.gammaOf(0.05))));
            store("r", "p10", step, Map.of("ema.type", "power", "ema.gamma", Double.toString(PowerFunction.gammaOf(0.10))));
            store("r", "ema", step, Map.of("ema.decay", "0.999"));
        }
    }

    @Test
    void combinesThePowerCheckpointsUpToTheStepWithTheFittedCoefficients() throws IOException {
        Path out = dir.resolve("out.safetensors");
        SynthesisReport report = synthesis().synthesize("r", 0.075, OptionalLong.of(300), out);

        assertThat(report.used()).extracting(u -> u.profile() + "@" + u.step())
                .containsExactly("p05@100", "p05@200", "p05@300", "p10@100", "p10@200", "p10@300");
        assertThat(report.step()).isEqualTo(300);
        assertThat(report.fit().warnings()).isEmpty();
        double expected = 0;
        for (SynthesisReport.Used u : report.used()) {
            expected += u.coefficient() * value(u.profile(), u.step());
        }
        try (SafetensorsReader r = SafetensorsReader.open(out)) {
            assertThat(r.read("w", 0, 4).getFloat(8)).isCloseTo((float) expected, Offset.offset(1e-5f));
            assertThat(r.metadata()).containsEntry("run", "r").containsEntry("step", "300")
                    .containsEntry("ema.type", "power").containsKey("posthoc.relative_l1_error");
        }
        assertThat(dir.resolve("work").toFile().list()).as("only power checkpoints kept")
                .allMatch(name -> name.startsWith("p05") || name.startsWith("p10"));
    }

    @Test
    void defaultsToTheLastStepWithAPowerCheckpoint() throws IOException {
        assertThat(synthesis().synthesize("r", 0.075, OptionalLong.empty(), dir.resolve("o.safetensors")).step())
                .isEqualTo(400);
    }

    @Test
    void refusesARunWithoutPowerCheckpointsNamingItsProfiles() throws IOException {
        store("s", "ema", 100, Map.of());
        assertThatThrownBy(() -> synthesis().synthesize("s", 0.075, OptionalLong.empty(), dir.resolve("o.safetensors")))
                .isInstanceOf(AveragerException.class)
                .hasMessageStartingWith("Run s has no safetensors checkpoint of a power profile; profiles [ema] are"
                        + " not power profiles");
        assertThatThrownBy(() -> synthesis().synthesize("r", 0.075, OptionalLong.of(50), dir.resolve("o.safetensors")))
                .hasMessageStartingWith("Run r has no safetensors checkpoint of a power profile at steps up to 50");
    }

    @Test
    void refusesAProfileWhoseGammaChangedNamingRunProfileAndStep() throws IOException {
        store("r", "p10", 500, Map.of("ema.type", "power", "ema.gamma", "3.0"));
        assertThatThrownBy(() -> synthesis().synthesize("r", 0.075, OptionalLong.empty(), dir.resolve("o.safetensors")))
                .isInstanceOf(AveragerException.class)
                .hasMessageStartingWith("Checkpoint of run r profile p10 step 400 has gamma " + PowerFunction.gammaOf(0.10)
                        + ", while its step 500 has gamma 3.0");
    }

    private Synthesis synthesis() {
        return new Synthesis(manifests, location -> new FileSystemObjectStore(dir.resolve("store")), dir.resolve("work"));
    }

    private static double value(String profile, long step) {
        return step / 100.0 + (profile.equals("p05") ? 0.5 : 0);
    }

    private void store(String run, String profile, long step, Map<String, String> ema) throws IOException {
        Path file = dir.resolve("store").resolve(run + "-" + profile + "-" + step + ".safetensors");
        Map<String, String> meta = new LinkedHashMap<>(ema);
        meta.put("run", run);
        try (SafetensorsWriter w = SafetensorsWriter.create(file, SafetensorsLayout.of(List.of(W), meta))) {
            ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < 4; i++) {
                b.putFloat((float) value(profile, step));
            }
            w.write("w", 0, b.flip());
        }
        manifests.add(new CheckpointManifest(run, profile, step, file.toUri().toString(), "safetensors", Files.size(file),
                FileDigest.sha256(file), List.of(), Instant.EPOCH, 0));
    }
}
