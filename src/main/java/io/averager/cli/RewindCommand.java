package io.averager.cli;

import io.averager.config.AveragerConfig;
import io.averager.publish.SnapshotPublisher;
import io.averager.wire.avro.RewindAnswer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.ProducerConfig;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code averager rewind}: rewinds a run to a step it checkpointed, before its trainer resumes there. */
@Command(name = "rewind", mixinStandardHelpOptions = true,
        description = {"Rewinds a run to a step: the run's last step, one it checkpointed recently enough for the"
                + " service to hold a restore point of (averager.rewind.restore.points), or any retained step after such a"
                + " checkpoint, which the service rebuilds from it and the snapshots after it. The snapshots published after"
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

    @Option(names = "--timeout", defaultValue = "60", paramLabel = "SECONDS",
            description = "How long to wait for the service's answer (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--transactional-id", paramLabel = "ID",
            description = "The transactional id the run's trainer publishes with: Kafka then aborts what a dead trainer left open.")
    String transactionalId;

    @CommandLine.Mixin
    RequestOptions request;

    @Override
    public Integer call() {
        AveragerConfig config = request.config(cluster);
        Map<String, Object> props = request.producerProperties(config);
        if (transactionalId != null) {
            props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        }
        String snapshots = request.snapshotsTopic(config);
        try (SnapshotPublisher publisher = new SnapshotPublisher(props, snapshots, SnapshotPublisher.DEFAULT_GRID,
                request.signingKey())) {
            RewindAnswer answer = publisher.rewind(run, toStep, request.runEventsTopic(config),
                    Duration.ofSeconds(timeoutSeconds));
            spec.commandLine().getOut().println(answer.getMessage());
            spec.commandLine().getOut().flush();
        }
        return 0;
    }
}
