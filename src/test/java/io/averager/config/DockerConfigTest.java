package io.averager.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.ema.Profile;
import io.averager.sink.S3Location;
import io.averager.wire.RecordLimits;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** docker/averager.properties validates, and agrees with the services of docker/compose.yaml. */
class DockerConfigTest {

    private static final Path PROPERTIES = Path.of("docker/averager.properties");
    private static final Path COMPOSE = Path.of("docker/compose.yaml");

    @Test
    void composeConfigValidatesAndStoresCheckpointsInMinio() {
        AveragerConfig c = AveragerConfig.load(PROPERTIES, Map.of());

        assertThat(c.kafkaProperties()).containsEntry("bootstrap.servers", "kafka:9092");
        assertThat(c.applicationId()).isEqualTo("averager");
        assertThat(c.stateDir()).isEqualTo(Path.of("/var/lib/averager"));
        assertThat(c.getShort(AveragerConfig.TOPIC_REPLICATION_FACTOR_CONFIG)).isEqualTo((short) 1);
        assertThat(c.profiles()).extracting(Profile::name).containsExactly("ema", "ema_slow");

        String store = c.getString(AveragerConfig.CHECKPOINT_STORE_CONFIG);
        assertThat(store).startsWith("s3://");
        assertThat(S3Location.parse(store)).isEqualTo(new S3Location("checkpoints", "averager/"));
        assertThat(c.getString(AveragerConfig.S3_ENDPOINT_CONFIG)).isEqualTo("http://minio:9000");
    }

    @Test
    void composeFileMatchesTheConfig() throws Exception {
        AveragerConfig c = AveragerConfig.load(PROPERTIES, Map.of());
        String compose = Files.readString(COMPOSE);

        assertThat(compose)
                .contains("MINIO_ROOT_USER: " + c.getString(AveragerConfig.S3_ACCESS_KEY_CONFIG))
                .contains("MINIO_ROOT_PASSWORD: " + c.getPassword(AveragerConfig.S3_SECRET_KEY_CONFIG).value())
                .contains("mc mb --ignore-existing local/" + S3Location.parse(
                        c.getString(AveragerConfig.CHECKPOINT_STORE_CONFIG)).bucket())
                .contains("KAFKA_MESSAGE_MAX_BYTES: " + RecordLimits.MAX_MESSAGE_BYTES)
                .contains("KAFKA_REPLICA_FETCH_MAX_BYTES: " + RecordLimits.MAX_MESSAGE_BYTES)
                .contains("INTERNAL://kafka:9092")
                .contains("./averager.properties:/etc/averager/averager.properties");
    }
}
