package io.averager.cli;

import io.averager.catalog.Catalog;
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
        description = "Lists the stored checkpoints, from the manifests topic: run, profile, step, snapshot time, size, URI,"
                + " and whether a rewind of the run superseded the checkpoint (its trainer abandoned that branch).")
final class CheckpointsCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    ClusterOptions cluster;

    @Option(names = "--run", paramLabel = "RUN", description = "Only this run.")
    String run;

    @Option(names = "--profile", paramLabel = "NAME", description = "Only this profile.")
    String profile;

    @Option(names = "--live", description = "Only the checkpoints of live branches: none a rewind superseded.")
    boolean live;

    @Mixin
    ManifestOptions manifestOptions;

    @Override
    public Integer call() {
        Catalog catalog = manifestOptions.read(manifestOptions.config(cluster));
        List<CheckpointManifest> list = Checkpoints.list(live ? catalog.live() : catalog.manifests(),
                Optional.ofNullable(run), Optional.ofNullable(profile));
        spec.commandLine().getOut().print(Format.table(list, catalog.rewinds()));
        spec.commandLine().getOut().flush();
        return 0;
    }
}
