package io.averager.cli;

import io.averager.catalog.Checkpoints;
import io.averager.catalog.Download;
import io.averager.config.AveragerConfig;
import io.averager.service.AveragerService;
import io.averager.sink.ObjectStore;
import io.averager.wire.avro.CheckpointManifest;
import java.net.URI;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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

    @Option(names = "--run", required = true, paramLabel = "RUN", description = "The run whose checkpoint to download.")
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

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "Where to write the file; written only once verified.")
    Path output;

    @Mixin
    ManifestOptions manifestOptions;

    @Override
    public Integer call() throws Exception {
        AveragerConfig config = manifestOptions.config(cluster);
        OptionalLong step = which == null || which.step == null ? OptionalLong.empty() : OptionalLong.of(which.step);
        CheckpointManifest m = Checkpoints.select(manifestOptions.read(config), run,
                Optional.ofNullable(profile), step, Optional.ofNullable(format));
        try (ObjectStore store = AveragerService.objectStore(Download.storeLocation(URI.create(m.getUri())), config)) {
            Download.fetch(m, store, output);
        }
        spec.commandLine().getOut().println(Format.manifest(m) + " -> " + output);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
