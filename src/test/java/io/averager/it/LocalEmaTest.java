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
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code averager.state.changelog=false}: the EMA store on local disk only. A clean restart
 * keeps it, and the run's checkpoints stay bitwise those of a service with the changelog; an EMA
 * store lost (as when a task moves to an instance without it) stops the service with an error
 * naming the run and its committed step, instead of averaging onto an empty EMA.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class LocalEmaTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    void aCleanRestartKeepsTheLocalEmaAndALostOneStopsTheService() throws Exception {
        String run = SharedKafka.unique("local-ema");
        try (ServiceUnderTest service = new ServiceUnderTest(dir.resolve("local"))) {
            configure(service.settings);
            service.settings.put(AveragerConfig.STATE_CHANGELOG_CONFIG, "false");
            service.start();
            publish(service, run, 1, 2);
            service.awaitCheckpoints(run, 2, List.of("ema"), TIMEOUT);
            service.close();

            service.start();
            publish(service, run, 3, 4);
            Path local = file(service.awaitCheckpoints(run, 4, List.of("ema"), TIMEOUT).get("ema"));
            try (ServiceUnderTest reference = new ServiceUnderTest(dir.resolve("reference"))) {
                configure(reference.settings);
                reference.settings.put(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG, service.snapshotsTopic());
                reference.start();
                Path logged = file(reference.awaitCheckpoints(run, 4, List.of("ema"), TIMEOUT).get("ema"));
                assertThat(Files.mismatch(local, logged)).as("checkpoint of step 4 against the changelogged service's")
                        .isEqualTo(-1L);
            }
            service.close();

            List<Path> emaStores = emaStores(dir.resolve("local").resolve("state"));
            assertThat(emaStores).as("EMA stores of the tasks").isNotEmpty();
            for (Path store : emaStores) {
                Utils.delete(store.toFile());
            }
            service.start();
            Throwable failure = service.service().failure().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertThat(messages(failure)).contains("Run " + run + " (task ",
                    "its committed progress is step 4 (4 snapshots averaged, last checkpoint at step 4)",
                    "the EMA on this instance's disk holds none of it", "averager fork --from " + run + " --step 4");
        }
    }

    private static void configure(Map<String, String> settings) {
        settings.put(AveragerConfig.PROFILES_CONFIG, "ema");
        settings.put("averager.profile.ema.decay", "0.9");
        settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "2");
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
