package io.averager.cli;

import io.averager.catalog.Download;
import io.averager.catalog.Verification;
import io.averager.config.AveragerConfig;
import io.averager.service.AveragerService;
import io.averager.sink.ObjectStore;
import io.averager.wire.avro.CheckpointManifest;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code averager verify}: checks checkpoint files against their manifests. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Checks checkpoint files against the size and SHA-256 their manifests give. A file is found by its"
                + " content, so a downloaded or moved copy is checked like the stored one; one that matches no manifest"
                + " is compared with the manifest of its stored location or of the run, profile and step in its own"
                + " metadata.",
                "S3 objects are read with the S3 settings of --config or -D (averager.s3.endpoint, ...).",
                "Exit status: 0 all match, 1 a file differs from its manifest, 2 a file has no manifest."})
final class VerifyCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    ClusterOptions cluster;

    @Mixin
    ManifestOptions manifestOptions;

    @Parameters(paramLabel = "FILE|URI", arity = "1..*", description = "Checkpoint files: paths, file: URIs or s3://BUCKET/KEY URIs.")
    List<String> files;

    @Override
    public Integer call() throws Exception {
        AveragerConfig config = manifestOptions.config(cluster);
        List<CheckpointManifest> manifests = manifestOptions.read(config).manifests();
        PrintWriter out = spec.commandLine().getOut();
        int status = 0;
        for (String f : files) {
            Verification v = f.startsWith("s3://") ? verifyObject(URI.create(f), config, manifests)
                    : Verification.of(f.startsWith("file:") ? Path.of(URI.create(f)) : Path.of(f), manifests);
            out.println(v.describe());
            status = Math.max(status, v.manifest().isEmpty() ? 2 : v.ok() ? 0 : 1);
        }
        out.flush();
        return status;
    }

    /** Streams the object to a temporary file and verifies that. */
    private static Verification verifyObject(URI uri, AveragerConfig config, List<CheckpointManifest> manifests)
            throws Exception {
        Path copy = Files.createTempFile("averager-verify", ".part");
        try (ObjectStore store = AveragerService.objectStore(Download.storeLocation(uri), config)) {
            store.get(uri, copy);
            return Verification.of(copy, uri.toString(), Optional.of(uri), manifests);
        } finally {
            Files.deleteIfExists(copy);
        }
    }
}
