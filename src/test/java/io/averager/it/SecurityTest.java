package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.config.AveragerConfig;
import io.averager.embedded.EmbeddedKafka;
import io.averager.publish.SnapshotPublisher;
import io.averager.publish.TensorSource;
import io.averager.service.AveragerService;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SnapshotMode;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The service against a broker whose client listener requires SASL/PLAIN: with the right
 * password every client it creates (admin, Streams, the sink's consumer and producer) connects
 * and a snapshot becomes a checkpoint file; with a wrong one it fails within seconds, saying why.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class SecurityTest {

    private static final String USER = "averager";
    private static final String PASSWORD = "secret";

    @TempDir
    static Path brokerDir;

    private static EmbeddedKafka kafka;

    @TempDir
    Path dir;

    @BeforeAll
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    static void startBroker() {
        kafka = EmbeddedKafka.startWithSaslPlain(brokerDir, Map.of(USER, PASSWORD));
    }

    @AfterAll
    static void stopBroker() {
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void withTheRightPasswordASnapshotBecomesACheckpoint() throws Exception {
        Map<String, String> settings = settings(PASSWORD);
        BlockingQueue<CheckpointManifest> manifests = new LinkedBlockingQueue<>();
        try (AveragerService service = AveragerService.start(new AveragerConfig(settings), manifests::add);
             SnapshotPublisher publisher = new SnapshotPublisher(client(PASSWORD), "snapshots", 4)) {
            publisher.publish("secure-run", 1, SnapshotMode.UPDATE, true, Map.of(),
                    List.of(TensorSource.ofFloats("w", new float[] {1, 2, 3, 4, 5}, 5)));

            CheckpointManifest m = manifests.poll(60, TimeUnit.SECONDS);
            assertThat(m).as("manifest; service failure: %s", service.failure().getNow(null)).isNotNull();
            assertThat(m.getRun()).isEqualTo("secure-run");
            assertThat(Files.size(Path.of(URI.create(m.getUri())))).isEqualTo(m.getSize());
        }
    }

    @Test
    void withAWrongPasswordStartFailsWithinSecondsSayingAuthenticationFailed() {
        long start = System.nanoTime();

        assertThatThrownBy(() -> AveragerService.start(new AveragerConfig(settings("wrong")), m -> { }).close())
                .hasMessageContaining("Authentication failed");

        assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start)).isLessThan(15);
    }

    @Test
    void everyClientReceivesTheSecuritySettings() {
        AveragerConfig config = new AveragerConfig(settings(PASSWORD));
        Map<String, Object> security = Map.of(
                "bootstrap.servers", kafka.bootstrapServers(),
                "security.protocol", "SASL_PLAINTEXT",
                "sasl.mechanism", "PLAIN",
                "sasl.jaas.config", jaas(PASSWORD));

        assertThat(config.clientProperties()).as("admin").containsAllEntriesOf(security)
                .doesNotContainKeys("application.id", "state.dir");
        assertThat(config.consumerProperties()).as("the sink's consumer").containsAllEntriesOf(security);
        assertThat(config.producerProperties()).as("the sink's producer").containsAllEntriesOf(security);
        assertThat(config.kafkaProperties()).as("Kafka Streams and its clients").containsAllEntriesOf(security);
    }

    private Map<String, String> settings(String password) {
        Map<String, String> settings = new HashMap<>();
        client(password).forEach((k, v) -> settings.put(k, v.toString()));
        settings.put("application.id", SharedKafka.unique("secure"));
        settings.put("state.dir", dir.resolve("state").toString());
        settings.put("consumer.session.timeout.ms", "6000");
        settings.put(AveragerConfig.CHECKPOINT_STORE_CONFIG, dir.resolve("checkpoints").toString());
        settings.put(AveragerConfig.TOPIC_PARTITIONS_CONFIG, "1");
        return settings;
    }

    private static Map<String, Object> client(String password) {
        return Map.of("bootstrap.servers", kafka.bootstrapServers(),
                "security.protocol", "SASL_PLAINTEXT",
                "sasl.mechanism", "PLAIN",
                "sasl.jaas.config", jaas(password));
    }

    private static String jaas(String password) {
        return "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"" + USER
                + "\" password=\"" + password + "\";";
    }
}
