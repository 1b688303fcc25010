package io.averager.cli;

import io.averager.catalog.Checkpoints;
import io.averager.catalog.Download;
import io.averager.catalog.ManifestLog;
import io.averager.config.AveragerConfig;
import io.averager.service.AveragerService;
import io.averager.sink.ObjectStore;
import io.averager.wire.avro.CheckpointManifest;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code averager get}: downloads a checkpoint file named by its manifest and verifies it. */
@Command(name = "get", mixinStandardHelpOptions = true,
        description = {"Downloads a checkpoint from the object store its manifest names (a directory or S3)"
                + " and checks its size and SHA-256; on a mismatch nothing is written to the output.",
                "S3 settings (averager.s3.endpoint, ...) come from --config or -D."})
final class GetCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    ClusterOptions cluster;

    @Option(names = "--run", required = true, paramLabel = "RUN")
    String run;

    @Option(names = "--profile", paramLabel = "NAME", description = "EMA profile; needed when the run has several.")
    String profile;

    @ArgGroup(exclusive = true)
    Which which;

    static final class Which {
        @Option(names = "--step", paramLabel = "N", description = "The checkpoint at this step.")
        Long step;

        @Option(names = "--latest", description = "The checkpoint at the highest step (the default).")
        boolean latest;
    }

    @Option(names = "--format", paramLabel = "FORMAT", description = "File format (safetensors, pt); needed when the step has several.")
    String format;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE")
    Path output;

    @Option(names = "--topic", paramLabel = "TOPIC", description = "Manifests topic (default: the config's averager.topic.manifests, checkpoint-manifests).")
    String topic;

    @Option(names = {"-X", "--consumer"}, paramLabel = "KEY=VALUE", description = "A Kafka consumer setting (security, say).")
    Map<String, String> consumer = new HashMap<>();

    @Option(names = {"-D", "--set"}, paramLabel = "KEY=VALUE", description = "A setting that overrides the config file, e.g. averager.s3.endpoint=http://minio:9000.")
    Map<String, String> overrides = new HashMap<>();

    @Override
    public Integer call() throws Exception {
        Map<String, String> settings = cluster.settings();
        settings.putAll(overrides);
        AveragerConfig config = new AveragerConfig(settings);
        Map<String, Object> props = config.consumerProperties();
        props.putAll(consumer);
        String manifests = topic != null ? topic : config.getString(AveragerConfig.TOPIC_MANIFESTS_CONFIG);
        OptionalLong step = which == null || which.step == null ? OptionalLong.empty() : OptionalLong.of(which.step);
        CheckpointManifest m = Checkpoints.select(ManifestLog.readAll(props, manifests, Duration.ofSeconds(60)), run,
                Optional.ofNullable(profile), step, Optional.ofNullable(format));
        try (ObjectStore store = AveragerService.objectStore(Download.storeLocation(URI.create(m.getUri())), config)) {
            Download.fetch(m, store, output);
        }
        spec.commandLine().getOut().println(Format.manifest(m) + " -> " + output);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
