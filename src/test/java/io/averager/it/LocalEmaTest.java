package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.AveragerConfig;
import io.averager.publish.SnapshotPublisher;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SnapshotMode;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code averager.state.changelog=false}: the EMA store on local disk only. A clean restart
 * keeps it; an EMA store put back to an earlier commit (what a killed instance restarts with)
 * catches up from the run's partition of snapshots, and so does one lost altogether (as when a
 * task moves to an instance without it), from the run's first record; each time the run's
 * checkpoints stay bitwise those of a service with the changelog. Lost with its history gone, it
 * stops the service with an error naming the run and its committed step, instead of averaging
 * onto an empty EMA.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class LocalEmaTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    void aLocalEmaLeftBehindOrLostCatchesUpAndStopsTheServiceWhereItCannot() throws Exception {
        String run = SharedKafka.unique("local-ema");
        Path stateDir = dir.resolve("local").resolve("state");
        Path backup = dir.resolve("backup");
        try (ServiceUnderTest service = new ServiceUnderTest(dir.resolve("local"));
             ServiceUnderTest reference = new ServiceUnderTest(dir.resolve("reference"))) {
            configure(service.settings);
            service.settings.put(AveragerConfig.STATE_CHANGELOG_CONFIG, "false");
            service.start();
            configure(reference.settings);
            reference.settings.put(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG, service.snapshotsTopic());
            reference.start();
            publish(service, run, 1, 2);
            service.awaitCheckpoints(run, 2, List.of("ema"), TIMEOUT);
            service.close();
            copyEmaStores(stateDir, backup);

            // A clean restart keeps the local EMA.
            service.start();
            publish(service, run, 3, 4);
            assertSameCheckpoint(service, reference, run, 4);
            service.close();

            // The EMA of step 2 put back, as a killed instance's RocksDB would be: it catches up on steps 3 and 4,
            // whose checkpoint dropped step 2's restore point.
            deleteEmaStores(stateDir);
            copyEmaStores(backup, stateDir);
            service.start();
            publish(service, run, 5, 6);
            assertSameCheckpoint(service, reference, run, 6);
            service.close();

            // No local EMA at all, as on an instance the task moved to: it catches up from the run's first record.
            deleteEmaStores(stateDir);
            service.start();
            publish(service, run, 7, 8);
            assertSameCheckpoint(service, reference, run, 8);
            service.close();

            // Again, with the snapshots history gone: it cannot.
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
                Map<TopicPartition, OffsetSpec> ends = new HashMap<>();
                for (int p = 0; p < 2; p++) {
                    ends.put(new TopicPartition(service.snapshotsTopic(), p), OffsetSpec.latest());
                }
                Map<TopicPartition, RecordsToDelete> deleted = new HashMap<>();
                admin.listOffsets(ends).all().get().forEach((p, o) -> deleted.put(p, RecordsToDelete.beforeOffset(o.offset())));
                admin.deleteRecords(deleted).all().get();
            }
            deleteEmaStores(stateDir);
            service.start();
            Throwable failure = service.service().failure().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertThat(messages(failure)).contains("Run " + run + " (task ",
                    "its committed progress is step 8 (8 snapshots averaged, last checkpoint at step 8)",
                    "the EMA on this instance's disk holds none of it; its snapshots could not be read again",
                    "averager fork --from " + run + " --step 8");
        }
    }

    private static void deleteEmaStores(Path stateDir) throws Exception {
        List<Path> stores = emaStores(stateDir);
        assertThat(stores).as("EMA stores of the tasks").isNotEmpty();
        for (Path store : stores) {
            Utils.delete(store.toFile());
        }
    }

    private static void assertSameCheckpoint(ServiceUnderTest service, ServiceUnderTest reference, String run, long step)
            throws Exception {
        Path local = file(service.awaitCheckpoints(run, step, List.of("ema"), TIMEOUT).get("ema"));
        Path logged = file(reference.awaitCheckpoints(run, step, List.of("ema"), TIMEOUT).get("ema"));
        assertThat(Files.mismatch(local, logged)).as("checkpoint of step %d against the changelogged service's", step)
                .isEqualTo(-1L);
    }

    /** Copies every task's EMA store under {@code from} to the same place under {@code to}. */
    private static void copyEmaStores(Path from, Path to) throws Exception {
        for (Path store : emaStores(from)) {
            try (Stream<Path> files = Files.walk(store)) {
                for (Path f : files.toList()) {
                    Path target = to.resolve(from.relativize(f).toString());
                    if (Files.isDirectory(f)) {
                        Files.createDirectories(target);
                    } else {
                        Files.copy(f, target);
                    }
                }
            }
        }
    }

    private static void configure(Map<String, String> settings) {
        settings.put(AveragerConfig.PROFILES_CONFIG, "ema");
        settings.put("averager.profile.ema.decay", "0.9");
        settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "2");
        settings.put(AveragerConfig.REWIND_RESTORE_POINTS_CONFIG, "1");
    }

    private static void publish(ServiceUnderTest service, String run, long... steps) throws Exception {
        try (SnapshotPublisher publisher = new SnapshotPublisher(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()),
                service.snapshotsTopic(), SnapshotPublisher.DEFAULT_GRID)) {
            for (long step : steps) {
                publisher.publish(run, step, SnapshotMode.UPDATE, false, Map.of(), TestModel.sources(TestModel.weights(step)));
            }
        }
    }

    /** The EMA store of every task under the state directory: {@code <app>/<task>/rocksdb/ema}. */
    private static List<Path> emaStores(Path stateDir) throws Exception {
        try (Stream<Path> paths = Files.walk(stateDir)) {
            return paths.filter(p -> Files.isDirectory(p) && p.getFileName().toString().equals("ema")
                    && p.getParent().getFileName().toString().equals("rocksdb")).toList();
        }
    }

    private static String messages(Throwable t) {
        List<String> messages = new ArrayList<>();
        for (Throwable c = t; c != null; c = c.getCause()) {
            messages.add(String.valueOf(c.getMessage()));
        }
        return String.join(" <- ", messages);
    }

    private static Path file(CheckpointManifest m) {
        return Path.of(URI.create(m.getUri()));
    }
}
