package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.AveragerConfig;
import io.averager.metrics.RunMeters;
import io.averager.publish.SnapshotPublisher;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.SnapshotMode;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * While the object store cannot take files, the sink retries with backoff, the EMA keeps
 * advancing, and no manifest is published; once the store is back, every checkpoint arrives
 * complete and correct.
 */
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

            awaitCheckpointCommit(service.name + "-checkpoints", run, 100);
            Thread.sleep(2_000);
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

    /** Waits until the topology has emitted the checkpoint of {@code step}: the EMA advanced past it. */
    private static void awaitCheckpointCommit(String topic, String run, long step) {
        Map<String, Object> props = Map.of("bootstrap.servers", SharedKafka.bootstrapServers(),
                "isolation.level", "read_committed", "auto.offset.reset", "earliest",
                "group.id", SharedKafka.unique("reader"));
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (WireCodec.decode(r.value()) instanceof CheckpointCommit c && c.getRun().equals(run) && c.getStep() == step) {
                        return;
                    }
                }
            }
        }
        throw new AssertionError("The topology emitted no checkpoint of step " + step + " within 60 s");
    }
}
