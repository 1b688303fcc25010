package io.averager.cli;

import io.averager.config.AveragerConfig;
import io.averager.publish.SnapshotPublisher;
import io.averager.wire.avro.ForkAnswer;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code averager fork}: starts a new run from another run's EMA at a step. */
@Command(name = "fork", mixinStandardHelpOptions = true,
        description = {"Starts a new run from another run's EMA at a step (fine-tuning from a checkpoint, a"
                + " hyperparameter branch): every profile's EMA of the new run is the parent's live checkpoint at that"
                + " step, and the new run's snapshots, at steps after it, continue it. Its checkpoints name the parent.",
                "Run it before the new run's first snapshot. The service reads the parent's checkpoint files itself."
                + " Waits for the service's answer; a fork it cannot take changes nothing, and the command fails saying why."})
final class ForkCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    ClusterOptions cluster;

    @Option(names = "--from", required = true, paramLabel = "RUN", description = "The parent run.")
    String parent;

    @Option(names = "--step", required = true, paramLabel = "STEP",
            description = "The parent's step: one it has a live checkpoint of in every profile.")
    long step;

    @Option(names = "--to", required = true, paramLabel = "NEW_RUN", description = "The new run's id, without snapshots yet.")
    String run;

    @Option(names = "--grid", paramLabel = "ELEMENTS",
            description = "The chunk grid the new run's publisher uses (default: the publishers' default, ${DEFAULT-VALUE}).")
    long grid = SnapshotPublisher.DEFAULT_GRID;

    @Option(names = "--topic", description = "Snapshots topic (default: the config's averager.topic.snapshots, snapshots).")
    String topic;

    @Option(names = "--timeout", defaultValue = "120", paramLabel = "SECONDS",
            description = "How long to wait for the service's answer (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = {"-D", "--set"}, paramLabel = "KEY=VALUE",
            description = "A setting that overrides the config file, e.g. averager.topic.run.events=run-events.")
    Map<String, String> overrides = new HashMap<>();

    @Option(names = {"-X", "--producer"}, paramLabel = "KEY=VALUE", description = "A Kafka producer setting (security, say).")
    Map<String, String> producer = new HashMap<>();

    @Override
    public Integer call() {
        Map<String, String> settings = cluster.settings();
        settings.putAll(overrides);
        AveragerConfig config = new AveragerConfig(settings);
        Map<String, Object> props = config.producerProperties();
        props.putAll(producer);
        String snapshots = topic != null ? topic : config.getString(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG);
        try (SnapshotPublisher publisher = new SnapshotPublisher(props, snapshots, grid)) {
            ForkAnswer answer = publisher.fork(run, parent, step, config.getString(AveragerConfig.TOPIC_RUN_EVENTS_CONFIG),
                    Duration.ofSeconds(timeoutSeconds));
            spec.commandLine().getOut().println(answer.getMessage());
            spec.commandLine().getOut().flush();
        }
        return 0;
    }
}
