package io.averager.format;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsReaderValidationTest {

    @TempDir
    Path dir;

    private Path file(String json, int dataBytes) throws IOException {
        return RawSafetensors.write(dir.resolve("bad.safetensors"), json, dataBytes);
    }

    private static void assertRejected(Path file, String... fragments) {
        assertThatThrownBy(() -> SafetensorsReader.open(file).close())
                .isInstanceOf(IOException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContainingAll(fragments);
    }

    @Test
    void acceptsAWellFormedHandWrittenFile() throws IOException {
        Path file = file("{\"b\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                + "\"a\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}}", 12);
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertThat(reader.tensors()).extracting(t -> t.name()).containsExactly("a", "b");
            assertThat(reader.metadata()).isEmpty();
        }
    }

    @Test
    void rejectsAFileTooShortForTheLengthPrefix() throws IOException {
        Path file = dir.resolve("short.safetensors");
        Files.write(file, new byte[] {1, 0, 0});
        assertRejected(file, "too short", "3 bytes");
    }

    @Test
    void rejectsAHeaderLengthLargerThanTheFile() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("len.safetensors"), 1000, "{}".getBytes(), 0);
        assertRejected(file, "header of 1000 bytes", "larger than the 2 bytes");
    }

    @Test
    void rejectsAHeaderLengthOverOneHundredMebibytes() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("huge.safetensors"), 200L << 20, "{}".getBytes(), 0);
        assertRejected(file, "header of 209715200 bytes", "more than the 104857600 bytes accepted");
    }

    @Test
    void rejectsAHeaderLengthThatIsNegativeAsASignedLong() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("neg.safetensors"), -1L, "{}".getBytes(), 0);
        assertRejected(file, "18446744073709551615 bytes");
    }

    @Test
    void rejectsAHeaderThatIsNotJson() throws IOException {
        assertRejected(file("{\"a\": {\"dtype\": ", 0), "not valid JSON");
    }

    @Test
    void rejectsTrailingGarbageAfterTheJson() throws IOException {
        assertRejected(file("{} x", 0), "not valid JSON");
    }

    @Test
    void rejectsAHeaderThatIsNotAJsonObject() throws IOException {
        assertRejected(file("[1, 2]", 0), "not a JSON object");
    }

    @Test
    void rejectsTwoTensorsOfTheSameName() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                + "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2), "not valid JSON", "Duplicate field 'a'");
    }

    @Test
    void rejectsADtypeItDoesNotSupport() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2),
                "tensor w", "dtype U16");
    }

    @Test
    void rejectsAMissingShape() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "tensor w", "shape");
    }

    @Test
    void rejectsANegativeDimension() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4),
                "tensor w", "shape holds -1");
    }

    @Test
    void rejectsOffsetsThatDoNotMatchShapeTimesDtypeSize() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20),
                "tensor w", "span 20 bytes", "[2, 3] of F32 needs 24");
    }

    @Test
    void rejectsOverlappingTensors() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12),
                "tensor b", "overlaps tensor a");
    }

    @Test
    void rejectsAHoleBetweenTensors() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12),
                "hole of 4 bytes", "before tensor b");
    }

    @Test
    void rejectsDataThatDoesNotStartAtOffsetZero() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
                "hole of 4 bytes at data offset 0", "tensor a");
    }

    @Test
    void rejectsDataPastTheEndOfTheFile() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 10),
                "tensor a", "past the end of the file");
    }

    @Test
    void rejectsBytesAfterTheLastTensor() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6),
                "2 bytes after the end of the last tensor a");
    }

    @Test
    void rejectsMetadataValuesThatAreNotStrings() throws IOException {
        assertRejected(file("{\"__metadata__\":{\"step\":3}}", 0), "metadata key step");
    }
}
