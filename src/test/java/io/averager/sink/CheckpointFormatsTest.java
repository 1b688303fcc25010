package io.averager.sink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.format.SafetensorsLayout;
import io.averager.format.SafetensorsWriter;
import io.averager.wire.Tensors;
import io.averager.wire.avro.CheckpointHeader;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointFormatsTest {

    private static final List<TensorSpec> TENSORS = List.of(
            new TensorSpec("w", Dtype.F32, new long[] {2, 2}),
            new TensorSpec("n", Dtype.I64, new long[0]));
    private static final Instant TIME = Instant.ofEpochMilli(1_700_000_000_000L);

    @TempDir
    Path dir;

    private CheckpointHeader header(String profile) {
        return CheckpointHeader.newBuilder().setRun("run-1").setProfile(profile).setStep(40)
                .setTensors(TENSORS.stream().map(Tensors::info).toList()).setGrid(1024).setChunkCount(2)
                .setMetadata(Map.of()).build();
    }

    private CheckpointAssembly.Finished assembled() throws IOException {
        Path file = dir.resolve("a.safetensors.part");
        try (SafetensorsWriter w = SafetensorsWriter.create(file, SafetensorsLayout.of(TENSORS, Map.of()))) {
            w.write("w", 0, ByteBuffer.allocate(16).putFloat(0, 1.5f));
            w.write("n", 0, ByteBuffer.allocate(8).put(0, (byte) 7));
        }
        return new CheckpointAssembly.Finished(file, Files.size(file), FileDigest.sha256(file));
    }

    private List<Path> spool() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.toList();
        }
    }

    @Test
    void ptAloneReplacesTheAssembledFileWithAConvertedOneAndItsManifest() throws IOException {
        CheckpointFormats formats = new CheckpointFormats(Map.of("ema", Set.of("pt")));
        CheckpointAssembly.Finished assembled = assembled();

        List<CheckpointFormats.Output> outputs = formats.outputs(assembled, header("ema"), TIME);

        assertThat(outputs).hasSize(1);
        Path pt = outputs.get(0).file();
        CheckpointManifest m = outputs.get(0).manifest();
        assertThat(pt.getParent()).isEqualTo(dir);
        assertThat(pt.getFileName().toString()).endsWith(".pt.part");
        assertThat(spool()).containsExactly(pt);
        assertThat(m.getFormat()).isEqualTo("pt");
        assertThat(m.getUri()).isNull();
        assertThat(m.getSize()).isEqualTo(Files.size(pt));
        assertThat(m.getSha256()).isEqualTo(FileDigest.sha256(pt));
        assertThat(m.getRun()).isEqualTo("run-1");
        assertThat(m.getProfile()).isEqualTo("ema");
        assertThat(m.getStep()).isEqualTo(40);
        assertThat(m.getTensors()).isEqualTo(header("ema").getTensors());
        assertThat(m.getSnapshotTime()).isEqualTo(TIME);
    }

    @Test
    void bothKeepsTheAssembledFileFirstAndAddsThePtFile() throws IOException {
        CheckpointFormats formats = new CheckpointFormats(Map.of("ema", Set.of("safetensors", "pt")));
        CheckpointAssembly.Finished assembled = assembled();

        List<CheckpointFormats.Output> outputs = formats.outputs(assembled, header("ema"), TIME);

        assertThat(outputs).extracting(o -> o.manifest().getFormat()).containsExactly("safetensors", "pt");
        assertThat(outputs.get(0).file()).isEqualTo(assembled.file());
        assertThat(outputs.get(0).manifest().getSha256()).isEqualTo(assembled.sha256());
        assertThat(spool()).containsExactlyInAnyOrder(assembled.file(), outputs.get(1).file());
    }

    @Test
    void profilesNotNamedGetTheAssembledSafetensorsFileAlone() throws IOException {
        CheckpointFormats formats = new CheckpointFormats(Map.of("ema", Set.of("pt")));
        CheckpointAssembly.Finished assembled = assembled();

        List<CheckpointFormats.Output> outputs = formats.outputs(assembled, header("other"), TIME);

        assertThat(outputs).singleElement().satisfies(o -> {
            assertThat(o.file()).isEqualTo(assembled.file());
            assertThat(o.manifest().getFormat()).isEqualTo("safetensors");
            assertThat(o.manifest().getSize()).isEqualTo(assembled.size());
        });
        assertThat(spool()).containsExactly(assembled.file());
    }

    @Test
    void refusesAnUnknownOrEmptySetOfFormats() {
        assertThatThrownBy(() -> new CheckpointFormats(Map.of("ema", Set.of("onnx"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("profile ema").hasMessageContaining("onnx");
        assertThatThrownBy(() -> new CheckpointFormats(Map.of("ema", Set.of())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("profile ema");
    }
}
