package io.averager.format;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PtWriterTest {

    @TempDir
    Path dir;

    private static byte[] entry(ZipFile zip, String name) throws IOException {
        try (InputStream in = zip.getInputStream(zip.getEntry(name))) {
            return in.readAllBytes();
        }
    }

    private static byte[] tensorBytes(SafetensorsReader source, TensorSpec spec) throws IOException {
        ByteBuffer b = source.read(spec.name(), 0, Math.toIntExact(spec.numel()));
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return bytes;
    }

    @Test
    void archiveHoldsThePickleTheByteOrderEveryTensorAndTheVersionInThatOrder() throws IOException {
        List<TensorSpec> specs = List.of(
                new TensorSpec("w", Dtype.F32, new long[] {2, 3}),
                new TensorSpec("n", Dtype.I64, new long[0]),
                new TensorSpec("e", Dtype.F64, new long[] {0}),
                new TensorSpec("m", Dtype.BOOL, new long[] {3}));
        Path pt = dir.resolve("step-9.pt");
        try (SafetensorsReader source = SafetensorsReader.open(PtSamples.write(dir.resolve("in.safetensors"), specs))) {
            PtWriter.write(source, pt, 9, "run-1", "ema");

            try (ZipFile zip = new ZipFile(pt.toFile())) {
                assertThat(Collections.list(zip.entries())).extracting(ZipEntry::getName).containsExactly(
                        "archive/data.pkl", "archive/byteorder", "archive/data/0", "archive/data/1",
                        "archive/data/2", "archive/data/3", "archive/version");
                assertThat(entry(zip, "archive/data.pkl")).isEqualTo(PtPickle.checkpoint(specs, 9, "run-1", "ema"));
                assertThat(new String(entry(zip, "archive/byteorder"), StandardCharsets.US_ASCII)).isEqualTo("little");
                assertThat(new String(entry(zip, "archive/version"), StandardCharsets.US_ASCII)).isEqualTo("3\n");
                for (int i = 0; i < specs.size(); i++) {
                    assertThat(entry(zip, "archive/data/" + i)).as(specs.get(i).name())
                            .isEqualTo(tensorBytes(source, specs.get(i)));
                }
            }
        }
        assertThat(PtZipTest.dataOffsets(pt, 7)).allSatisfy(offset -> assertThat(offset % 64).isZero());
    }

    @Test
    void copiesATensorSpanningSeveralChunksWithTheRightCrc() throws IOException {
        List<TensorSpec> specs = List.of(
                new TensorSpec("big", Dtype.F32, new long[] {700_001}),
                new TensorSpec("after", Dtype.I8, new long[] {3}));
        Path pt = dir.resolve("big.pt");
        try (SafetensorsReader source = SafetensorsReader.open(PtSamples.write(dir.resolve("big.safetensors"), specs))) {
            PtWriter.write(source, pt, 1, "r", "p");

            try (ZipFile zip = new ZipFile(pt.toFile())) {
                List<String> names = new ArrayList<>();
                Collections.list(zip.entries()).forEach(e -> names.add(e.getName()));
                assertThat(names).contains("archive/data/0", "archive/data/1");
                CRC32 crc = new CRC32();
                byte[] big = tensorBytes(source, specs.get(0));
                crc.update(big);
                assertThat(zip.getEntry("archive/data/0").getCrc()).isEqualTo(crc.getValue());
                assertThat(entry(zip, "archive/data/0")).isEqualTo(big);
                assertThat(entry(zip, "archive/data/1")).isEqualTo(tensorBytes(source, specs.get(1)));
            }
        }
    }
}
