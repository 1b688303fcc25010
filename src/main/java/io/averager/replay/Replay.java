package io.averager.replay;

import io.averager.Directories;
import io.averager.AveragerException;
import io.averager.catalog.ManifestLog;
import io.averager.config.AveragerConfig;
import io.averager.service.AveragerService;
import io.averager.store.Stores;
import io.averager.topology.Selection;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Recomputes the EMAs of some runs with new profiles from the retained snapshots history. It
 * runs the service's own topology and sink under a fresh application id, with a state directory,
 * checkpoints topic and dead-letter topic of its own, so it never touches the live service's
 * state, offsets or internal topics. Its checkpoint files and manifests go where the live
 * service's go, under the new profile names. It stops once it has processed the history captured
 * at its start and every checkpoint it emitted is stored, then deletes what it created.
 */
public final class Replay {

    private static final Logger log = LoggerFactory.getLogger(Replay.class);
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private final Map<String, String> settings;
    private final Selection selection;
    private final boolean overwrite;
    private final boolean keepState;

    /**
     * @param settings the live service's settings (cluster, topics, checkpoint store, security)
     *     with the replay's profiles and cadence in place of the live ones
     * @param selection the runs to replay and the step range
     * @param overwrite replace existing checkpoints of a profile name
     * @param keepState keep the replay's internal topics and state instead of deleting them
     */
    public Replay(Map<String, String> settings, Selection selection, boolean overwrite, boolean keepState) {
        if (selection.runs().isEmpty()) {
            throw new IllegalArgumentException("a replay needs at least one run");
        }
        this.settings = Map.copyOf(settings);
        this.selection = selection;
        this.overwrite = overwrite;
        this.keepState = keepState;
    }

    /**
     * What a replay did.
     *
     * @param manifests the manifests it published
     * @param bytes snapshot bytes read
     * @param seconds from start to the last checkpoint stored
     */
    public record Result(List<CheckpointManifest> manifests, int snapshots, long bytes, double seconds) {
    }

    /** Runs the replay to the end. */
    public Result run(PrintStream out, boolean terminal) throws InterruptedException {
        String appId = "averager-replay-" + UUID.randomUUID().toString().substring(0, 8);
        // Kafka Streams creates it when the replay starts; a replay refused before that leaves nothing.
        Path stateDir = Path.of(System.getProperty("java.io.tmpdir"), appId);
        Map<String, String> s = new HashMap<>(settings);
        s.put("application.id", appId);
        s.put("state.dir", stateDir.toString());
        s.put(AveragerConfig.TOPIC_CHECKPOINTS_CONFIG, appId + "-checkpoints");
        s.put(AveragerConfig.TOPIC_DEAD_LETTERS_CONFIG, appId + "-dead-letters");
        s.put(AveragerConfig.TOPIC_RUN_EVENTS_CONFIG, appId + "-run-events");
        AveragerConfig config = new AveragerConfig(s);
        String snapshots = config.getString(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG);
        refuseOverwrite(config);
        History history = History.capture(config.clientProperties(), snapshots, TIMEOUT);
        ReplayProgress progress = new ReplayProgress(history);
        List<CheckpointManifest> published = new java.util.concurrent.CopyOnWriteArrayList<>();
        out.printf("Replaying runs %s from %s (%d records) with profiles %s as %s%n", selection.runs(), snapshots,
                history.records(), config.getList(AveragerConfig.PROFILES_CONFIG), appId);
        try (AveragerService service = AveragerService.start(config, selection, progress, m -> {
            progress.stored(m);
            published.add(m);
        })) {
            while (!(progress.readAll() && progress.storedAll())) {
                Thread.sleep(250);
                progress.render(out, terminal);
                if (service.failure().isDone()) {
                    throw new AveragerException("Replay failed: " + service.failure().getNow(null));
                }
                checkHistoryStart(history, progress);
            }
            progress.render(out, terminal);
            if (terminal) {
                out.println();
            }
            for (String run : selection.runs()) {
                if (!progress.firstSteps().containsKey(run)) {
                    throw new AveragerException("No snapshot of run " + run + " in " + snapshots
                            + stepRange() + ": nothing to replay");
                }
            }
        } finally {
            if (!keepState) {
                cleanUp(config, appId, stateDir);
            }
        }
        out.printf("Replay done: %d snapshots, %s in %.1f s, %d checkpoints stored%n", progress.snapshots(),
                ReplayProgress.size(progress.bytes()), progress.seconds(), progress.checkpoints());
        return new Result(List.copyOf(published), progress.snapshots(), progress.bytes(), progress.seconds());
    }

    private void refuseOverwrite(AveragerConfig config) {
        if (overwrite) {
            return;
        }
        List<String> profiles = config.getList(AveragerConfig.PROFILES_CONFIG);
        String topic = config.getString(AveragerConfig.TOPIC_MANIFESTS_CONFIG);
        List<CheckpointManifest> existing;
        try {
            existing = ManifestLog.readAll(config.clientProperties(), topic, TIMEOUT);
        } catch (AveragerException e) {
            log.debug("No manifests to check against: {}", e.getMessage());
            return;
        }
        existing.stream()
                .filter(m -> selection.runs().contains(m.getRun()) && profiles.contains(m.getProfile()))
                .findFirst()
                .ifPresent(m -> {
                    throw new AveragerException("Run " + m.getRun() + " already has checkpoints of profile "
                            + m.getProfile() + " (e.g. step " + m.getStep() + " at " + m.getUri()
                            + "): choose another profile name, or pass --overwrite to replace them");
                });
    }

    /**
     * Fails when a run's first retained snapshot may not be its first: retention has deleted the
     * start of its partition and no --from-step says where to begin.
     */
    private void checkHistoryStart(History history, ReplayProgress progress) {
        if (selection.fromStep() != Long.MIN_VALUE) {
            return;
        }
        progress.firstSteps().forEach((run, step) -> {
            Integer partition = progress.firstPartition(run);
            long begin = partition == null ? 0 : history.begin().getOrDefault(partition, 0L);
            if (begin > 0) {
                throw new AveragerException("The history of run " + run + " may have lost its first snapshots: partition "
                        + partition + " of " + history.topic() + " starts at offset " + begin
                        + " (older records were deleted by retention), and the first snapshot of the run it holds is step "
                        + step + ". To start the EMA there, replay with --from-step " + step);
            }
        });
    }

    private String stepRange() {
        if (selection.fromStep() == Long.MIN_VALUE && selection.toStep() == Long.MAX_VALUE) {
            return "";
        }
        return " between steps " + (selection.fromStep() == Long.MIN_VALUE ? "start" : selection.fromStep()) + " and "
                + (selection.toStep() == Long.MAX_VALUE ? "end" : selection.toStep());
    }

    /** Deletes the replay's internal topics, consumer groups and state directory. */
    private static void cleanUp(AveragerConfig config, String appId, Path stateDir) {
        try (Admin admin = Admin.create(config.clientProperties())) {
            Set<String> topics = new HashSet<>(Set.of(appId + "-checkpoints", appId + "-dead-letters", appId + "-run-events"));
            Stores.ALL.forEach(store -> topics.add(appId + "-" + store + "-changelog"));
            Set<String> existing = admin.listTopics().names().get();
            admin.deleteTopics(topics.stream().filter(existing::contains).toList()).all().get();
            admin.deleteConsumerGroups(List.of(appId, appId + "-sink")).all().get();
        } catch (Exception e) {
            log.warn("Could not delete all of the replay's internal topics and groups ({}): {}", appId, e.toString());
        }
        try {
            Directories.deleteTree(stateDir);
        } catch (IOException e) {
            log.warn("Could not delete the replay's state directory {}: {}", stateDir, e.toString());
        }
    }
}
