package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.AveragerException;
import io.averager.config.AveragerConfig;
import io.averager.publish.SnapshotPublisher;
import io.averager.sink.FileDigest;
import io.averager.sink.S3Location;
import io.averager.sink.S3ObjectStore;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SnapshotMode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The S3 store when the store fails: a refused part, an endpoint that goes away mid-upload and
 * comes back, and the sink waiting for a store that is down.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class S3OutageTest {

    private static final String BUCKET = "checkpoints";
    private static final String KEY = "runs/r/ema/step-1.safetensors";

    @TempDir
    Path dir;

    @Test
    void aRefusedPartAbortsTheUploadSoNoObjectOrPartsRemain() throws Exception {
        try (S3Server server = new S3Server(dir.resolve("s3")).start()) {
            server.createBucket(BUCKET);
            server.onPart(n -> {
                if (n == 2) {
                    throw new IllegalStateException("injected failure of part 2");
                }
            });
            Path file = file(3 * S3ObjectStore.MIN_PART_SIZE);
            try (S3ObjectStore store = S3ObjectStore.open(S3Location.parse("s3://" + BUCKET), server.s3Settings())) {
                assertThatThrownBy(() -> store.put(KEY, file)).isInstanceOf(AveragerException.class)
                        .hasMessageContaining("bucket " + BUCKET).hasMessageContaining(server.endpoint().toString());
            }
            assertThat(server.exists(BUCKET, KEY)).as("object after the failed put").isFalse();
            assertThat(server.multipartUploads(BUCKET)).as("uploads after the failed put").isEmpty();
            assertThat(file).as("the spool file, kept for a retry").exists();
        }
    }

    @Test
    void anEndpointThatGoesDownMidUploadLeavesNoObjectAndARetrySucceeds() throws Exception {
        try (S3Server server = new S3Server(dir.resolve("s3")).start()) {
            server.createBucket(BUCKET);
            CountDownLatch thirdPart = new CountDownLatch(1);
            CountDownLatch stopped = new CountDownLatch(1);
            server.onPart(n -> {
                if (n == 3 && thirdPart.getCount() > 0) {
                    thirdPart.countDown();
                    stopped.await(30, TimeUnit.SECONDS);
                    throw new IllegalStateException("server stopped");
                }
            });
            Path file = file(5 * S3ObjectStore.MIN_PART_SIZE + 1);
            String sha = FileDigest.sha256(file);
            try (S3ObjectStore store = S3ObjectStore.open(S3Location.parse("s3://" + BUCKET), server.s3Settings())) {
                Thread put = new Thread(() -> {
                    assertThatThrownBy(() -> store.put(KEY, file)).isInstanceOf(AveragerException.class)
                            .hasMessageContaining(server.endpoint().toString());
                });
                Throwable[] failure = new Throwable[1];
                put.setUncaughtExceptionHandler((t, e) -> failure[0] = e);
                put.start();
                assertThat(thirdPart.await(30, TimeUnit.SECONDS)).as("third part reached").isTrue();
                server.stop();
                stopped.countDown();
                put.join(60_000);
                assertThat(put.isAlive()).as("put still running a minute after the store went down").isFalse();
                assertThat(failure[0]).as("how the put failed").isNull();

                server.start();
                assertThat(server.exists(BUCKET, KEY)).as("object after the failed put").isFalse();

                store.put(KEY, file);
                assertThat(server.sizeAndSha256(BUCKET, KEY)).isEqualTo((5 * S3ObjectStore.MIN_PART_SIZE + 1) + " " + sha);
                assertThat(server.multipartUploads(BUCKET)).as("uploads after the retry").isEmpty();
            }
        }
    }

    @Test
    void theSinkStoresTheCheckpointOnceTheStoreIsBack() throws Exception {
        String run = SharedKafka.unique("s3-outage");
        try (S3Server server = new S3Server(dir.resolve("s3")).start();
             ServiceUnderTest service = new ServiceUnderTest(dir)) {
            server.createBucket(BUCKET);
            server.stop();
            service.settings.putAll(server.settings());
            service.settings.put(AveragerConfig.CHECKPOINT_STORE_CONFIG, "s3://" + BUCKET + "/ema");
            service.settings.put("averager.profile.ema.decay", "0.9");
            service.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "20");
            service.start();
            try (SnapshotPublisher publisher = new SnapshotPublisher(
                    Map.of("bootstrap.servers", SharedKafka.bootstrapServers()), service.snapshotsTopic(), 1024)) {
                for (long step = 10; step <= 40; step += 10) {
                    Map<String, ByteBuffer> weights = TestModel.weights(step);
                    publisher.publish(run, step, SnapshotMode.UPDATE, step == 40, Map.of(), TestModel.sources(weights));
                }
            }
            service.awaitCheckpointCommit(run, 40, Duration.ofSeconds(60));
            // Two failed attempts: the sink had a whole file and tried to store it, and since it
            // works on one thread, whatever it made of the first attempt has happened by the second.
            Await.waitingFor("the sink to fail to store a checkpoint twice", Duration.ofSeconds(60))
                    .whileAlive(service::assertAlive).until(() -> service.sinkRetries() >= 2);
            assertThat(service.manifestsWaiting()).as("manifests while the store is down").isZero();
            assertThat(service.service().state()).isEqualTo(KafkaStreams.State.RUNNING);

            server.start();
            for (long step : new long[] {20, 40}) {
                CheckpointManifest m = service.awaitCheckpoints(run, step, List.of("ema"), Duration.ofSeconds(90)).get("ema");
                String key = "ema/runs/" + run + "/ema/step-" + step + ".safetensors";
                assertThat(m.getUri()).isEqualTo("s3://" + BUCKET + "/" + key);
                assertThat(server.sizeAndSha256(BUCKET, key)).isEqualTo(m.getSize() + " " + m.getSha256());
            }
            assertThat(server.multipartUploads(BUCKET)).isEmpty();
        }
    }

    /** A file of {@code size} bytes whose every 4 KiB block differs. */
    private Path file(long size) throws IOException {
        Path file = dir.resolve("spool-" + size);
        ByteBuffer block = ByteBuffer.allocate(4096);
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long offset = 0; offset < size; offset += block.capacity()) {
                block.clear();
                while (block.hasRemaining()) {
                    block.putLong(offset);
                }
                block.flip().limit((int) Math.min(block.capacity(), size - offset));
                out.write(block);
            }
        }
        return file;
    }
}
