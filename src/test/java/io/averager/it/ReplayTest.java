package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.cli.Main;
import io.averager.config.AveragerConfig;
import io.averager.publish.SnapshotPublisher;
import io.averager.wire.avro.SnapshotMode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A replay of the retained history gives the checkpoints a live service configured with the same
 * profiles from the start gave, bit for bit, for one profile or three in one pass; it leaves the
 * live service's checkpoints alone, cleans up after itself, and refuses to start silently from a
 * history that retention has cut.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ReplayTest {

    private static final List<String> PROFILES = List.of("ema", "fast", "slow", "warm");

    @TempDir
    Path dir;

    @Test
    void replayReproducesTheLiveCheckpointsExactly() throws Exception {
        String runA = SharedKafka.unique("replay-a");
        String runB = SharedKafka.unique("replay-b");
        Set<String> stateDirsBefore = replayStateDirs();
        try (ServiceUnderTest live = new ServiceUnderTest(dir.resolve("live"))) {
            live.settings.put(AveragerConfig.PROFILES_CONFIG, String.join(",", PROFILES));
            live.settings.put("averager.profile.ema.decay", "0.9");
            live.settings.put("averager.profile.fast.decay", "0.5");
            live.settings.put("averager.profile.slow.halflife.steps", "40");
            live.settings.put("averager.profile.warm.decay", "0.99");
            live.settings.put("averager.profile.warm.warmup", "power");
            live.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "50");
            live.start();
            try (SnapshotPublisher publisher = new SnapshotPublisher(
                    Map.of("bootstrap.servers", SharedKafka.bootstrapServers()), live.snapshotsTopic(), 1024)) {
                for (long step = 10; step <= 150; step += 10) {
                    for (String run : List.of(runA, runB)) {
                        publisher.publish(run, step, SnapshotMode.UPDATE, step == 150, Map.of(),
                                TestModel.sources(TestModel.weights(step + run.length())));
                    }
                }
            }
            live.awaitCheckpoints(runA, 150, PROFILES, Duration.ofSeconds(90));
            live.awaitCheckpoints(runB, 150, PROFILES, Duration.ofSeconds(90));
            Path liveRuns = dir.resolve("live/checkpoints/runs");

            Path one = dir.resolve("replay-one");
            assertThat(replay(live, one, "--run", runA, "--profile", "ema", "--decay", "0.9")).isZero();
            assertSameFiles(liveRuns, one.resolve("runs"), runA, List.of("ema"));
            assertThat(one.resolve("runs").toFile().list()).as("only the run asked for").hasSize(1);

            Path three = dir.resolve("replay-three");
            assertThat(replay(live, three, "--run", runA, "--run", runB,
                    "--profile", "fast", "--decay", "0.5",
                    "--profile", "slow", "--halflife-steps", "40",
                    "--profile", "warm", "--decay", "0.99", "--warmup", "power")).isZero();
            assertSameFiles(liveRuns, three.resolve("runs"), runA, List.of("fast", "slow", "warm"));
            assertSameFiles(liveRuns, three.resolve("runs"), runB, List.of("fast", "slow", "warm"));

            try (Admin admin = Admin.create(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
                assertThat(admin.listTopics().names().get()).noneMatch(t -> t.startsWith("averager-replay-"));
            }

            int refused = Main.commandLine().execute("replay", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                    "--run", runA, "--profile", "ema", "--decay", "0.9",
                    "-D", AveragerConfig.TOPIC_SNAPSHOTS_CONFIG + "=" + live.snapshotsTopic(),
                    "-D", AveragerConfig.TOPIC_MANIFESTS_CONFIG + "=" + live.name + "-manifests",
                    "-D", AveragerConfig.CHECKPOINT_STORE_CONFIG + "=" + dir.resolve("live/checkpoints"));
            assertThat(refused).as("a replay onto the live profile's name without --overwrite").isNotZero();

            cutHistory(live.snapshotsTopic());
            Path cut = dir.resolve("replay-cut");
            assertThat(replay(live, cut, "--run", runA, "--profile", "ema", "--decay", "0.9"))
                    .as("a replay of a history cut by retention, without --from-step").isNotZero();
            assertThat(replay(live, cut, "--run", runA, "--from-step", "30", "--profile", "ema", "--decay", "0.9"))
                    .as("the same replay starting where the history now starts").isZero();
            assertThat(cut.resolve("runs/" + runA + "/ema/step-150.safetensors")).exists();
        }
        assertThat(replayStateDirs()).as("state directories left by replays, refused ones included").isEqualTo(stateDirsBefore);
    }

    /** The replays' state directories in the temporary directory. */
    private static Set<String> replayStateDirs() throws IOException {
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("averager-replay-")).collect(Collectors.toSet());
        }
    }

    private static int replay(ServiceUnderTest live, Path store, String... args) {
        List<String> command = new ArrayList<>(List.of("replay", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                "--checkpoint-every", "50",
                "-D", AveragerConfig.TOPIC_SNAPSHOTS_CONFIG + "=" + live.snapshotsTopic(),
                "-D", AveragerConfig.TOPIC_MANIFESTS_CONFIG + "=" + SharedKafka.unique("replay-manifests"),
                "-D", AveragerConfig.CHECKPOINT_STORE_CONFIG + "=" + store,
                "-D", AveragerConfig.TOPIC_PARTITIONS_CONFIG + "=2"));
        command.addAll(List.of(args));
        return Main.commandLine().execute(command.toArray(String[]::new));
    }

    /** Every file of {@code run} and the profiles under the live tree has a bitwise twin in the replay's. */
    private static void assertSameFiles(Path live, Path replay, String run, List<String> profiles) throws Exception {
        for (String profile : profiles) {
            Path liveDir = live.resolve(run).resolve(profile);
            List<Path> files;
            try (Stream<Path> s = Files.list(liveDir)) {
                files = s.sorted().toList();
            }
            assertThat(files).as("live checkpoints of %s/%s", run, profile).hasSize(3);
            for (Path f : files) {
                Path twin = replay.resolve(run).resolve(profile).resolve(f.getFileName());
                assertThat(twin).as("replay of %s", f).exists();
                assertThat(Files.readAllBytes(twin)).as("replay of %s", f).isEqualTo(Files.readAllBytes(f));
            }
        }
    }

    /** Deletes the oldest records of every partition, as retention would. */
    private static void cutHistory(String topic) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
            int partitions = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
            Map<TopicPartition, OffsetSpec> latest = new java.util.HashMap<>();
            for (int p = 0; p < partitions; p++) {
                latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
            }
            Map<TopicPartition, RecordsToDelete> cut = new java.util.HashMap<>();
            admin.listOffsets(latest).all().get().forEach((tp, info) -> {
                if (info.offset() > 30) {
                    cut.put(tp, RecordsToDelete.beforeOffset(30));
                }
            });
            admin.deleteRecords(cut).all().get();
        }
    }
}
