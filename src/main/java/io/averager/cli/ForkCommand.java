package io.averager.cli;

import io.averager.config.AveragerConfig;
import io.averager.publish.SnapshotPublisher;
import io.averager.wire.avro.ForkAnswer;
import java.time.Duration;
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

    @Option(names = "--timeout", defaultValue = "120", paramLabel = "SECONDS",
            description = "How long to wait for the service's answer (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @CommandLine.Mixin
    RequestOptions request;

    @Override
    public Integer call() {
        AveragerConfig config = request.config(cluster);
        Map<String, Object> props = request.producerProperties(config);
        String snapshots = request.snapshotsTopic(config);
        try (SnapshotPublisher publisher = new SnapshotPublisher(props, snapshots, grid,
                request.signingKey())) {
            ForkAnswer answer = publisher.fork(run, parent, step, request.runEventsTopic(config),
                    Duration.ofSeconds(timeoutSeconds));
            spec.commandLine().getOut().println(answer.getMessage());
            spec.commandLine().getOut().flush();
        }
        return 0;
    }
}
