package io.averager.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.ema.Profile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AveragerConfigTest {

    private static AveragerConfig config(String... keysAndValues) {
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", "broker:9092");
        for (int i = 0; i < keysAndValues.length; i += 2) {
            props.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return new AveragerConfig(props);
    }

    @Test
    void defaultsNeedOnlyTheBootstrapServers() {
        AveragerConfig c = config();

        assertThat(c.getString(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG)).isEqualTo("snapshots");
        assertThat(c.getString(AveragerConfig.TOPIC_CHECKPOINTS_CONFIG)).isEqualTo("checkpoints");
        assertThat(c.getString(AveragerConfig.TOPIC_MANIFESTS_CONFIG)).isEqualTo("checkpoint-manifests");
        assertThat(c.getString(AveragerConfig.TOPIC_DEAD_LETTERS_CONFIG)).isEqualTo("averager-dead-letters");
        assertThat(c.getInt(AveragerConfig.TOPIC_PARTITIONS_CONFIG)).isEqualTo(-1);
        assertThat(c.getShort(AveragerConfig.TOPIC_REPLICATION_FACTOR_CONFIG)).isEqualTo((short) -1);
        assertThat(c.getLong(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG)).isEqualTo(1000L);
        assertThat(c.getLong(AveragerConfig.CHECKPOINT_EVERY_MS_CONFIG)).isZero();
        assertThat(c.getString(AveragerConfig.CHECKPOINT_STORE_CONFIG)).isEqualTo("checkpoints");
        assertThat(c.getString(AveragerConfig.KERNEL_CONFIG)).isEqualTo("java");
        assertThat(c.getString(AveragerConfig.DEVICE_CONFIG)).isEqualTo("cpu");
        assertThat(c.getLong(AveragerConfig.MAX_GRID_CONFIG)).isEqualTo(16L << 20);
        assertThat(c.getLong(AveragerConfig.MAX_TENSOR_ELEMENTS_CONFIG)).isEqualTo(1L << 36);
        assertThat(c.applicationId()).isEqualTo("averager");
        assertThat(c.stateDir()).isEqualTo(Paths.get("averager-state"));
        assertThat(c.spoolDir()).isEqualTo(Paths.get("averager-state", "spool"));
        assertThat(c.profiles()).containsExactly(Profile.builder("ema").decay(0.9999).build());
    }

    @Test
    void spoolDirFollowsTheStateDirUnlessSet() {
        assertThat(config("state.dir", "/var/averager").spoolDir()).isEqualTo(Paths.get("/var/averager/spool"));
        assertThat(config("state.dir", "/var/averager", "averager.sink.spool.dir", "/scratch").spoolDir())
                .isEqualTo(Paths.get("/scratch"));
        assertThat(config("application.id", "ema-fleet").applicationId()).isEqualTo("ema-fleet");
    }

    @Test
    void missingBootstrapServersIsAnErrorNamingTheKey() {
        assertThatThrownBy(() -> new AveragerConfig(Map.of("averager.profiles", "ema")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("bootstrap.servers");
    }

    @Test
    void unknownAveragerKeyIsRejectedWithTheKeyNamed() {
        assertThatThrownBy(() -> config("averager.checkpoint.every.step", "10"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("averager.checkpoint.every.step")
                .hasMessageContaining("unknown averager setting");
    }

    @Test
    void keyOfAProfileNotListedIsRejectedWithTheKeyNamed() {
        assertThatThrownBy(() -> config("averager.profile.slow.decay", "0.99"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("averager.profile.slow.decay")
                .hasMessageContaining("averager.profiles");
    }

    @Test
    void invalidValueOfAnAveragerKeyIsRejectedWithTheKeyNamed() {
        assertThatThrownBy(() -> config("averager.checkpoint.every.steps", "-1"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("averager.checkpoint.every.steps");
        assertThatThrownBy(() -> config("averager.kernel", "cuda"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("averager.kernel");
    }

    @Test
    void deviceIsCpuOrCudaAndOnlyTheTorchKernelTakesCuda() {
        assertThat(config("averager.kernel", "torch").getString(AveragerConfig.KERNEL_CONFIG)).isEqualTo("torch");
        assertThat(config("averager.kernel", "torch", "averager.device", "cuda:1")
                .getString(AveragerConfig.DEVICE_CONFIG)).isEqualTo("cuda:1");
        assertThatThrownBy(() -> config("averager.device", "gpu0"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("averager.device")
                .hasMessageContaining("cuda:N");
        assertThatThrownBy(() -> config("averager.device", "cuda:0"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("averager.device")
                .hasMessageContaining("java kernel");
    }

    @Test
    void nonAveragerKeysPassThroughUnchanged() {
        AveragerConfig c = config(
                "processing.guarantee", "exactly_once_v2",
                "num.standby.replicas", "1",
                "security.protocol", "SASL_SSL",
                "sasl.mechanism", "PLAIN",
                "ssl.truststore.location", "/etc/truststore.jks",
                "averager.checkpoint.every.steps", "50");

        assertThat(c.kafkaProperties())
                .containsEntry("bootstrap.servers", "broker:9092")
                .containsEntry("processing.guarantee", "exactly_once_v2")
                .containsEntry("num.standby.replicas", "1")
                .containsEntry("security.protocol", "SASL_SSL")
                .containsEntry("sasl.mechanism", "PLAIN")
                .containsEntry("ssl.truststore.location", "/etc/truststore.jks")
                .doesNotContainKey("averager.checkpoint.every.steps")
                .hasSize(6);
        assertThat(c.clientProperties())
                .containsOnlyKeys("bootstrap.servers", "security.protocol", "sasl.mechanism", "ssl.truststore.location");
    }

    @Test
    void consumerAndProducerPrefixedKeysReachTheSinkClientsWithoutThePrefix() {
        AveragerConfig c = config(
                "security.protocol", "SASL_SSL",
                "consumer.session.timeout.ms", "6000",
                "consumer.group.instance.id", "averager-1",
                "main.consumer.max.poll.records", "10",
                "producer.compression.type", "lz4",
                "num.standby.replicas", "1");

        assertThat(c.consumerProperties()).containsOnly(
                Map.entry("bootstrap.servers", "broker:9092"), Map.entry("security.protocol", "SASL_SSL"),
                Map.entry("session.timeout.ms", "6000"), Map.entry("group.instance.id", "averager-1"));
        assertThat(c.producerProperties()).containsOnly(
                Map.entry("bootstrap.servers", "broker:9092"), Map.entry("security.protocol", "SASL_SSL"),
                Map.entry("compression.type", "lz4"));
    }

    @Test
    void loadsAPropertiesFileWithOverridesWinning(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("averager.properties");
        Files.writeString(file, "bootstrap.servers=broker:9092\naverager.checkpoint.every.steps=10\n");

        AveragerConfig c = AveragerConfig.load(file, Map.of("averager.checkpoint.every.steps", "20"));

        assertThat(c.getLong(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG)).isEqualTo(20L);
        assertThatThrownBy(() -> AveragerConfig.load(dir.resolve("missing.properties"), Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("missing.properties");
    }
}
