package io.averager.cli;

import io.averager.catalog.Catalog;
import io.averager.catalog.CheckpointSubscriber;
import io.averager.catalog.CheckpointSubscriber.Checkpoint;
import io.averager.catalog.Checkpoints;
import io.averager.catalog.Download;
import io.averager.config.AveragerConfig;
import io.averager.service.AveragerService;
import io.averager.sink.ObjectKeys;
import io.averager.sink.ObjectStore;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code averager checkpoints}: lists the checkpoints the manifests topic announces, or follows new ones. */
@Command(name = "checkpoints", mixinStandardHelpOptions = true,
        description = {"Lists the stored checkpoints, from the manifests topic: run, profile, step, snapshot time, size, URI,"
                + " and whether a rewind of the run superseded the checkpoint (its trainer abandoned that branch).",
                "With --follow, prints each new checkpoint as its manifest commits, until stopped (or --count);"
                + " with --download, also fetches each file into a directory, verified against its manifest."})
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

    @Option(names = {"-f", "--follow"}, description = "Print each checkpoint as its manifest commits, from the end of the"
            + " topic (or --from-step), until stopped.")
    boolean follow;

    @Option(names = "--from-step", paramLabel = "N", description = "With --follow: start with the stored checkpoints at"
            + " step N or above, instead of the end of the topic.")
    Long fromStep;

    @Option(names = "--group", paramLabel = "GROUP", description = "With --follow: a Kafka consumer group; a restarted"
            + " follower in the same group goes on after the last checkpoint it printed and downloaded.")
    String group;

    @Option(names = "--download", paramLabel = "DIR", description = "With --follow: fetch each checkpoint into"
            + " DIR/RUN/PROFILE/ (named as in the store) and verify its size and SHA-256; a file that does not match"
            + " is not kept, and stops the command.")
    Path download;

    @Option(names = "--count", paramLabel = "N", description = "With --follow: stop after N checkpoints.")
    Long count;

    @Mixin
    ManifestOptions manifestOptions;

    @Override
    public Integer call() throws IOException {
        AveragerConfig config = manifestOptions.config(cluster);
        PrintWriter out = spec.commandLine().getOut();
        if (!follow) {
            if (fromStep != null || group != null || download != null || count != null) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--from-step, --group, --download and --count go with --follow");
            }
            Catalog catalog = manifestOptions.read(config);
            List<CheckpointManifest> list = Checkpoints.list(live ? catalog.live() : catalog.manifests(),
                    Optional.ofNullable(run), Optional.ofNullable(profile));
            out.print(Format.table(list, catalog.rewinds()));
            out.flush();
            return 0;
        }
        CheckpointSubscriber.Options options = CheckpointSubscriber.options()
                .manifestsTopic(manifestOptions.manifestsTopic(config))
                .runEventsTopic(manifestOptions.runEventsTopic(config));
        Optional.ofNullable(run).ifPresent(options::run);
        Optional.ofNullable(profile).ifPresent(options::profile);
        Optional.ofNullable(fromStep).ifPresent(options::fromStep);
        Optional.ofNullable(group).ifPresent(options::group);
        Map<String, ObjectStore> stores = new HashMap<>();
        try (CheckpointSubscriber subscriber = options.open(manifestOptions.consumerProperties(config))) {
            System.err.println("Following " + manifestOptions.manifestsTopic(config)
                    + (fromStep == null ? " from its end" : " from step " + fromStep) + "; Ctrl-C stops");
            for (long seen = 0; count == null || seen < count; ) {
                Optional<Checkpoint> next = subscriber.next(Duration.ofSeconds(1));
                if (next.isEmpty()) {
                    continue;
                }
                Checkpoint c = next.get();
                if (live && c.superseded()) {
                    continue;
                }
                String line = Format.manifest(c.manifest()) + " " + c.state();
                if (download != null) {
                    line += " -> " + fetch(c, config, stores);
                }
                out.println(line);
                out.flush();
                seen++;
            }
        } finally {
            for (ObjectStore store : stores.values()) {
                store.close();
            }
        }
        return 0;
    }

    /** Downloads {@code c} into {@link #download}, verified; its path. */
    private Path fetch(Checkpoint c, AveragerConfig config, Map<String, ObjectStore> stores) throws IOException {
        CheckpointManifest m = c.manifest();
        String key = ObjectKeys.checkpoint(m.getRun(), m.getProfile(), m.getStep(), m.getRewinds(),
                m.getFormat());
        Path target = download.resolve(key.substring("runs/".length()));
        Files.createDirectories(target.getParent());
        String location = Download.storeLocation(URI.create(m.getUri()));
        ObjectStore store = stores.get(location);
        if (store == null) {
            store = AveragerService.objectStore(location, config);
            stores.put(location, store);
        }
        c.download(store, target);
        return target;
    }
}
