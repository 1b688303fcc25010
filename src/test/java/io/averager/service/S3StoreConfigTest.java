package io.averager.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.config.AveragerConfig;
import io.averager.sink.FileSystemObjectStore;
import io.averager.sink.ObjectStore;
import io.averager.sink.S3ObjectStore;
import io.averager.sink.S3Settings;
import java.net.URI;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;

/** The checkpoint store the configuration names, and the S3 settings. */
class S3StoreConfigTest {

    private static AveragerConfig config(Map<String, String> extra) {
        Map<String, String> settings = new HashMap<>(Map.of("bootstrap.servers", "localhost:9092"));
        settings.putAll(extra);
        return new AveragerConfig(settings);
    }

    @Test
    void anS3LocationGivesAnS3StoreAtTheConfiguredEndpoint() {
        AveragerConfig config = config(Map.of(AveragerConfig.S3_ENDPOINT_CONFIG, "http://minio:9000",
                AveragerConfig.S3_ACCESS_KEY_CONFIG, "id", AveragerConfig.S3_SECRET_KEY_CONFIG, "secret"));
        try (ObjectStore store = AveragerService.objectStore("s3://bucket/ema", config)) {
            assertThat(store).isInstanceOf(S3ObjectStore.class);
            assertThat(store.describe()).isEqualTo("s3://bucket/ema/ at http://minio:9000");
        }
        try (ObjectStore store = AveragerService.objectStore("/tmp/checkpoints", config)) {
            assertThat(store).isInstanceOf(FileSystemObjectStore.class);
        }
    }

    @Test
    void anEndpointImpliesPathStyleAndExplicitKeysUnlessToldOtherwise() {
        S3Settings minio = AveragerService.s3Settings(config(Map.of(AveragerConfig.S3_ENDPOINT_CONFIG, "http://minio:9000",
                AveragerConfig.S3_ACCESS_KEY_CONFIG, "id", AveragerConfig.S3_SECRET_KEY_CONFIG, "secret")));
        assertThat(minio).isEqualTo(new S3Settings(Optional.of(URI.create("http://minio:9000")), Optional.empty(),
                Optional.empty(), Optional.of("id"), Optional.of("secret")));
        assertThat(AveragerService.s3Settings(config(Map.of()))).isEqualTo(S3Settings.DEFAULT);
        S3Settings aws = AveragerService.s3Settings(config(Map.of(AveragerConfig.S3_REGION_CONFIG, "eu-west-1",
                AveragerConfig.S3_PATH_STYLE_CONFIG, "true")));
        assertThat(aws.region()).contains("eu-west-1");
        assertThat(aws.pathStyle()).contains(true);
        assertThat(aws.describeEndpoint()).isEqualTo("AWS S3 (eu-west-1)");
    }

    @Test
    void anAccessKeyWithoutItsSecretIsRefused() {
        assertThatThrownBy(() -> config(Map.of(AveragerConfig.S3_ACCESS_KEY_CONFIG, "id")))
                .isInstanceOf(ConfigException.class).hasMessageContaining(AveragerConfig.S3_SECRET_KEY_CONFIG);
    }

    @Test
    void theSecretKeyIsHiddenFromTheConfigsText() {
        AveragerConfig config = config(Map.of(AveragerConfig.S3_ACCESS_KEY_CONFIG, "id",
                AveragerConfig.S3_SECRET_KEY_CONFIG, "very-secret"));
        assertThat(config.values().toString()).doesNotContain("very-secret");
    }

    @Test
    void unsupportedSchemesAreRefused() {
        assertThatThrownBy(() -> AveragerService.objectStore("gs://bucket", config(Map.of())))
                .hasMessageContaining("s3://bucket/prefix");
        assertThatThrownBy(() -> AveragerService.objectStore("s3:///nobucket", config(Map.of())))
                .isInstanceOf(ConfigException.class);
    }
}
