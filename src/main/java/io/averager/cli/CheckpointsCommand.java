package io.averager.cli;

import io.averager.catalog.Checkpoints;
import io.averager.wire.avro.CheckpointManifest;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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

    @Mixin
    ManifestOptions manifestOptions;

    @Override
    public Integer call() {
        List<CheckpointManifest> list = Checkpoints.list(manifestOptions.readAll(manifestOptions.config(cluster)),
                Optional.ofNullable(run), Optional.ofNullable(profile));
        spec.commandLine().getOut().print(Format.table(list));
        spec.commandLine().getOut().flush();
        return 0;
    }
}
