package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.averager.config.AveragerConfig;
import io.averager.format.SafetensorsReader;
import io.averager.publish.SnapshotPublisher;
import io.averager.topology.TestSnapshot;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SnapshotMode;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runs API against the real broker: the live EMA download equals the checkpoint file of the
 * same step byte for byte, /runs and /runs/{run}/distance describe the run, the per-run meters
 * reach /metrics, and bad requests get a JSON error that says what was wrong.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class HttpApiTest {

    private static final long LAST_STEP = 100;

    @TempDir
    Path dir;

    @Test
    void servesTheLiveEmaTheRunsAndTheirDistances() throws Exception {
        // Slashes, spaces and a plus in the run id: all must survive percent-encoding.
        String run = SharedKafka.unique("team/run") + " a+b";
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            configure(service.settings);
            service.start();
            HttpApi api = new HttpApi(service.service().opsPort());
            api.awaitReady(Duration.ofSeconds(60));
            publish(service.snapshotsTopic(), run);
            Map<String, CheckpointManifest> last = service.awaitCheckpoints(run, LAST_STEP, List.of("ema", "fast"),
                    Duration.ofSeconds(60));
            String base = "/runs/" + HttpApi.segment(run);

            for (String profile : List.of("ema", "fast")) {
                HttpResponse<byte[]> ema = api.bytes(base + "/ema?profile=" + profile);
                assertThat(ema.statusCode()).isEqualTo(200);
                assertThat(ema.headers().firstValue("X-Averager-Step")).hasValue(Long.toString(LAST_STEP));
                byte[] checkpoint = Files.readAllBytes(Path.of(URI.create(last.get(profile).getUri())));
                assertThat(Arrays.equals(ema.body(), checkpoint)).as("download of profile %s (%d bytes) equals its"
                        + " checkpoint (%d bytes)", profile, ema.body().length, checkpoint.length).isTrue();
            }

            JsonNode runs = api.await("/runs", j -> j.path("runs").size() == 1
                    && j.path("runs").get(0).path("profiles").get(0).path("lastCheckpoint").path("step").asLong() == LAST_STEP
                    && j.path("runs").get(0).path("profiles").get(1).path("lastCheckpoint").path("step").asLong() == LAST_STEP,
                    Duration.ofSeconds(30));
            JsonNode r = runs.path("runs").get(0);
            assertThat(r.path("run").asText()).isEqualTo(run);
            assertThat(r.path("lastStep").asLong()).isEqualTo(LAST_STEP);
            assertThat(r.path("snapshots").asLong()).isEqualTo(LAST_STEP / 10);
            assertThat(r.path("profiles").get(0).path("lastCheckpoint").path("uri").asText())
                    .isEqualTo(last.get("ema").getUri());

            JsonNode distance = api.json(base + "/distance");
            assertThat(distance.path("profiles").toString()).isEqualTo("[\"ema\",\"fast\"]");
            JsonNode points = distance.path("points");
            assertThat(points.size()).isEqualTo((int) (LAST_STEP / 10));
            assertThat(points.get(0).path("distance").path("ema").asDouble()).as("the first snapshot sets the EMA").isZero();
            assertThat(points.get(9).path("distance").path("ema").asDouble())
                    .as("the slow EMA lags further behind").isGreaterThan(points.get(9).path("distance").path("fast").asDouble())
                    .isPositive();
            assertThat(points.get(4).path("checkpoint").asBoolean()).isTrue();
            assertThat(points.get(3).path("checkpoint").asBoolean()).isFalse();

            String metrics = api.get("/metrics").body();
            String tags = "{profile=\"ema\",run=\"" + run + "\"}";
            assertThat(metrics).contains("averager_run_last_step" + tags + " 100.0",
                    "averager_snapshots_applied_total" + tags + " 10.0",
                    "averager_snapshot_bytes_applied_total" + tags,
                    "averager_checkpoint_latency_seconds_count" + tags + " 2");

            assertError(api.get(base + "/ema"), 400, "Missing query parameter profile");
            assertError(api.get(base + "/ema?profile=nope"), 404, "Unknown profile nope");
            assertError(api.get("/runs/" + HttpApi.segment("no such run") + "/ema?profile=ema"), 404, "Unknown run no such run");
            assertError(api.get("/runs/" + HttpApi.segment("no such run") + "/distance"), 404, "Unknown run");
            assertError(api.get(base + "/weights"), 404, "No such resource weights");
            assertError(api.send("POST", "/runs"), 405, "Method POST is not allowed");
        }
    }

    @Test
    void refusesAnEmaThatIsNotAtOneStepUntilTheNextCompleteSnapshot() throws Exception {
        String run = SharedKafka.unique("mixed");
        try (ServiceUnderTest service = new ServiceUnderTest(dir);
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                     Map.of("bootstrap.servers", SharedKafka.bootstrapServers()),
                     new ByteArraySerializer(), new ByteArraySerializer())) {
            configure(service.settings);
            service.start();
            HttpApi api = new HttpApi(service.service().opsPort());
            api.awaitReady(Duration.ofSeconds(60));
            String path = "/runs/" + HttpApi.segment(run) + "/ema?profile=ema";
            send(producer, service.snapshotsTopic(), run, TestSnapshot.of(run, 10).f32("w", 1, 2, 3, 4, 5, 6).records());
            api.await("/runs/" + HttpApi.segment(run) + "/distance", j -> j.path("points").size() == 1, Duration.ofSeconds(30));
            assertThat(api.bytes(path).headers().firstValue("X-Averager-Step")).hasValue("10");

            // Step 20 loses its second chunk: its first entry moves to step 20, the second stays at 10.
            TestSnapshot torn = TestSnapshot.of(run, 20).f32("w", 6, 5, 4, 3, 2, 1);
            send(producer, service.snapshotsTopic(), run, List.of(torn.header(), torn.chunks().get(0), torn.commit()));
            api.await("/runs", j -> j.path("runs").get(0).path("lastStep").asLong() == 20, Duration.ofSeconds(30));
            assertError(api.get(path), 409, "is not at one step: tensor w at element 4 holds step 10, the run's last step is 20");

            send(producer, service.snapshotsTopic(), run, TestSnapshot.of(run, 30).f32("w", 1, 1, 1, 1, 1, 1).records());
            api.await("/runs/" + HttpApi.segment(run) + "/distance", j -> j.path("points").size() == 2, Duration.ofSeconds(30));
            HttpResponse<byte[]> whole = api.bytes(path);
            assertThat(whole.statusCode()).isEqualTo(200);
            assertThat(whole.headers().firstValue("X-Averager-Step")).hasValue("30");

            // A SET shrinks w to one chunk: the entry at element 4 stays behind, and is no part of the EMA.
            send(producer, service.snapshotsTopic(), run, TestSnapshot.of(run, 40).set().f32("w", 7, 8, 9).records());
            api.await("/runs/" + HttpApi.segment(run) + "/distance", j -> j.path("points").size() == 3, Duration.ofSeconds(30));
            HttpResponse<byte[]> shrunk = api.bytes(path);
            assertThat(shrunk.statusCode()).as(new String(shrunk.body(), StandardCharsets.UTF_8)).isEqualTo(200);
            assertThat(shrunk.headers().firstValue("X-Averager-Step")).hasValue("40");
            try (SafetensorsReader r = SafetensorsReader.open(save(shrunk.body()))) {
                assertThat(r.tensors()).singleElement().satisfies(t -> assertThat(t.shape()).containsExactly(3));
                ByteBuffer w = r.read("w", 0, 3);
                assertThat(new float[] {w.getFloat(0), w.getFloat(4), w.getFloat(8)}).containsExactly(7, 8, 9);
            }
        }
    }

    private Path save(byte[] bytes) throws Exception {
        return Files.write(Files.createTempFile(dir, "ema-", ".safetensors"), bytes);
    }

    private static void send(KafkaProducer<byte[], byte[]> producer, String topic, String run,
                             List<? extends SpecificRecordBase> records) throws Exception {
        for (SpecificRecordBase r : records) {
            producer.send(new ProducerRecord<>(topic, run.getBytes(StandardCharsets.UTF_8), WireCodec.encode(r))).get();
        }
    }

    static void configure(Map<String, String> settings) {
        settings.put(AveragerConfig.HTTP_PORT_CONFIG, "0");
        settings.put(AveragerConfig.HTTP_ADVERTISED_CONFIG, "127.0.0.1");
        settings.put(AveragerConfig.PROFILES_CONFIG, "ema,fast");
        settings.put("averager.profile.ema.decay", "0.9");
        settings.put("averager.profile.fast.decay", "0.5");
        settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "50");
    }

    /** Snapshots of steps 10 to {@value #LAST_STEP}, without metadata of their own. */
    static void publish(String topic, String... runs) throws Exception {
        try (SnapshotPublisher publisher = new SnapshotPublisher(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()),
                topic, 1024)) {
            for (long step = 10; step <= LAST_STEP; step += 10) {
                for (String run : runs) {
                    publisher.publish(run, step, SnapshotMode.UPDATE, step == LAST_STEP, Map.of(),
                            TestModel.sources(TestModel.weights(step)));
                }
            }
        }
    }

    static void assertError(HttpResponse<String> response, int status, String message) throws Exception {
        assertThat(response.statusCode()).as("%s", response.body()).isEqualTo(status);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(HttpApi.JSON.readTree(response.body()).path("error").asText()).contains(message);
    }
}
