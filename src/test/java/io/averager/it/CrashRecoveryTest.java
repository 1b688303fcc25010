package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.AveragerConfig;
import io.averager.it.CheckpointComparison.Output;
import io.averager.it.Workload.CheckpointKey;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.CheckpointHeader;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Killing the service with SIGKILL at random moments, again and again while training runs
 * publish, loses no checkpoint, changes none and publishes no conflicting manifest. The service
 * runs as its own JVM and is killed at least {@value #KILLS} times, each time restarted on the
 * same state while the runs publish {@value #SNAPSHOTS_PER_LIFE} more snapshots. Each kill lands,
 * by a seeded random choice and delay, while the service starts (restoring state, joining its
 * groups), at a random moment of its work, or a few milliseconds after its sink began a file;
 * killing goes on until kills have landed in the middle of a checkpoint (its first records
 * committed, not its last) and while the sink was writing a file. Left to finish, the service must
 * have stored the same checkpoints, bitwise, with the same manifests, as an uninterrupted service
 * that then averages the same snapshots topic. Nothing may be dead-lettered (under exactly-once no
 * crash makes a valid snapshot look broken), and a restarted service must run again within
 * {@link #RESTART_TIMEOUT}.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class CrashRecoveryTest {

    private static final Logger log = LoggerFactory.getLogger(CrashRecoveryTest.class);

    private static final long SEED = 0x5EED_C0FFEEL;
    private static final int KILLS = 12;
    private static final int MAX_KILLS = 15;
    private static final int SNAPSHOTS_PER_LIFE = 8;
    private static final int MAX_STARTING_MS = 2_300;
    private static final int MAX_WORKING_MS = 1_500;
    private static final Duration FILE_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration RESTART_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration FINISH_TIMEOUT = Duration.ofSeconds(120);
    private static final int RUNS = 4;
    private static final int SNAPSHOTS_PER_RUN = 30;
    private static final long STEP_GAP = 10;
    private static final long EVERY_STEPS = 30;
    /** 42 chunks a snapshot of {@link TestModel}. */
    private static final long GRID = 256;
    private static final Duration PAUSE = Duration.ofMillis(20);
    private static final List<String> PROFILES = List.of("ema", "slow");

    @TempDir
    Path dir;

    /**
     * @param changelog the EMA store's changelog; without it, each restart catches the runs' local
     *     EMA up from the snapshots topic (killed, RocksDB has only what it had flushed)
     */
    @ParameterizedTest(name = "averager.state.changelog={0}")
    @ValueSource(booleans = {true, false})
    void serviceKilledAtRandomMomentsStoresExactlyWhatAnUninterruptedServiceStores(boolean changelog) throws Exception {
        String name = SharedKafka.unique("crash");
        Workload workload = new Workload(name, RUNS, SNAPSHOTS_PER_RUN, STEP_GAP);
        Set<CheckpointKey> expected = workload.checkpointsEvery(EVERY_STEPS, PROFILES);
        Path crashed = Files.createDirectories(dir.resolve("crashed"));
        long began = System.nanoTime();

        List<CheckpointManifest> manifests;
        Properties settings = serviceSettings(name, crashed);
        settings.put(AveragerConfig.STATE_CHANGELOG_CONFIG, Boolean.toString(changelog));
        try (ServiceProcess service = new ServiceProcess(crashed, settings, "-Xmx256m",
                ServiceProcess.LOG_STREAMS_STATE).start()) {
            Semaphore allowance = new Semaphore(0);
            CompletableFuture<Void> publishing = CompletableFuture.runAsync(
                    () -> workload.publishToSharedBroker(name + "-snapshots", GRID, PAUSE, allowance));
            killAtRandomMoments(service, new KillSites(name + "-checkpoints", crashed.resolve("state/spool"), workload),
                    allowance);
            allowance.release(workload.total());
            publishing.get(3, TimeUnit.MINUTES);
            manifests = TopicReader.awaitManifests(SharedKafka.bootstrapServers(), name + "-manifests", expected,
                    FINISH_TIMEOUT, service::assertAlive);
            log.info("Kills and recovery took {} s; {} manifests for {} checkpoints",
                    TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - began), manifests.size(), expected.size());
            service.stop();
        }
        assertThat(KillSites.partialFiles(crashed.resolve("state/spool")))
                .as("partial files left in the spool after a clean stop").isEmpty();
        assertThat(TopicReader.readAll(SharedKafka.bootstrapServers(), name + "-dead-letters"))
                .as("records dead-lettered by the killed service").isEmpty();

        CheckpointComparison.assertSameAsReference(new Output(manifests, crashed.resolve("checkpoints")), dir.resolve("reference"), Workload.emaAndSlow(EVERY_STEPS),
                name + "-snapshots", expected, FINISH_TIMEOUT);
    }

    /**
     * Kills and restarts the service {@value #KILLS} times, then on until kills have landed
     * mid-checkpoint and mid-file, or {@value #MAX_KILLS} kills; each life the runs publish
     * {@value #SNAPSHOTS_PER_LIFE} more snapshots.
     */
    private static void killAtRandomMoments(ServiceProcess service, KillSites sites, Semaphore allowance)
            throws Exception {
        Random random = new Random(SEED);
        for (int kill = 1; kill <= KILLS || !sites.sawBoth() && kill <= MAX_KILLS; kill++) {
            allowance.release(SNAPSHOTS_PER_LIFE);
            String moment;
            switch (random.nextInt(3)) {
                case 0 -> {
                    long delay = 300 + random.nextInt(MAX_STARTING_MS - 300);
                    sleepWhileAlive(service, delay);
                    moment = delay + " ms after start";
                }
                case 1 -> {
                    long running = service.awaitRunning(RESTART_TIMEOUT);
                    long delay = random.nextInt(MAX_WORKING_MS);
                    sleepWhileAlive(service, delay);
                    moment = delay + " ms after running (" + running + " ms after start)";
                }
                default -> {
                    long running = service.awaitRunning(RESTART_TIMEOUT);
                    long delay = random.nextInt(50);
                    String writing = sites.awaitNewPartialFile(service) ? "the sink began a file" : "no file begun";
                    sleepWhileAlive(service, delay);
                    moment = delay + " ms after " + writing + " (running " + running + " ms after start)";
                }
            }
            service.kill();
            sites.observe(kill, moment, service);
            service.start();
        }
        assertThat(sites.midCheckpoint).as("kills in the middle of a checkpoint").isPositive();
        assertThat(sites.midFile).as("kills while the sink was writing a file").isPositive();
    }

    private static Properties serviceSettings(String name, Path dir) {
        Properties p = ServiceProcess.settings(name, dir.resolve("checkpoints"), 2, Workload.emaAndSlow(EVERY_STEPS));
        p.put("state.dir", dir.resolve("state").toString());
        // Static membership: a restarted instance takes the place of the killed one at once, in the
        // topology's consumer group and in the sink's, instead of waiting for its session to expire.
        p.put("consumer.group.instance.id", name);
        // Exactly-once's default commit interval rather than the service's second: a checkpoint is
        // emitted while its snapshot is applied, a few tens of milliseconds, so only frequent
        // commits split it between transactions often enough for kills to land in the middle of one.
        p.put("commit.interval.ms", "100");
        return p;
    }

    private static void sleepWhileAlive(ServiceProcess service, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        for (long left; (left = deadline - System.nanoTime()) > 0; ) {
            service.assertAlive();
            TimeUnit.NANOSECONDS.sleep(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
        }
        service.assertAlive();
    }

    /**
     * Where the kills landed, judged from what each killed service left: checkpoints whose first
     * records were committed in its life but not their commit (the topology died mid-checkpoint),
     * and partial files of its life in the sink's spool (the sink died writing them).
     */
    private static final class KillSites {

        private final String checkpointsTopic;
        private final Path spool;
        private final Workload workload;
        private long committed;
        private Set<Path> partial = Set.of();
        int midCheckpoint;
        int midFile;

        KillSites(String checkpointsTopic, Path spool, Workload workload) {
            this.checkpointsTopic = checkpointsTopic;
            this.spool = spool;
            this.workload = workload;
        }

        boolean sawBoth() {
            return midCheckpoint > 0 && midFile > 0;
        }

        /** Waits until the sink has begun a file in this life; false if it has not within {@link #FILE_TIMEOUT}. */
        boolean awaitNewPartialFile(ServiceProcess service) throws IOException, InterruptedException {
            // Files live for milliseconds: look often.
            return Await.waitingFor("a new partial file in " + spool, FILE_TIMEOUT).every(Duration.ofMillis(5))
                    .whileAlive(service::assertAlive).within(() -> !partial.containsAll(partialFiles(spool)));
        }

        void observe(int kill, String moment, ServiceProcess service) throws IOException {
            List<ConsumerRecord<String, byte[]>> records = TopicReader.readAll(SharedKafka.bootstrapServers(), checkpointsTopic);
            int open = openCheckpoints(records);
            boolean inCheckpoint = records.size() > committed && open > 0;
            committed = records.size();
            Set<Path> before = partial;
            partial = partialFiles(spool);
            boolean inFile = !before.containsAll(partial);
            midCheckpoint += inCheckpoint ? 1 : 0;
            midFile += inFile ? 1 : 0;
            log.info("Kill {} at {}: {}/{} snapshots published, {} checkpoints stored in this life, {} half committed{},"
                            + " {} partial files in the spool{}", kill, moment, workload.published.get(), workload.total(),
                    service.logSinceStart().split(" stored at ", -1).length - 1, open,
                    inCheckpoint ? " (in this life)" : "", partial.size(), inFile ? " (in this life)" : "");
        }

        /** Checkpoints (run and profile) whose last committed record is not their commit. */
        private static int openCheckpoints(List<ConsumerRecord<String, byte[]>> records) {
            Map<String, Boolean> open = new HashMap<>();
            for (ConsumerRecord<String, byte[]> r : records) {
                SpecificRecordBase m = WireCodec.decode(r.value());
                if (m instanceof CheckpointHeader h) {
                    open.put(h.getRun() + "/" + h.getProfile(), true);
                } else if (m instanceof CheckpointCommit c) {
                    open.put(c.getRun() + "/" + c.getProfile(), false);
                }
            }
            return (int) open.values().stream().filter(o -> o).count();
        }

        /** Partial checkpoint files in a spool directory; each is named anew. */
        static Set<Path> partialFiles(Path spool) throws IOException {
            if (!Files.isDirectory(spool)) {
                return Set.of();
            }
            try (Stream<Path> files = Files.list(spool)) {
                return files.filter(f -> f.getFileName().toString().endsWith(".part")).collect(Collectors.toSet());
            }
        }
    }
}
