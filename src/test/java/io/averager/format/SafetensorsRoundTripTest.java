package io.averager.format;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {

    @TempDir
    Path dir;

    private static final List<TensorSpec> ALL_DTYPES = List.of(
            new TensorSpec("layer.weight", Dtype.F32, new long[] {2, 3}),
            new TensorSpec("half", Dtype.F16, new long[] {4}),
            new TensorSpec("brain", Dtype.BF16, new long[] {3, 1}),
            new TensorSpec("scalar", Dtype.F64, new long[] {}),
            new TensorSpec("steps", Dtype.I64, new long[] {2}),
            new TensorSpec("empty", Dtype.I32, new long[] {0, 5}),
            new TensorSpec("shorts", Dtype.I16, new long[] {3}),
            new TensorSpec("bytes", Dtype.I8, new long[] {5}),
            new TensorSpec("pixels", Dtype.U8, new long[] {2, 2}),
            new TensorSpec("mask", Dtype.BOOL, new long[] {3}));

    private static Map<String, byte[]> randomContents(List<TensorSpec> tensors, long seed) {
        Random random = new Random(seed);
        Map<String, byte[]> contents = new LinkedHashMap<>();
        for (TensorSpec t : tensors) {
            byte[] bytes = new byte[(int) t.byteSize()];
            random.nextBytes(bytes);
            if (t.dtype() == Dtype.BOOL) {
                for (int i = 0; i < bytes.length; i++) {
                    bytes[i] = (byte) (bytes[i] & 1);
                }
            }
            contents.put(t.name(), bytes);
        }
        return contents;
    }

    @Test
    void roundTripsEveryDtypeIncludingAScalarAndAZeroSizeTensor() throws IOException {
        Map<String, byte[]> contents = randomContents(ALL_DTYPES, 1);
        Path file = dir.resolve("all.safetensors");
        SafetensorsLayout layout = SafetensorsLayout.of(ALL_DTYPES, Map.of());
        try (SafetensorsWriter writer = SafetensorsWriter.create(file, layout)) {
            for (TensorSpec t : ALL_DTYPES) {
                writer.write(t.name(), 0, ByteBuffer.wrap(contents.get(t.name())));
            }
        }
        assertThat(Files.size(file)).isEqualTo(layout.size());

        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertThat(reader.dataStart()).isEqualTo(layout.dataStart());
            assertThat(reader.tensors()).hasSameSizeAs(ALL_DTYPES);
            for (int i = 0; i < ALL_DTYPES.size(); i++) {
                TensorSpec expected = ALL_DTYPES.get(i);
                TensorSpec actual = reader.tensors().get(i);
                assertThat(actual.name()).isEqualTo(expected.name());
                assertThat(actual.dtype()).isEqualTo(expected.dtype());
                assertThat(actual.shape()).containsExactly(expected.shape());
                ByteBuffer read = reader.read(expected.name(), 0, (int) expected.numel());
                assertThat(read.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
                assertThat(bytes(read)).as(expected.name()).containsExactly(contents.get(expected.name()));
            }
        }
    }

    @Test
    void assemblesChunksWrittenOutOfOrderAcrossTensors() throws IOException {
        List<TensorSpec> tensors = List.of(new TensorSpec("a", Dtype.F32, new long[] {10, 100}),
                new TensorSpec("b", Dtype.F16, new long[] {999}));
        Map<String, byte[]> contents = randomContents(tensors, 2);
        record Chunk(String tensor, int element, int count) {
        }
        List<Chunk> chunks = new ArrayList<>();
        for (TensorSpec t : tensors) {
            for (int e = 0; e < t.numel(); e += 64) {
                chunks.add(new Chunk(t.name(), e, (int) Math.min(64, t.numel() - e)));
            }
        }
        Collections.shuffle(chunks, new Random(3));
        Path file = dir.resolve("chunks.safetensors");
        try (SafetensorsWriter writer = SafetensorsWriter.create(file, SafetensorsLayout.of(tensors, Map.of()))) {
            for (Chunk c : chunks) {
                int size = tensors.get(c.tensor().equals("a") ? 0 : 1).dtype().size();
                writer.write(c.tensor(), c.element(),
                        ByteBuffer.wrap(contents.get(c.tensor()), c.element() * size, c.count() * size));
            }
            writer.force();
        }
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertThat(bytes(reader.read("a", 0, 1000))).containsExactly(contents.get("a"));
            assertThat(bytes(reader.read("b", 0, 999))).containsExactly(contents.get("b"));
            assertThat(bytes(reader.read("b", 990, 9)))
                    .containsExactly(Arrays.copyOfRange(contents.get("b"), 1980, 1998));
        }
    }

    @Test
    void writeLeavesTheCallersBufferPositionAlone() throws IOException {
        List<TensorSpec> tensors = List.of(new TensorSpec("a", Dtype.I32, new long[] {4}));
        ByteBuffer data = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
        data.putInt(-7).putInt(1).putInt(2).putInt(3).putInt(4).position(4);
        try (SafetensorsWriter writer = SafetensorsWriter.create(dir.resolve("a.safetensors"),
                SafetensorsLayout.of(tensors, Map.of()))) {
            writer.write("a", 0, data);
        }
        assertThat(data.position()).isEqualTo(4);
        try (SafetensorsReader reader = SafetensorsReader.open(dir.resolve("a.safetensors"))) {
            ByteBuffer read = reader.read("a", 1, 3);
            assertThat(new int[] {read.getInt(), read.getInt(), read.getInt()}).containsExactly(2, 3, 4);
        }
    }

    @Test
    void metadataRoundTripsInOrderAndIsEmptyWhenAbsent() throws IOException {
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("run", "run-ä");
        metadata.put("profile", "ema-0.999");
        metadata.put("step", "12000");
        List<TensorSpec> tensors = List.of(new TensorSpec("x", Dtype.U8, new long[] {1}));
        Path with = dir.resolve("with.safetensors");
        Path without = dir.resolve("without.safetensors");
        SafetensorsWriter.create(with, SafetensorsLayout.of(tensors, metadata)).close();
        SafetensorsWriter.create(without, SafetensorsLayout.of(tensors, Map.of())).close();
        try (SafetensorsReader a = SafetensorsReader.open(with); SafetensorsReader b = SafetensorsReader.open(without)) {
            assertThat(a.metadata()).containsExactlyEntriesOf(metadata);
            assertThat(b.metadata()).isEmpty();
        }
    }

    @Test
    void rejectsWritesOutsideTheTensorNamingTensorOffsetLengthAndSize() throws IOException {
        List<TensorSpec> tensors = List.of(new TensorSpec("w", Dtype.F32, new long[] {2, 2}),
                new TensorSpec("v", Dtype.F32, new long[] {1}));
        try (SafetensorsWriter writer = SafetensorsWriter.create(dir.resolve("w.safetensors"),
                SafetensorsLayout.of(tensors, Map.of()))) {
            assertThatThrownBy(() -> writer.write("w", 3, ByteBuffer.allocate(8)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContainingAll("tensor w", "offset 3", "8 bytes", "4 elements", "16 bytes");
            assertThatThrownBy(() -> writer.write("w", -1, ByteBuffer.allocate(4)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("offset -1");
            assertThatThrownBy(() -> writer.write("w", 0, ByteBuffer.allocate(6)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContainingAll("tensor w", "6 bytes", "whole number");
            assertThatThrownBy(() -> writer.write("u", 0, ByteBuffer.allocate(4)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Unknown tensor u");
        }
    }

    @Test
    void rejectsReadsOutsideTheTensor() throws IOException {
        Path file = dir.resolve("r.safetensors");
        List<TensorSpec> tensors = List.of(new TensorSpec("w", Dtype.I16, new long[] {5}));
        SafetensorsWriter.create(file, SafetensorsLayout.of(tensors, Map.of())).close();
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertThat(reader.read("w", 5, 0).remaining()).isZero();
            assertThatThrownBy(() -> reader.read("w", 4, 2))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContainingAll("2 elements", "offset 4", "tensor w", "5 elements");
            assertThatThrownBy(() -> reader.read("x", 0, 1)).hasMessageContaining("Unknown tensor x");
        }
    }

    @Test
    void servesConcurrentReads() throws Exception {
        List<TensorSpec> tensors = List.of(new TensorSpec("a", Dtype.I64, new long[] {4096}));
        Path file = dir.resolve("c.safetensors");
        try (SafetensorsWriter writer = SafetensorsWriter.create(file, SafetensorsLayout.of(tensors, Map.of()))) {
            ByteBuffer data = ByteBuffer.allocate(4096 * 8).order(ByteOrder.LITTLE_ENDIAN);
            for (long i = 0; i < 4096; i++) {
                data.putLong(i * 31);
            }
            writer.write("a", 0, data.flip());
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int t = 0; t < 64; t++) {
                int start = t * 64;
                results.add(pool.submit(() -> {
                    ByteBuffer read = reader.read("a", start, 64);
                    for (int i = 0; i < 64; i++) {
                        if (read.getLong() != (start + i) * 31L) {
                            return false;
                        }
                    }
                    return true;
                }));
            }
            for (Future<Boolean> result : results) {
                assertThat(result.get()).isTrue();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static byte[] bytes(ByteBuffer buf) {
        byte[] out = new byte[buf.remaining()];
        buf.duplicate().get(out);
        return out;
    }
}
