package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.AveragerException;
import io.averager.sink.FileDigest;
import io.averager.sink.S3Location;
import io.averager.sink.S3ObjectStore;
import io.averager.sink.S3Settings;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The S3 object store against a real S3 API (s3proxy): puts, gets, and its errors. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class S3ObjectStoreTest {

    private static final String BUCKET = "checkpoints";

    @TempDir
    static Path serverDir;

    @TempDir
    Path dir;

    private static S3Server server;

    @BeforeAll
    @Timeout(value = 1, unit = TimeUnit.MINUTES)
    static void startServer() throws Exception {
        server = new S3Server(serverDir).start();
        server.createBucket(BUCKET);
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.close();
    }

    @Test
    void smallFileIsStoredBelowThePrefixAndReadsBackIdentical() throws Exception {
        Path file = randomFile("small", 1000);
        String sha = FileDigest.sha256(file);
        try (S3ObjectStore store = S3ObjectStore.open(S3Location.parse("s3://" + BUCKET + "/team/ema"), server.s3Settings())) {
            URI uri = store.put("runs/r1/ema/step-10.safetensors", file);

            assertThat(uri).hasToString("s3://" + BUCKET + "/team/ema/runs/r1/ema/step-10.safetensors");
            assertThat(file).as("the spool file, consumed").doesNotExist();
            assertThat(server.sizeAndSha256(BUCKET, "team/ema/runs/r1/ema/step-10.safetensors")).isEqualTo("1000 " + sha);
            Path back = dir.resolve("back");
            store.get(uri, back);
            assertThat(FileDigest.sha256(back)).isEqualTo(sha);
        }
    }

    @Test
    void fileLargerThanAPartIsUploadedInPartsAndLeavesNoUploadBehind() throws Exception {
        long size = 2 * S3ObjectStore.MIN_PART_SIZE + 12_345;
        Path file = randomFile("multi", size);
        String sha = FileDigest.sha256(file);
        int[] parts = new int[1];
        server.onPart(n -> parts[0] = Math.max(parts[0], n));
        try (S3ObjectStore store = S3ObjectStore.open(S3Location.parse("s3://" + BUCKET), server.s3Settings())) {
            URI uri = store.put("runs/r2/ema/step-20.safetensors", file);

            assertThat(parts[0]).as("parts uploaded").isEqualTo(3);
            assertThat(server.sizeAndSha256(BUCKET, "runs/r2/ema/step-20.safetensors")).isEqualTo(size + " " + sha);
            assertThat(server.multipartUploads(BUCKET)).isEmpty();
            Path back = dir.resolve("back");
            store.get(uri, back);
            assertThat(Files.size(back)).isEqualTo(size);
            assertThat(FileDigest.sha256(back)).isEqualTo(sha);
        } finally {
            server.onPart(n -> { });
        }
    }

    @Test
    void escapedRunIdsSurviveTheRoundTripThroughTheObjectUri() throws Exception {
        Path file = randomFile("escaped", 100);
        try (S3ObjectStore store = S3ObjectStore.open(S3Location.parse("s3://" + BUCKET), server.s3Settings())) {
            URI uri = store.put("runs/a%20b%2Fc/ema/step-1.safetensors", file);

            assertThat(S3Location.keyOf(uri)).isEqualTo("runs/a%20b%2Fc/ema/step-1.safetensors");
            assertThat(server.exists(BUCKET, "runs/a%20b%2Fc/ema/step-1.safetensors")).isTrue();
            Path back = dir.resolve("back");
            store.get(uri, back);
            assertThat(Files.size(back)).isEqualTo(100);
        }
    }

    @Test
    void wrongCredentialsFailWithAMessageNamingBucketAndEndpoint() throws Exception {
        Path file = randomFile("denied", 100);
        S3Settings wrong = new S3Settings(Optional.of(server.endpoint()), Optional.empty(), Optional.empty(),
                Optional.of(S3Server.ACCESS_KEY), Optional.of("not-the-secret"));
        try (S3ObjectStore store = S3ObjectStore.open(S3Location.parse("s3://" + BUCKET), wrong)) {
            assertThatThrownBy(() -> store.put("runs/r3/ema/step-1.safetensors", file))
                    .isInstanceOf(AveragerException.class)
                    .hasMessageContaining("bucket " + BUCKET)
                    .hasMessageContaining(server.endpoint().toString())
                    .hasMessageContaining("access denied")
                    .hasMessageContaining("averager.s3.access.key");
        }
        assertThat(file).as("the spool file, kept for a retry").exists();
        assertThat(server.exists(BUCKET, "runs/r3/ema/step-1.safetensors")).isFalse();
    }

    @Test
    void missingBucketIsNamedInTheError() throws Exception {
        Path file = randomFile("nobucket", 100);
        try (S3ObjectStore store = S3ObjectStore.open(S3Location.parse("s3://no-such-bucket/x"), server.s3Settings())) {
            assertThatThrownBy(() -> store.put("k", file))
                    .isInstanceOf(AveragerException.class)
                    .hasMessageContaining("bucket no-such-bucket at " + server.endpoint())
                    .hasMessageContaining("does not exist");
        }
    }

    @Test
    void readingAMissingObjectFailsAndLeavesNoFile() throws Exception {
        Path target = dir.resolve("missing");
        try (S3ObjectStore store = S3ObjectStore.open(S3Location.parse("s3://" + BUCKET), server.s3Settings())) {
            assertThatThrownBy(() -> store.get(URI.create("s3://" + BUCKET + "/no/such/key"), target))
                    .isInstanceOf(AveragerException.class)
                    .hasMessageContaining("s3://" + BUCKET + "/no/such/key")
                    .hasMessageContaining(server.endpoint().toString());
        }
        assertThat(target).doesNotExist();
    }

    /** A file of {@code size} pseudo-random bytes, written in blocks. */
    Path randomFile(String name, long size) throws IOException {
        Path file = dir.resolve(name);
        Random random = new Random(size);
        byte[] block = new byte[1 << 20];
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long written = 0; written < size; ) {
                random.nextBytes(block);
                int n = (int) Math.min(block.length, size - written);
                out.write(ByteBuffer.wrap(block, 0, n));
                written += n;
            }
        }
        return file;
    }
}
