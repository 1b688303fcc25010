package io.averager.format;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsLayoutTest {

    @TempDir
    Path dir;

    private static final List<TensorSpec> TENSORS = List.of(
            new TensorSpec("w", Dtype.F32, new long[] {2, 3}),
            new TensorSpec("b", Dtype.BF16, new long[] {3}),
            new TensorSpec("n", Dtype.I64, new long[] {}));

    @Test
    void headerIsPaddedToEightBytesAndReadsBackAsPlainJson() throws IOException {
        SafetensorsLayout layout = SafetensorsLayout.of(TENSORS, Map.of("run", "r1"));
        Path file = dir.resolve("x.safetensors");
        try (SafetensorsWriter writer = SafetensorsWriter.create(file, layout)) {
            writer.force();
        }
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String json = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);

        assertThat(n % 8).isZero();
        assertThat(layout.dataStart()).isEqualTo(8 + n);
        assertThat(bytes).hasSize((int) layout.size());
        assertThat(json).startsWith("{").matches("(?s).*\\}\\s*");
        JsonNode root = new ObjectMapper().readTree(json);
        assertThat(root.get("__metadata__").get("run").asText()).isEqualTo("r1");
        assertThat(offsets(root, "w")).containsExactly(0, 24);
        assertThat(offsets(root, "b")).containsExactly(24, 30);
        assertThat(offsets(root, "n")).containsExactly(30, 38);
        assertThat(root.get("b").get("dtype").asText()).isEqualTo("BF16");
        assertThat(root.get("w").get("shape").toString()).isEqualTo("[2,3]");
        assertThat(root.get("n").get("shape").size()).isZero();
    }

    private static long[] offsets(JsonNode root, String tensor) {
        JsonNode o = root.get(tensor).get("data_offsets");
        return new long[] {o.get(0).asLong(), o.get(1).asLong()};
    }

    @Test
    void headerBufferIsFreshOnEachCall() {
        SafetensorsLayout layout = SafetensorsLayout.of(TENSORS, Map.of());
        ByteBuffer first = layout.header();
        first.position(first.limit());
        assertThat(layout.header().position()).isZero();
        assertThat(layout.header().remaining()).isEqualTo((int) layout.dataStart());
    }

    @Test
    void omitsTheMetadataEntryWhenThereIsNone() {
        ByteBuffer header = SafetensorsLayout.of(TENSORS, Map.of()).header();
        byte[] bytes = new byte[header.remaining()];
        header.get(bytes);
        assertThat(new String(bytes, StandardCharsets.UTF_8)).doesNotContain("__metadata__");
    }

    @Test
    void positionsAreAbsoluteFilePositions() {
        SafetensorsLayout layout = SafetensorsLayout.of(TENSORS, Map.of());
        assertThat(layout.position("w", 0)).isEqualTo(layout.dataStart());
        assertThat(layout.position("w", 5)).isEqualTo(layout.dataStart() + 20);
        assertThat(layout.position("b", 1)).isEqualTo(layout.dataStart() + 26);
        assertThat(layout.position("n", 1)).isEqualTo(layout.size());
    }

    @Test
    void positionRejectsAnUnknownTensorAndAnOffsetOutsideTheTensor() {
        SafetensorsLayout layout = SafetensorsLayout.of(TENSORS, Map.of());
        assertThatThrownBy(() -> layout.position("v", 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Unknown tensor v");
        assertThatThrownBy(() -> layout.position("w", 7))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("element offset 7", "tensor w", "6 elements");
        assertThatThrownBy(() -> layout.position("w", -1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("element offset -1");
    }

    @Test
    void rejectsDuplicateTensorNamesNamingTheTensor() {
        List<TensorSpec> twice = List.of(TENSORS.get(0), new TensorSpec("w", Dtype.U8, new long[] {1}));
        assertThatThrownBy(() -> SafetensorsLayout.of(twice, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Duplicate tensor w");
    }

    @Test
    void rejectsTheReservedMetadataNameAsATensorName() {
        List<TensorSpec> reserved = List.of(new TensorSpec("__metadata__", Dtype.U8, new long[] {1}));
        assertThatThrownBy(() -> SafetensorsLayout.of(reserved, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reserved");
    }

    @Test
    void computesALayoutBeyondFourGibibytesWithoutCreatingTheFile() {
        long billion = 1L << 30;
        SafetensorsLayout layout = SafetensorsLayout.of(List.of(
                new TensorSpec("a", Dtype.F32, new long[] {billion}),
                new TensorSpec("b", Dtype.F64, new long[] {billion, 2}),
                new TensorSpec("c", Dtype.BF16, new long[] {3})), Map.of());

        assertThat(layout.size()).isEqualTo(layout.dataStart() + 4 * billion + 16 * billion + 6);
        assertThat(layout.position("b", 0)).isEqualTo(layout.dataStart() + 4 * billion);
        assertThat(layout.position("b", 2 * billion - 1)).isEqualTo(layout.dataStart() + 20 * billion - 8);
        assertThat(layout.position("c", 2)).isEqualTo(layout.size() - 2);
        assertThat(dir).isEmptyDirectory();
    }
}
