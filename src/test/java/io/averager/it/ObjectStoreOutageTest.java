package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.AveragerConfig;
import io.averager.metrics.RunMeters;
import io.averager.publish.SnapshotPublisher;
import io.averager.wire.avro.SnapshotMode;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * While the object store cannot take files, the sink retries with backoff, the EMA keeps
 * advancing, and no manifest is published; once the store is back, every checkpoint arrives
 * complete and correct.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ObjectStoreOutageTest {

    @TempDir
    Path dir;

    @Test
    void checkpointsWaitForTheStoreAndNoneIsLost() throws Exception {
        String run = SharedKafka.unique("outage");
        Path store = Files.createDirectories(dir.resolve("checkpoints"));
        // A file where the store needs a directory: every write into it fails, as on a full or
        // read-only volume (permissions would not stop root).
        Path blocker = Files.writeString(store.resolve("runs"), "not a directory");
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            service.settings.put("averager.profile.ema.decay", "0.9");
            service.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "20");
            service.start();
            ExpectedEma expected = new ExpectedEma(0.9, 0);
            try (SnapshotPublisher publisher = new SnapshotPublisher(
                    Map.of("bootstrap.servers", SharedKafka.bootstrapServers()), service.snapshotsTopic(), 1024)) {
                for (long step = 10; step <= 100; step += 10) {
                    Map<String, ByteBuffer> weights = TestModel.weights(step);
                    publisher.publish(run, step, SnapshotMode.UPDATE, step == 100, Map.of(), TestModel.sources(weights));
                    expected.add(weights, step);
                }
            }

            service.awaitCheckpointCommit(run, 100, Duration.ofSeconds(60));
            // Two failed attempts: the sink had a whole file and tried to store it, and since it
            // works on one thread, whatever it made of the first attempt has happened by the second.
            Await.waitingFor("the sink to fail to store a checkpoint twice", Duration.ofSeconds(60))
                    .whileAlive(service::assertAlive).until(() -> service.sinkRetries() >= 2);
            assertThat(service.manifestsWaiting()).as("manifests while the store is down").isZero();
            assertThat(service.service().state()).isEqualTo(KafkaStreams.State.RUNNING);
            assertThat(service.service().failure()).isNotDone();
            assertThat(service.service().meters().get(RunMeters.SINK_RETRIES).counter().count()).as("sink retries counted").isPositive();

            Files.delete(blocker);
            for (long step = 20; step <= 100; step += 20) {
                service.awaitCheckpoints(run, step, List.of("ema"), Duration.ofSeconds(90));
            }
            Path last = dir.resolve("checkpoints/runs/" + run + "/ema/step-100.safetensors");
            PipelineTest.assertMatches(last, expected, 0.0);
        }
    }
}
