package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.averager.config.AveragerConfig;
import io.averager.it.CheckpointComparison.Output;
import io.averager.it.Workload.CheckpointKey;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Three instances of one application, each its own JVM with its own state directory, share the
 * work of {@value #RUNS} runs: the second and third join while the runs publish, the second is
 * killed with SIGKILL while its sink writes a checkpoint file, the third is stopped with SIGTERM
 * and started again. Every checkpoint they store together must be bitwise what one uninterrupted
 * instance stores, with one manifest content per checkpoint, and all the while the HTTP API of
 * every live instance lists every run and serves each run's EMA through its current owner. With
 * one standby replica, the killed instance's tasks move to the instance that kept their standby.
 * The time from the kill until the killed instance's runs are averaged again is logged (see
 * docs/BENCHMARKS.md).
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class ScaleOutTest {

    private static final Logger log = LoggerFactory.getLogger(ScaleOutTest.class);

    private static final int RUNS = 4;
    private static final int PARTITIONS = 3;
    private static final int SNAPSHOTS_PER_RUN = 36;
    private static final long STEP_GAP = 10;
    private static final long EVERY_STEPS = 30;
    private static final long GRID = 256;
    private static final Duration PAUSE = Duration.ofMillis(40);
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration FINISH_TIMEOUT = Duration.ofSeconds(150);
    private static final List<String> PROFILES = List.of("ema", "slow");

    @TempDir
    Path dir;

    @Test
    void threeInstancesThatJoinDieAndRestartStoreWhatOneUninterruptedInstanceStores() throws Exception {
        scaleOut(0);
    }

    @Test
    void withAStandbyTheKilledInstancesTasksFailOverToIt() throws Exception {
        scaleOut(1);
    }

    private void scaleOut(int standbys) throws Exception {
        String name = SharedKafka.unique("scale");
        Workload workload = new Workload(onEveryPartition(name), RUNS, SNAPSHOTS_PER_RUN, STEP_GAP);
        Set<CheckpointKey> expected = workload.checkpointsEvery(EVERY_STEPS, PROFILES);
        Path store = dir.resolve("checkpoints");
        // a and b are static members of their groups, c is not: its sink's id is kept in its state directory.
        Instance a = new Instance(dir.resolve("a"), settings(name, store, standbys, "a"));
        Instance b = new Instance(dir.resolve("b"), settings(name, store, standbys, "b"));
        Instance c = new Instance(dir.resolve("c"), settings(name, store, standbys, null));
        HttpWatch watch = new HttpWatch(workload.runs);
        List<CheckpointManifest> manifests;
        Semaphore allowance = new Semaphore(0);
        CompletableFuture<Void> publishing = CompletableFuture.runAsync(() -> workload.publishToSharedBroker(name + "-snapshots", GRID, PAUSE, allowance));
        try {
            a.start();
            allowance.release(RUNS * 6);
            TopicReader.awaitManifests(SharedKafka.bootstrapServers(), name + "-manifests",
                    workload.runs.stream().map(r -> new CheckpointKey(r, "ema", EVERY_STEPS)).collect(Collectors.toSet()),
                    FINISH_TIMEOUT, a.process::assertAlive);
            watch.start(a);

            b.start();
            watch.add(b);
            allowance.release(RUNS * 6);
            c.start();
            watch.add(c);
            allowance.release(RUNS * 6);
            watch.assertEmaThroughOwners();

            // SIGKILL b while its sink writes a checkpoint file, the runs still publishing.
            Map<String, String> standbyOf = standbys > 0 ? standbyHolders(List.of(a, c), b) : Map.of();
            allowance.release(RUNS * 10);
            boolean midFile = b.awaitNewPartialFile(Duration.ofSeconds(30));
            Map<String, Long> stepsOfB = runsOwnedBy(a, b);
            watch.remove(b);
            b.process.kill();
            long killed = System.nanoTime();
            assertThat(midFile).as("b's sink was writing a file when it was killed").isTrue();
            assertThat(stepsOfB).as("runs b owned when it was killed").isNotEmpty();
            Map<String, String> newOwners = awaitAveragedAgain(a, stepsOfB);
            long recoveryMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
            log.info("With {} standby replica(s): the runs of the killed instance ({}) were averaged again {} ms after"
                    + " the kill, by {}", standbys, stepsOfB.keySet(), recoveryMs, newOwners);
            if (standbys > 0) {
                assertThat(newOwners).as("new owners of b's runs against who kept their standbys")
                        .containsAllEntriesOf(Map.copyOf(standbyOf.entrySet().stream()
                                .filter(e -> stepsOfB.containsKey(e.getKey()))
                                .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue))));
            }
            watch.assertEmaThroughOwners();

            // SIGTERM c and start it again on its state.
            watch.remove(c);
            c.process.stop();
            c.start();
            watch.add(c);
            watch.assertEmaThroughOwners();

            allowance.release(workload.total());
            publishing.get(3, TimeUnit.MINUTES);
            manifests = TopicReader.awaitManifests(SharedKafka.bootstrapServers(), name + "-manifests", expected,
                    FINISH_TIMEOUT, () -> {
                        a.process.assertAlive();
                        c.process.assertAlive();
                    });
            watch.assertEmaThroughOwners();
        } finally {
            watch.close();
            for (Instance i : List.of(a, b, c)) {
                i.process.stop();
            }
        }
        watch.assertEveryAnswerListedEveryRun();
        assertThat(TopicReader.readAll(SharedKafka.bootstrapServers(), name + "-dead-letters"))
                .as("records dead-lettered while instances came and went").isEmpty();

        CheckpointComparison.assertSameAsReference(new Output(manifests, store), dir.resolve("reference"), Workload.emaAndSlow(EVERY_STEPS),
                name + "-snapshots", expected, FINISH_TIMEOUT);
    }

    /** Which instance holds a standby of each run, by the runs they list as {@code standby}. */
    private static Map<String, String> standbyHolders(List<Instance> holders, Instance of) throws Exception {
        Map<String, String> holder = new java.util.HashMap<>();
        Await.waitingFor("standbys of the runs of " + of.address(), START_TIMEOUT).every(Duration.ofMillis(200)).within(() -> {
            holder.clear();
            for (Instance i : holders) {
                for (JsonNode r : i.api.json("/runs?scope=local").path("runs")) {
                    if ("standby".equals(r.path("source").asText()) && of.address().equals(r.path("owner").asText())) {
                        holder.put(r.path("run").asText(), i.address());
                    }
                }
            }
            return !holder.isEmpty();
        });
        return holder;
    }

    /** The runs {@code owner} averages, by {@code asked}'s /runs, with their last steps. */
    private static Map<String, Long> runsOwnedBy(Instance asked, Instance owner) throws Exception {
        Map<String, Long> steps = new java.util.HashMap<>();
        for (JsonNode r : asked.api.json("/runs").path("runs")) {
            if (owner.address().equals(r.path("owner").asText())) {
                steps.put(r.path("run").asText(), r.path("lastStep").asLong());
            }
        }
        return steps;
    }

    /** Waits until each run has a new owner that has averaged a step past the given one; returns the owners. */
    private static Map<String, String> awaitAveragedAgain(Instance asked, Map<String, Long> steps) throws Exception {
        JsonNode runs = Await.waitingFor("runs " + steps + " to be averaged again, by " + asked.address() + "'s /runs",
                FINISH_TIMEOUT).every(Duration.ofMillis(100))
                .until(() -> asked.api.json("/runs"), r -> averagedAgain(r, steps).keySet().equals(steps.keySet()));
        return averagedAgain(runs, steps);
    }

    /** The runs of {@code runs} listed as active with a step past the given one, with their owners. */
    private static Map<String, String> averagedAgain(JsonNode runs, Map<String, Long> steps) {
        Map<String, String> owners = new java.util.HashMap<>();
        for (JsonNode r : runs.path("runs")) {
            Long before = steps.get(r.path("run").asText());
            if (before != null && "active".equals(r.path("source").asText()) && r.path("lastStep").asLong() > before) {
                owners.put(r.path("run").asText(), r.path("owner").asText());
            }
        }
        return owners;
    }

    private static Properties settings(String name, Path store, int standbys, String staticMember) throws IOException {
        Properties p = ServiceProcess.settings(name, store, PARTITIONS, Workload.emaAndSlow(EVERY_STEPS));
        if (staticMember != null) {
            p.put("consumer.group.instance.id", name + "-" + staticMember);
        }
        p.put("num.standby.replicas", Integer.toString(standbys));
        p.put(AveragerConfig.HTTP_PORT_CONFIG, Integer.toString(freePort()));
        p.put(AveragerConfig.HTTP_ADVERTISED_CONFIG, "127.0.0.1");
        return p;
    }

    /** A prefix whose runs {@code prefix-run-i} lie on every partition, so that every instance's sink gets files. */
    private static String onEveryPartition(String name) {
        for (int attempt = 0; ; attempt++) {
            String prefix = name + "-" + attempt;
            Set<Integer> partitions = new HashSet<>();
            for (int i = 0; i < RUNS; i++) {
                byte[] key = (prefix + "-run-" + i).getBytes(StandardCharsets.UTF_8);
                partitions.add(Utils.toPositive(Utils.murmur2(key)) % PARTITIONS);
            }
            if (partitions.size() == PARTITIONS) {
                return prefix;
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /** One instance: its JVM, its HTTP API and its spool. */
    private static final class Instance {

        final ServiceProcess process;
        final HttpApi api;
        final Path spool;
        private Set<Path> seen = Set.of();

        Instance(Path dir, Properties settings) throws IOException {
            Files.createDirectories(dir);
            settings.put("state.dir", dir.resolve("state").toString());
            this.process = new ServiceProcess(dir, settings, "-Xmx256m", ServiceProcess.LOG_STREAMS_STATE);
            this.api = new HttpApi(Integer.parseInt(settings.getProperty(AveragerConfig.HTTP_PORT_CONFIG)));
            this.spool = dir.resolve("state/spool");
        }

        void start() throws Exception {
            process.start();
            process.awaitRunning(START_TIMEOUT);
            api.awaitReady(START_TIMEOUT);
        }

        String address() {
            return "127.0.0.1:" + api.port;
        }

        /** Waits until the sink begins a file it had not begun before; false if it does not within the timeout. */
        boolean awaitNewPartialFile(Duration timeout) throws IOException, InterruptedException {
            // Files live for milliseconds: look often.
            return Await.waitingFor("a new partial file in " + spool, timeout).every(Duration.ofMillis(2))
                    .whileAlive(process::assertAlive).within(() -> {
                        Set<Path> now = partialFiles();
                        if (!seen.containsAll(now)) {
                            return true;
                        }
                        seen = now;
                        return false;
                    });
        }

        private Set<Path> partialFiles() throws IOException {
            if (!Files.isDirectory(spool)) {
                return Set.of();
            }
            try (Stream<Path> files = Files.list(spool)) {
                return files.filter(f -> f.getFileName().toString().endsWith(".part")).collect(Collectors.toSet());
            }
        }
    }

    /**
     * Asks every live instance for {@code /runs} every 200 ms on a thread of its own and keeps
     * what did not list every run exactly once; downloads each run's EMA through every live
     * instance on request.
     */
    private static final class HttpWatch implements AutoCloseable {

        private final Set<String> runs;
        private final List<Instance> live = new CopyOnWriteArrayList<>();
        private final List<String> wrong = new CopyOnWriteArrayList<>();
        private final AtomicInteger answers = new AtomicInteger();
        private final AtomicBoolean closed = new AtomicBoolean();
        private Thread thread;

        HttpWatch(List<String> runs) {
            this.runs = new TreeSet<>(runs);
        }

        void start(Instance first) {
            live.add(first);
            thread = new Thread(this::watch, "http-watch");
            thread.setDaemon(true);
            thread.start();
        }

        void add(Instance i) {
            live.add(i);
        }

        /** Stops asking {@code i}: call before stopping or killing it. */
        void remove(Instance i) {
            live.remove(i);
        }

        private void watch() {
            while (!closed.get()) {
                for (Instance i : live) {
                    try {
                        HttpResponse<String> r = i.api.get("/runs");
                        if (!live.contains(i)) {
                            // Removed while asked: it is stopping, and may say so (PENDING_SHUTDOWN).
                            continue;
                        }
                        answers.incrementAndGet();
                        if (r.statusCode() != 200) {
                            wrong.add(i.address() + " answered " + r.statusCode() + ": " + r.body());
                            continue;
                        }
                        List<String> listed = new ArrayList<>();
                        HttpApi.JSON.readTree(r.body()).path("runs").forEach(run -> listed.add(run.path("run").asText()));
                        if (listed.size() != runs.size() || !runs.equals(new TreeSet<>(listed))) {
                            wrong.add(i.address() + " listed " + listed + ": " + r.body());
                        }
                    } catch (Exception e) {
                        if (live.contains(i) && !closed.get()) { // not the interrupt of close()
                            wrong.add(i.address() + " did not answer: " + e);
                        }
                    }
                }
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        /**
         * Each run's EMA, asked of every live instance, is served by its owner: directly, or by a
         * redirect to an instance of the application. Retries while a rebalance leaves a run unowned.
         */
        void assertEmaThroughOwners() throws Exception {
            Set<String> addresses = live.stream().map(Instance::address).collect(Collectors.toSet());
            for (Instance i : live) {
                for (String run : runs) {
                    String path = "/runs/" + HttpApi.segment(run) + "/ema?profile=ema";
                    Await.waitingFor("the EMA of " + run + " served through " + i.address(), Duration.ofSeconds(30))
                            .every(Duration.ofMillis(200)).until(() -> {
                                try {
                                    HttpResponse<String> direct = i.api.get(path);
                                    if (direct.statusCode() == 307) {
                                        String location = direct.headers().firstValue("Location").orElse("");
                                        assertThat(addresses.stream().anyMatch(a -> location.startsWith("http://" + a + "/")))
                                                .as("%s redirected %s to %s, one of %s", i.address(), run, location, addresses)
                                                .isTrue();
                                    }
                                    HttpResponse<byte[]> followed = i.api.bytes(path);
                                    if (followed.statusCode() == 200) {
                                        assertThat(followed.headers().firstValue("X-Averager-Step")).isPresent();
                                        return true;
                                    }
                                    assertThat(followed.statusCode()).as("EMA of %s through %s: %s", run, i.address(),
                                            new String(followed.body(), StandardCharsets.UTF_8)).isIn(409, 503);
                                } catch (IOException e) {
                                    // The EMA moved on, or its task moved, while it was streamed: the owner cut the download short.
                                    log.info("Download of the EMA of {} through {} cut short: {}", run, i.address(), e.toString());
                                }
                                return false;
                            });
                }
            }
        }

        void assertEveryAnswerListedEveryRun() {
            log.info("{} answers of /runs while instances came and went", answers.get());
            assertThat(answers.get()).as("answers of /runs").isGreaterThan(20);
            assertThat(wrong).as("answers of /runs that did not list every run once").isEmpty();
        }

        @Override
        public void close() throws InterruptedException {
            closed.set(true);
            if (thread != null) {
                thread.interrupt();
                thread.join(5_000);
            }
        }
    }
}
