package io.averager.cli;

import io.averager.config.AveragerConfig;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** Where a command finds the cluster: the service's config file, or just a bootstrap address. */
final class ClusterOptions {

    @Option(names = "--config", paramLabel = "FILE", description = "The service's config file: cluster, topics, checkpoint store, security.")
    Path config;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT", description = "The cluster, with default topics and checkpoint store.")
    String bootstrapServers;

    /** The settings: the config file's, or bootstrap.servers alone. */
    Map<String, String> settings() {
        Map<String, String> settings = new HashMap<>();
        if (config != null) {
            AveragerConfig.load(config, Map.of()).originalsStrings().forEach(settings::put);
        } else {
            settings.put("bootstrap.servers", bootstrapServers);
        }
        return settings;
    }
}
