package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.AveragerConfig;
import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.format.SafetensorsReader;
import io.averager.publish.SnapshotPublisher;
import io.averager.publish.TensorSource;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SnapshotMode;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model larger than the service's whole heap goes through: the service runs as its own JVM
 * with -Xmx128m and averages two snapshots of a 256 MiB tensor into a checkpoint file, then
 * serves the live EMA over HTTP, equal to that file. Were any stage to hold a snapshot,
 * checkpoint or download in the heap, it would fail with OutOfMemoryError.
 */
@Timeout(value = 7, unit = TimeUnit.MINUTES)
class LargeModelTest {

    private static final long ELEMENTS = 64L << 20;
    private static final String HEAP = "-Xmx128m";

    @TempDir
    Path dir;

    @Test
    void modelLargerThanTheServiceHeapIsAveraged() throws Exception {
        String name = SharedKafka.unique("large");
        Properties config = new Properties();
        config.put("bootstrap.servers", SharedKafka.bootstrapServers());
        config.put("application.id", name);
        config.put("state.dir", dir.resolve("state").toString());
        config.put(AveragerConfig.CHECKPOINT_STORE_CONFIG, dir.resolve("checkpoints").toString());
        config.put(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG, name + "-snapshots");
        config.put(AveragerConfig.TOPIC_CHECKPOINTS_CONFIG, name + "-checkpoints");
        config.put(AveragerConfig.TOPIC_MANIFESTS_CONFIG, name + "-manifests");
        config.put(AveragerConfig.TOPIC_DEAD_LETTERS_CONFIG, name + "-dead-letters");
        config.put(AveragerConfig.TOPIC_PARTITIONS_CONFIG, "1");
        config.put("averager.profile.ema.decay", "0.5");
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        config.put(AveragerConfig.HTTP_PORT_CONFIG, Integer.toString(port));
        config.put(AveragerConfig.HTTP_ADVERTISED_CONFIG, "127.0.0.1");
        try (ServiceProcess service = new ServiceProcess(dir, config, HEAP, "-XX:+ExitOnOutOfMemoryError").start()) {
            Map<String, Object> producer = Map.of("bootstrap.servers", SharedKafka.bootstrapServers());
            try (SnapshotPublisher publisher = new SnapshotPublisher(producer, name + "-snapshots", SnapshotPublisher.DEFAULT_GRID)) {
                publisher.publish("big-run", 1, SnapshotMode.UPDATE, false, Map.of(), List.of(generated(1)));
                publisher.publish("big-run", 2, SnapshotMode.UPDATE, true, Map.of(), List.of(generated(2)));
            }
            CheckpointManifest manifest = awaitManifest(name + "-manifests", service);
            Path file = Path.of(URI.create(manifest.getUri()));
            try (SafetensorsReader r = SafetensorsReader.open(file)) {
                assertThat(r.tensors()).containsExactly(new TensorSpec("w", Dtype.F32, new long[] {ELEMENTS}));
                for (long i = 0; i < ELEMENTS; i += 1_000_003) {
                    float got = r.read("w", i, 1).getFloat(0);
                    float want = 0.5f * value(i, 1) + 0.5f * value(i, 2);
                    assertThat(got).as("w[%d]", i).isEqualTo(want);
                }
            }
            Path download = dir.resolve("live.safetensors");
            HttpResponse<Path> live = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/runs/big-run/ema?profile=ema")).build(),
                    HttpResponse.BodyHandlers.ofFile(download));
            assertThat(live.statusCode()).isEqualTo(200);
            assertThat(Files.size(download)).isEqualTo(manifest.getSize());
            assertThat(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(download))))
                    .as("the live EMA against the checkpoint of its step").isEqualTo(manifest.getSha256());
            service.assertAlive();
        }
    }

    private static float value(long i, long step) {
        return (i % 1000) * 0.001f + step;
    }

    /** One F32 tensor of {@link #ELEMENTS} elements, made chunk by chunk, never whole. */
    private static TensorSource generated(long step) {
        return TensorSource.ofFloats("w", new long[] {ELEMENTS}, i -> value(i, step));
    }

    private static CheckpointManifest awaitManifest(String topic, ServiceProcess service) throws InterruptedException {
        Map<String, Object> props = Map.of("bootstrap.servers", SharedKafka.bootstrapServers(),
                "isolation.level", "read_committed", "auto.offset.reset", "earliest", "group.id", topic + "-reader");
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            // The consumer's poll waits for records itself: no pause between turns.
            return Await.waitingFor("a checkpoint manifest on " + topic, Duration.ofMinutes(5)).every(Duration.ZERO)
                    .whileAlive(service::assertAlive).detail(() -> "service log:\n" + service.logTail(40))
                    .present(() -> {
                        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofSeconds(1))) {
                            return Optional.of(WireCodec.decode(r.value(), CheckpointManifest.class));
                        }
                        return Optional.empty();
                    });
        }
    }
}
