package io.averager.cli;

import io.averager.config.AveragerConfig;
import io.averager.publish.SnapshotPublisher;
import io.averager.wire.avro.RewindAnswer;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.ProducerConfig;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code averager rewind}: rewinds a run to a step it checkpointed, before its trainer resumes there. */
@Command(name = "rewind", mixinStandardHelpOptions = true,
        description = {"Rewinds a run to a step: the run's last step, or one it checkpointed recently enough for the"
                + " service to hold a restore point of (averager.rewind.restore.points). The snapshots published after"
                + " it continue the EMA as it was right after that step, as if the later steps had never been published.",
                "Run it before the trainer resumes from its own checkpoint at that step, with the dead trainer's"
                + " transactional id so that Kafka fences it. Waits for the service's answer; a step it cannot rewind to"
                + " changes nothing, and the command fails naming the nearest step it can."})
final class RewindCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    ClusterOptions cluster;

    @Option(names = "--run", required = true, description = "Run id (the record key).")
    String run;

    @Option(names = "--to-step", required = true, paramLabel = "STEP", description = "The step to return to.")
    long toStep;

    @Option(names = "--topic", description = "Snapshots topic (default: the config's averager.topic.snapshots, snapshots).")
    String topic;

    @Option(names = "--timeout", defaultValue = "60", paramLabel = "SECONDS",
            description = "How long to wait for the service's answer (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--transactional-id", paramLabel = "ID",
            description = "The transactional id the run's trainer publishes with: Kafka then aborts what a dead trainer left open.")
    String transactionalId;

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
        if (transactionalId != null) {
            props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        }
        String snapshots = topic != null ? topic : config.getString(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG);
        try (SnapshotPublisher publisher = new SnapshotPublisher(props, snapshots, SnapshotPublisher.DEFAULT_GRID)) {
            RewindAnswer answer = publisher.rewind(run, toStep, config.getString(AveragerConfig.TOPIC_RUN_EVENTS_CONFIG),
                    Duration.ofSeconds(timeoutSeconds));
            spec.commandLine().getOut().println(answer.getMessage());
            spec.commandLine().getOut().flush();
        }
        return 0;
    }
}
