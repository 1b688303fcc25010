package io.averager.posthoc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.AveragerException;
import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.format.SafetensorsLayout;
import io.averager.format.SafetensorsReader;
import io.averager.format.SafetensorsWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The streamed weighted sum of checkpoint files, chunk by chunk, against sums computed in the test. */
class WeightedSumTest {

    private static final List<TensorSpec> TENSORS = List.of(
            new TensorSpec("w", Dtype.F32, new long[] {3, 7}),
            new TensorSpec("v", Dtype.F64, new long[] {5}),
            new TensorSpec("count", Dtype.I64, new long[0]));

    @TempDir
    Path dir;

    @Test
    void sumsFloatingTensorsInDoubleAndCopiesIntegersFromTheChosenSource() throws IOException {
        double[] c = {0.7, -0.2, 0.5};
        List<WeightedSum.Source> sources = List.of(
                new WeightedSum.Source("a", write("a", 1), c[0]),
                new WeightedSum.Source("b", write("b", 2), c[1]),
                new WeightedSum.Source("c", write("c", 3), c[2]));
        Path out = dir.resolve("sum.safetensors");
        // Chunks of 4 elements: 21 = 5 chunks + a tail of 1, and 5 = 1 chunk + 1.
        WeightedSum.write(sources, 1, Map.of("step", "9"), out, 4);
        try (SafetensorsReader r = SafetensorsReader.open(out)) {
            assertThat(r.tensors()).isEqualTo(TENSORS);
            assertThat(r.metadata()).containsEntry("step", "9");
            ByteBuffer w = r.read("w", 0, 21);
            for (int i = 0; i < 21; i++) {
                double expected = c[0] * (float) value(1, i) + c[1] * (float) value(2, i) + c[2] * (float) value(3, i);
                assertThat(w.getFloat(i * 4)).as("w[%d]", i).isEqualTo((float) expected);
            }
            ByteBuffer v = r.read("v", 0, 5);
            for (int i = 0; i < 5; i++) {
                double expected = c[0] * value(1, i) + c[1] * value(2, i) + c[2] * value(3, i);
                assertThat(v.getDouble(i * 8)).as("v[%d]", i).isEqualTo(expected);
            }
            assertThat(r.read("count", 0, 1).getLong(0)).as("copied from source 1").isEqualTo(200);
        }
        assertThat(dir.resolve("sum.safetensors.part")).doesNotExist();
    }

    @Test
    void refusesCheckpointsOfDifferentModelsNamingBoth() throws IOException {
        Path other = dir.resolve("other.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(other,
                SafetensorsLayout.of(List.of(new TensorSpec("w", Dtype.F32, new long[] {3, 6})), Map.of()))) {
            w.write("w", 0, ByteBuffer.allocate(18 * 4));
        }
        List<WeightedSum.Source> sources = List.of(
                new WeightedSum.Source("run r profile p step 10", write("a", 1), 0.5),
                new WeightedSum.Source("run r profile q step 20", other, 0.5));
        Path out = dir.resolve("never.safetensors");
        assertThatThrownBy(() -> WeightedSum.write(sources, 0, Map.of(), out, 4))
                .isInstanceOf(AveragerException.class)
                .hasMessage("Checkpoints run r profile p step 10 and run r profile q step 20 differ at tensor 1:"
                        + " w F32 [3, 7] vs w F32 [3, 6]; a weighted sum needs checkpoints of the same model");
        assertThat(out).doesNotExist();
    }

    private static double value(int source, int i) {
        return Math.sin(source * 1.3 + i * 0.7) * (1 + source);
    }

    private Path write(String name, int source) throws IOException {
        Path file = dir.resolve(name + ".safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(file, SafetensorsLayout.of(TENSORS, Map.of()))) {
            ByteBuffer f = ByteBuffer.allocate(21 * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < 21; i++) {
                f.putFloat((float) value(source, i));
            }
            w.write("w", 0, f.flip());
            ByteBuffer d = ByteBuffer.allocate(5 * 8).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < 5; i++) {
                d.putDouble(value(source, i));
            }
            w.write("v", 0, d.flip());
            w.write("count", 0, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, source * 100L));
        }
        return file;
    }
}
