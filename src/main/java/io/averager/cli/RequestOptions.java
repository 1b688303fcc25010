package io.averager.cli;

import io.averager.config.AveragerConfig;
import io.averager.wire.Signatures;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** Options of the commands that send the service a request on the snapshots topic and wait for its answer. */
final class RequestOptions {

    @Option(names = "--topic", description = "Snapshots topic (default: the config's averager.topic.snapshots, snapshots).")
    String topic;

    @Option(names = {"-D", "--set"}, paramLabel = "KEY=VALUE",
            description = "A setting that overrides the config file, e.g. averager.topic.run.events=run-events.")
    Map<String, String> overrides = new HashMap<>();

    @Option(names = {"-X", "--producer"}, paramLabel = "KEY=VALUE", description = "A Kafka producer setting (security, say).")
    Map<String, String> producer = new HashMap<>();

    @Option(names = "--signing-key-file", paramLabel = "FILE", description = "A file holding the hex secret key of the run's"
            + " prefix (averager.snapshot.signing.keys), for a run whose records must be signed: the request is signed with it.")
    Path signingKeyFile;

    /** The key of {@code --signing-key-file}, or null. */
    byte[] signingKey() {
        return signingKey(signingKeyFile);
    }

    /** The hex key {@code file} holds, or null for no file. */
    static byte[] signingKey(Path file) {
        if (file == null) {
            return null;
        }
        try {
            return Signatures.key(file + ": ", Files.readString(file).trim());
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read the signing key file " + file + ": " + e.getMessage(), e);
        }
    }

    /** The settings of {@code cluster} with the {@code -D} overrides. */
    AveragerConfig config(ClusterOptions cluster) {
        Map<String, String> settings = cluster.settings();
        settings.putAll(overrides);
        return new AveragerConfig(settings);
    }

    /** The producer settings of {@code config} with the {@code -X} ones. */
    Map<String, Object> producerProperties(AveragerConfig config) {
        Map<String, Object> props = config.producerProperties();
        props.putAll(producer);
        return props;
    }

    String snapshotsTopic(AveragerConfig config) {
        return topic != null ? topic : config.getString(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG);
    }

    /** Where the service answers. */
    String runEventsTopic(AveragerConfig config) {
        return config.getString(AveragerConfig.TOPIC_RUN_EVENTS_CONFIG);
    }
}
