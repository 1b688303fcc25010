package io.averager.cli;

import io.averager.catalog.Catalog;
import io.averager.catalog.ManifestLog;
import io.averager.config.AveragerConfig;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** Options of the commands that find checkpoints through the manifests topic. */
final class ManifestOptions {

    @Option(names = "--topic", paramLabel = "TOPIC", description = "Manifests topic (default: the config's averager.topic.manifests, checkpoint-manifests).")
    String topic;

    @Option(names = {"-X", "--consumer"}, paramLabel = "KEY=VALUE", description = "A Kafka consumer setting (security, say).")
    Map<String, String> consumer = new HashMap<>();

    @Option(names = {"-D", "--set"}, paramLabel = "KEY=VALUE", description = "A setting that overrides the config file, e.g. averager.s3.endpoint=http://minio:9000.")
    Map<String, String> overrides = new HashMap<>();

    /** The settings of {@code cluster} with the {@code -D} overrides. */
    AveragerConfig config(ClusterOptions cluster) {
        Map<String, String> settings = cluster.settings();
        settings.putAll(overrides);
        return new AveragerConfig(settings);
    }

    @Option(names = "--run-events-topic", paramLabel = "TOPIC", description = "Topic of the rewinds that supersede checkpoints (default: the config's averager.topic.run.events, run-events).")
    String runEventsTopic;

    /**
     * Every manifest on the topic and the rewinds on the run-events topic, read with
     * {@code config}'s consumer settings and the {@code -X} ones.
     */
    Catalog read(AveragerConfig config) {
        return ManifestLog.read(consumerProperties(config), manifestsTopic(config), runEventsTopic(config), Duration.ofSeconds(60));
    }

    /** {@code config}'s consumer settings with the {@code -X} ones. */
    Map<String, Object> consumerProperties(AveragerConfig config) {
        Map<String, Object> props = config.consumerProperties();
        props.putAll(consumer);
        return props;
    }

    String manifestsTopic(AveragerConfig config) {
        return topic != null ? topic : config.getString(AveragerConfig.TOPIC_MANIFESTS_CONFIG);
    }

    String runEventsTopic(AveragerConfig config) {
        return runEventsTopic != null ? runEventsTopic : config.getString(AveragerConfig.TOPIC_RUN_EVENTS_CONFIG);
    }
}
