package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.kernel.JavaKernel;
import io.averager.sink.FileDigest;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint larger than 2 GiB, sixteen times the uploader's heap: the S3 store runs in its own
 * JVM with -Xmx128m and uploads the file in parts. Were any stage to hold the file, or a part
 * array indexed by int bytes, in the heap, the upload would fail; the stored object must have the
 * file's size and SHA-256.
 */
@Timeout(value = 7, unit = TimeUnit.MINUTES)
class S3LargeObjectTest {

    private static final String BUCKET = "large";
    private static final String KEY = "runs/big/ema/step-1.safetensors";
    /** Past 2 GiB, and not a multiple of the part size, so the last part is short. */
    private static final long SIZE = (2L << 30) + (100L << 20) + 12_345;
    private static final String HEAP = "-Xmx128m";

    @TempDir
    Path dir;

    @Test
    void fileLargerThanTwoGibIsUploadedByAJvmWithA128MibHeap() throws Exception {
        Path file = sparseFileWithMarkers(dir.resolve("checkpoint.safetensors"), SIZE);
        String sha = FileDigest.sha256(file);
        try (S3Server server = new S3Server(dir.resolve("s3")).start()) {
            server.createBucket(BUCKET);
            Path log = dir.resolve("put.log");
            List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    HEAP, "-XX:+ExitOnOutOfMemoryError", "--add-modules", JavaKernel.VECTOR_MODULE,
                    "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
                    S3PutMain.class.getName(), server.endpoint().toString(), S3Server.ACCESS_KEY, S3Server.SECRET_KEY,
                    "s3://" + BUCKET, KEY, file.toString());
            Process put = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            boolean done = put.waitFor(5, TimeUnit.MINUTES);
            if (!done) {
                put.destroyForcibly();
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            assertThat(done).as("upload finished within 5 minutes; output:%n%s", output).isTrue();
            assertThat(put.exitValue()).as("exit status; output:%n%s", output).isZero();
            assertThat(output).contains("s3://" + BUCKET + "/" + KEY);

            assertThat(server.sizeAndSha256(BUCKET, KEY)).isEqualTo(SIZE + " " + sha);
            assertThat(server.multipartUploads(BUCKET)).isEmpty();
        }
    }

    /**
     * A sparse file (no disk blocks for its zeros) with its own offset written every MiB, so
     * that parts stored out of order, twice or not at all change the SHA-256.
     */
    private static Path sparseFileWithMarkers(Path file, long size) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
            for (long offset = 0; offset + 8 <= size; offset += 1 << 20) {
                f.seek(offset);
                f.writeLong(offset);
            }
            f.seek(size - 8);
            f.writeLong(size);
        }
        return file;
    }
}
