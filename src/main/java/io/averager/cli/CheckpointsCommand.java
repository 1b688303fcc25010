package io.averager.cli;

import io.averager.catalog.Checkpoints;
import io.averager.catalog.ManifestLog;
import io.averager.config.AveragerConfig;
import io.averager.wire.avro.CheckpointManifest;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code averager checkpoints}: lists the checkpoints the manifests topic announces. */
@Command(name = "checkpoints", mixinStandardHelpOptions = true,
        description = "Lists the stored checkpoints, from the manifests topic: run, profile, step, snapshot time, size and URI.")
final class CheckpointsCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    ClusterOptions cluster;

    @Option(names = "--run", paramLabel = "RUN", description = "Only this run.")
    String run;

    @Option(names = "--profile", paramLabel = "NAME", description = "Only this profile.")
    String profile;

    @Option(names = "--topic", paramLabel = "TOPIC", description = "Manifests topic (default: the config's averager.topic.manifests, checkpoint-manifests).")
    String topic;

    @Option(names = {"-X", "--consumer"}, paramLabel = "KEY=VALUE", description = "A Kafka consumer setting (security, say).")
    Map<String, String> consumer = new HashMap<>();

    @Override
    public Integer call() {
        AveragerConfig config = new AveragerConfig(cluster.settings());
        Map<String, Object> props = config.consumerProperties();
        props.putAll(consumer);
        String manifests = topic != null ? topic : config.getString(AveragerConfig.TOPIC_MANIFESTS_CONFIG);
        List<CheckpointManifest> list = Checkpoints.list(ManifestLog.readAll(props, manifests, Duration.ofSeconds(60)),
                Optional.ofNullable(run), Optional.ofNullable(profile));
        spec.commandLine().getOut().print(Format.table(list));
        spec.commandLine().getOut().flush();
        return 0;
    }
}
