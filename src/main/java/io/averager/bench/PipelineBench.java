package io.averager.bench;

import io.averager.Directories;
import io.averager.config.AveragerConfig;
import io.averager.ema.Dtype;
import io.averager.embedded.EmbeddedKafka;
import io.averager.kernel.JavaKernel;
import io.averager.publish.SnapshotPublisher;
import io.averager.replay.Replay;
import io.averager.topology.Selection;
import io.averager.wire.RecordLimits;
import io.averager.wire.avro.SnapshotMode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;

/**
 * The pipeline against the broker it runs on, in one run on one embedded broker or on a cluster
 * of the user's: a bare consumer and a bare pipe (producer and consumer at once), then for each
 * model a bare changelogged EMA ({@link BareEma}, its own JVM) and the service, as its own JVM,
 * averaging snapshots published while it runs (publish to checkpoint stored, with the service's
 * peak heap and RSS, the CPU time it spent a GiB against the bare EMA's, and the bytes it sent to
 * Kafka), and for the model nearest
 * 400 MB of float32 a replay and a run without changelog topics. Prints one table, rates as
 * ratios to the bare pipe, with the CPU each row cost a GiB, in the service and in the bench's
 * JVM (the broker and the clients), and how many of the machine's cores were busy.
 */
public final class PipelineBench {

    /** One model of the benchmark. */
    public record Model(long params, Dtype dtype) {
        long bytes() {
            return params * dtype.size();
        }

        String label() {
            return (params >= 1_000_000_000 ? params / 1_000_000_000 + "B" : params / 1_000_000 + "M") + " " + dtype;
        }
    }

    private static final String RUN = "bench-run";
    private static final int RECORD_BYTES = 4 << 20;
    private static final int WARMUP_SNAPSHOTS = 8;
    private static final int PIPE_PASSES = 3;

    private final Path dataDir;
    private final Map<String, String> cluster;
    private final List<Model> models;
    private final long budgetBytes;
    private final Map<String, String> serviceSettings;
    private final List<String> serviceJvm;
    private final PrintStream out;
    private final List<String[]> rows = new ArrayList<>();

    /**
     * @param cluster client settings of the cluster to run on ({@code bootstrap.servers}, security);
     *     empty for an embedded broker in this JVM, under {@code dataDir}
     * @param budgetBytes snapshot bytes to publish a model (at least two snapshots)
     * @param serviceSettings extra service settings for every model (e.g. RocksDB or Kafka options)
     * @param serviceJvm options of the service's JVM
     */
    public PipelineBench(Path dataDir, Map<String, String> cluster, List<Model> models, long budgetBytes,
                         Map<String, String> serviceSettings, List<String> serviceJvm, PrintStream out) {
        this.dataDir = dataDir;
        this.cluster = Map.copyOf(cluster);
        this.models = List.copyOf(models);
        this.budgetBytes = budgetBytes;
        this.serviceSettings = Map.copyOf(serviceSettings);
        this.serviceJvm = List.copyOf(serviceJvm);
        this.out = out;
    }

    public void run() throws IOException, InterruptedException {
        if (!cluster.isEmpty()) {
            run("cluster " + cluster.get("bootstrap.servers"), cluster);
            return;
        }
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dataDir.resolve("kafka"))) {
            run("embedded broker", Map.of("bootstrap.servers", kafka.bootstrapServers()));
        }
    }

    private void run(String where, Map<String, String> clients) throws IOException, InterruptedException {
        out.printf("averager bench pipeline: %s, %d cores here, %s a model, service JVM %s %s%n", where,
                Runtime.getRuntime().availableProcessors(), mib(budgetBytes), serviceJvm, serviceSettings);
        BareKafka bare = new BareKafka(clients);
        int records = (int) Math.max(16, budgetBytes / RECORD_BYTES);
        createTopic(clients, "bench-bare");
        bare.pipe("bench-bare", RECORD_BYTES, records / 4);
        BareKafka.Moved pipe = null;
        CpuUse pipeCpu = null;
        for (int pass = 0; pass < PIPE_PASSES; pass++) {
            CpuUse.Mark mark = CpuUse.now();
            BareKafka.Moved moved = bare.pipe("bench-bare", RECORD_BYTES, records);
            if (pipe == null || moved.rate() > pipe.rate()) {
                pipe = moved;
                pipeCpu = mark.since();
            }
        }
        bare.consume("bench-bare");
        CpuUse.Mark mark = CpuUse.now();
        BareKafka.Moved consumed = bare.consume("bench-bare");
        CpuUse consumerCpu = mark.since();
        deleteTopics(clients, "bench-bare"::equals);
        row("bare consumer, read_committed (page cache)", consumed.rate(), pipe.rate(), "", "", null, null, null,
                consumerCpu, consumed.bytes(), "");
        row("bare pipe: producer and consumer at once, best of " + PIPE_PASSES, pipe.rate(), pipe.rate(), "", "", null,
                null, null, pipeCpu, pipe.bytes(), "");
        Model replayed = models.stream().filter(m -> m.dtype() == Dtype.F32)
                .min(Comparator.comparingLong(m -> Math.abs(m.bytes() - (400L << 20)))).orElse(null);
        for (Model model : models) {
            Workload work = Workload.of(model, budgetBytes);
            Spent bareSpent = bareEma(clients, model, work, pipe.rate());
            endToEnd(clients, model, work, pipe.rate(), bareSpent, true, model.equals(replayed));
            if (model.equals(replayed)) {
                endToEnd(clients, model, work, pipe.rate(), bareSpent, false, false);
            }
        }
        String format = "%-58s %8s %6s %10s %10s %9s %9s %6s %7s %7s %9s %6s %6s %10s%n";
        out.printf(format, "", "", "", "service", "service", "service", "applying", "of it", "bare /", "bare /", "bench JVM",
                "cores", "Kafka", "service");
        out.printf(format, "what", "MiB/s", "/pipe", "peak heap", "peak RSS", "CPU s/GiB", "CPU s/GiB", "JIT", "service",
                "applying", "CPU s/GiB", "busy", "writes", "state dir");
        for (String[] r : rows) {
            out.printf(format, (Object[]) r);
        }
        out.printf("Service CPU s/GiB: the service's to the last checkpoint stored, or the bare changelogged EMA's on its"
                + " rows; applying: the service's to the last snapshot averaged, before its checkpoint; of it JIT: its JIT"
                + " compilers'. Bare / service and bare / applying: the bare EMA's CPU a GiB over those. Kafka writes: bytes"
                + " its producers sent a snapshot byte, which the brokers store once a replica, on top of the snapshot.%n");
        out.printf("The bench JVM runs the bench's own clients (bare clients, publisher, replay)%s; cores busy is this"
                + " machine's average over the timed stretch, of %d.%n", cluster.isEmpty() ? " and the broker" : "",
                Runtime.getRuntime().availableProcessors());
    }

    /**
     * Times one model from the first publish to its checkpoint stored, after a warm-up run of
     * {@value #WARMUP_SNAPSHOTS} snapshots of the same model that lets both JVMs compile their hot
     * code first; then, if asked, replays it.
     */
    private void endToEnd(Map<String, String> clients, Model model, Workload work, double pipe, Spent bare,
                          boolean changelog, boolean replay) throws IOException, InterruptedException {
        String id = "bench-" + model.dtype().name().toLowerCase() + "-" + model.params() + (changelog ? "" : "-local");
        Path dir = dataDir.resolve(id);
        Map<String, String> settings = new HashMap<>(clients);
        settings.put("state.dir", dir.resolve("state").toAbsolutePath().toString());
        settings.put(AveragerConfig.CHECKPOINT_STORE_CONFIG, dir.resolve("checkpoints").toAbsolutePath().toString());
        settings.put("application.id", id);
        settings.put(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG, id + "-snapshots");
        settings.put(AveragerConfig.TOPIC_CHECKPOINTS_CONFIG, id + "-checkpoints");
        settings.put(AveragerConfig.TOPIC_MANIFESTS_CONFIG, id + "-manifests");
        settings.put(AveragerConfig.TOPIC_DEAD_LETTERS_CONFIG, id + "-dead-letters");
        settings.put(AveragerConfig.TOPIC_RUN_EVENTS_CONFIG, id + "-run-events");
        settings.put(AveragerConfig.TOPIC_PARTITIONS_CONFIG, "1");
        settings.put(AveragerConfig.PROFILES_CONFIG, "ema");
        settings.put("averager.profile.ema.decay", "0.999");
        settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "0");
        settings.put(AveragerConfig.STATE_CHANGELOG_CONFIG, Boolean.toString(changelog));
        settings.putAll(serviceSettings);
        String label = model.label() + (changelog ? "" : ", no changelog");
        out.printf("%s: %d snapshots of %s ...%n", label, work.snapshots(), mib(work.model().bytes()));
        long[] peak;
        double seconds;
        Spent spent;
        Spent applying;
        CpuUse benchCpu;
        try (Child service = Child.start(dir, settings, serviceJvm, BenchService.class);
             SnapshotPublisher publisher = new SnapshotPublisher(Map.copyOf(clients),
                     id + "-snapshots", SnapshotPublisher.DEFAULT_GRID)) {
            service.await("ready");
            publish(publisher, "bench-warmup", work.warmup(), WARMUP_SNAPSHOTS);
            Spent before = service.atCheckpoint("bench-warmup", WARMUP_SNAPSHOTS);
            CpuUse.Mark mark = CpuUse.now();
            long start = System.nanoTime();
            publish(publisher, RUN, work.model(), work.snapshots());
            applying = service.atApplied(RUN, work.snapshots()).minus(before);
            spent = service.atCheckpoint(RUN, work.snapshots()).minus(before);
            seconds = (System.nanoTime() - start) / 1e9;
            benchCpu = mark.since();
            peak = service.stop();
        }
        long bytes = work.bytes();
        row("end to end " + label + ", publish to checkpoint", bytes / seconds, pipe, mib(peak[0]), mib(peak[1]),
                spent.perGib(bytes), applying.perGib(bytes), bare, benchCpu, bytes, mib(sizeOf(dir.resolve("state"))));
        if (replay) {
            CpuUse.Mark mark = CpuUse.now();
            Replay.Result result = new Replay(settings, new Selection(Set.of(RUN), Long.MIN_VALUE, Long.MAX_VALUE), true, false)
                    .run(new PrintStream(OutputStream.nullOutputStream()), false);
            row("replay " + label + ", start to last checkpoint", result.bytes() / result.seconds(), pipe, "", "", null,
                    null, null, mark.since(), result.bytes(), "");
        }
        cleanUp(clients, id);
    }

    /** Deletes the topics and consumer groups of {@code id} and its directory, keeping the child's log. */
    private void cleanUp(Map<String, String> clients, String id) throws IOException, InterruptedException {
        deleteTopics(clients, t -> t.startsWith(id + "-"));
        deleteGroups(clients, g -> g.equals(id) || g.startsWith(id + "-"));
        Path dir = dataDir.resolve(id);
        Files.move(dir.resolve("service.log"), dataDir.resolve(id + ".log"), StandardCopyOption.REPLACE_EXISTING);
        Directories.deleteTree(dir);
    }

    /** Publishes {@code snapshots} snapshots of {@code model} as {@code run}, the last one ending the run. */
    private static void publish(SnapshotPublisher publisher, String run, SyntheticModel model, int snapshots) throws IOException {
        for (int step = 1; step <= snapshots; step++) {
            publisher.publish(run, step, SnapshotMode.UPDATE, step == snapshots, Map.of(), model.snapshot(step));
        }
    }

    /**
     * What a model's rows publish: {@code snapshots} snapshots of {@code model} (at least two, as
     * many as the budget holds) after {@value #WARMUP_SNAPSHOTS} of {@code warmup}, the same model
     * cut to 16 Mi parameters.
     */
    private record Workload(SyntheticModel model, SyntheticModel warmup, int snapshots) {
        static Workload of(Model m, long budgetBytes) {
            SyntheticModel model = new SyntheticModel(m.params(), m.dtype(), SnapshotPublisher.DEFAULT_GRID);
            return new Workload(model,
                    new SyntheticModel(Math.min(m.params(), 16L << 20), m.dtype(), SnapshotPublisher.DEFAULT_GRID),
                    (int) Math.max(2, budgetBytes / model.bytes()));
        }

        /** Snapshot bytes of the timed stretch. */
        long bytes() {
            return model.bytes() * snapshots;
        }
    }

    /** What a child JVM spent: CPU seconds, of them its JIT compilers', and bytes its producers sent. */
    record Spent(double cpu, double jit, double produced) {
        Spent minus(Spent earlier) {
            return new Spent(cpu - earlier.cpu, jit - earlier.jit, produced - earlier.produced);
        }

        /** The same a GiB of {@code bytes} (produced: a byte). */
        Spent perGib(long bytes) {
            return new Spent(CpuUse.perGib(cpu, bytes), CpuUse.perGib(jit, bytes), produced / bytes);
        }
    }

    /**
     * A table row: {@code child} is what the service (or the bare EMA) spent a GiB, all in,
     * {@code applying} what the service had spent when the last snapshot was averaged, before its
     * checkpoint, {@code bare} what the bare EMA spent a GiB of the same model (null for rows
     * without them), {@code bench} the CPU this JVM and the machine spent, all moving
     * {@code bytes}.
     */
    private void row(String what, double rate, double pipe, String heap, String rss, Spent child, Spent applying,
                     Spent bare, CpuUse bench, long bytes, String state) {
        boolean ratio = applying != null && bare != null;
        rows.add(new String[] {what, String.format("%.1f", rate / (1 << 20)), String.format("%.2f", rate / pipe), heap, rss,
                child == null ? "" : String.format("%.1f", child.cpu()), applying == null ? "" : String.format("%.1f", applying.cpu()),
                child == null ? "" : String.format("%.1f", child.jit()),
                ratio ? String.format("%.2f", bare.cpu() / child.cpu()) : "",
                ratio ? String.format("%.2f", bare.cpu() / applying.cpu()) : "",
                String.format("%.1f", CpuUse.perGib(bench.processSeconds(), bytes)), String.format("%.2f", bench.busyCores()),
                child == null ? "" : String.format("%.2f", child.produced()), state});
        out.printf("  %s: %.1f MiB/s (%.2f of the bare pipe)%n", what, rate / (1 << 20), rate / pipe);
    }

    /**
     * The bare changelogged EMA ({@link BareEma}, a JVM of its own) on {@code model}'s snapshots,
     * published as for the service, after the same warm-up; adds its row and returns what it spent
     * a GiB.
     */
    private Spent bareEma(Map<String, String> clients, Model model, Workload work, double pipe)
            throws IOException, InterruptedException {
        String id = "bench-bare-" + model.dtype().name().toLowerCase() + "-" + model.params();
        Path dir = dataDir.resolve(id);
        createTopic(clients, id + "-snapshots");
        createTopic(clients, id + "-state", Map.of("cleanup.policy", "compact"));
        Map<String, String> settings = new HashMap<>(clients);
        settings.put(BareEma.INPUT, id + "-snapshots");
        settings.put(BareEma.STATE, id + "-state");
        settings.put(BareEma.FACTOR, Integer.toString(Math.max(1, Dtype.F32.size() / model.dtype().size())));
        out.printf("bare changelogged EMA %s: %d snapshots of %s ...%n", model.label(), work.snapshots(),
                mib(work.model().bytes()));
        Spent spent;
        double seconds;
        CpuUse benchCpu;
        try (Child bare = Child.start(dir, settings, serviceJvm, BareEma.class);
             SnapshotPublisher publisher = new SnapshotPublisher(Map.copyOf(clients), id + "-snapshots",
                     SnapshotPublisher.DEFAULT_GRID)) {
            bare.await("ready");
            publish(publisher, "bench-warmup", work.warmup(), WARMUP_SNAPSHOTS);
            Spent before = bare.atPosition(endOffset(clients, id + "-snapshots"));
            CpuUse.Mark mark = CpuUse.now();
            long start = System.nanoTime();
            publish(publisher, RUN, work.model(), work.snapshots());
            spent = bare.atPosition(endOffset(clients, id + "-snapshots")).minus(before);
            seconds = (System.nanoTime() - start) / 1e9;
            benchCpu = mark.since();
        }
        long bytes = work.bytes();
        Spent perGib = spent.perGib(bytes);
        row("bare changelogged EMA " + model.label() + ", read and write back", bytes / seconds, pipe, "", "", perGib, null, null,
                benchCpu, bytes, "");
        cleanUp(clients, id);
        return perGib;
    }

    /** The end offset of partition 0 of {@code topic}. */
    private static long endOffset(Map<String, String> clients, String topic) throws InterruptedException {
        try (Admin admin = Admin.create(Map.copyOf(clients))) {
            TopicPartition partition = new TopicPartition(topic, 0);
            return admin.listOffsets(Map.of(partition, OffsetSpec.latest())).partitionResult(partition).get().offset();
        } catch (ExecutionException e) {
            throw new IllegalStateException("Could not read the end offset of " + topic, e);
        }
    }

    /** A one-partition topic, replicated as the cluster's default says. */
    private static void createTopic(Map<String, String> clients, String topic) throws InterruptedException {
        createTopic(clients, topic, Map.of());
    }

    private static void createTopic(Map<String, String> clients, String topic, Map<String, String> configs)
            throws InterruptedException {
        Map<String, String> all = new HashMap<>(configs);
        all.put("max.message.bytes", Integer.toString(RecordLimits.MAX_MESSAGE_BYTES));
        try (Admin admin = Admin.create(Map.copyOf(clients))) {
            admin.createTopics(List.of(new NewTopic(topic, Optional.of(1), Optional.empty()).configs(all))).all().get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("Could not create " + topic, e);
        }
    }

    /** Deletes the topics whose names {@code which} accepts. */
    private static void deleteTopics(Map<String, String> clients, Predicate<String> which) throws InterruptedException {
        try (Admin admin = Admin.create(Map.copyOf(clients))) {
            admin.deleteTopics(admin.listTopics().names().get().stream().filter(which).toList()).all().get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("Could not delete the benchmark's topics", e);
        }
    }

    /** Deletes the consumer groups whose ids {@code which} accepts (the service's and its sink's). */
    private static void deleteGroups(Map<String, String> clients, Predicate<String> which) throws InterruptedException {
        try (Admin admin = Admin.create(Map.copyOf(clients))) {
            List<String> groups = admin.listConsumerGroups().all().get().stream().map(g -> g.groupId()).filter(which).toList();
            admin.deleteConsumerGroups(groups).all().get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("Could not delete the benchmark's consumer groups", e);
        }
    }

    /** Bytes of the files under {@code dir}. */
    private static long sizeOf(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        }
    }

    private static String mib(long bytes) {
        return bytes < 0 ? "?" : String.format("%.0f MiB", bytes / (double) (1 << 20));
    }

    /** The service under benchmark, {@link BenchService} in a child JVM on this JVM's classpath. */
    private static final class Child implements AutoCloseable {

        private final Process process;
        private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

        private Child(Process process) {
            this.process = process;
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line = in.readLine(); line != null; line = in.readLine()) {
                        lines.add(line);
                    }
                } catch (IOException e) {
                    lines.add("error " + e.getMessage());
                }
                lines.add("exited");
            }, "bench-service-output");
            reader.setDaemon(true);
            reader.start();
        }

        static Child start(Path dir, Map<String, String> settings, List<String> jvm, Class<?> main) throws IOException {
            Files.createDirectories(dir);
            Path config = dir.resolve("service.properties");
            Properties props = new Properties();
            props.putAll(settings);
            try (OutputStream o = Files.newOutputStream(config)) {
                props.store(o, null);
            }
            List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            // The kernel's vector loops, as the launcher and the container run the service.
            command.addAll(List.of("--add-modules", JavaKernel.VECTOR_MODULE));
            command.addAll(jvm);
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName(), config.toString()));
            return new Child(new ProcessBuilder(command).redirectError(dir.resolve("service.log").toFile()).start());
        }

        /** Waits for a line that starts with {@code prefix}, and returns it. */
        String await(String prefix) throws InterruptedException {
            while (true) {
                String line = lines.poll(600, TimeUnit.SECONDS);
                if (line == null || line.equals("exited")) {
                    throw new IllegalStateException("The benchmarked service " + (line == null ? "said nothing for 10 minutes"
                            : "exited with " + process.waitFor()) + " while waiting for '" + prefix + "'; see its service.log");
                }
                if (line.startsWith(prefix)) {
                    return line;
                }
            }
        }

        /** Waits until the service has averaged the snapshot of {@code run} at {@code step} and returns what it had spent then. */
        Spent atApplied(String run, long step) throws InterruptedException {
            return spent(await("applied " + run + " " + step + " ").split(" "), 3);
        }

        /**
         * Waits for the checkpoint of {@code run} at {@code step} and returns what the service had
         * spent then.
         */
        Spent atCheckpoint(String run, long step) throws InterruptedException {
            return spent(await("checkpoint " + run + " " + step + " ").split(" "), 3);
        }

        /** The CPU nanoseconds, produced bytes and JIT nanoseconds at {@code from} in a child's line. */
        private static Spent spent(String[] line, int from) {
            return new Spent(Long.parseLong(line[from]) / 1e9, Long.parseLong(line[from + 2]) / 1e9, Long.parseLong(line[from + 1]));
        }

        /**
         * Waits until the bare EMA has committed {@code position} and returns what it had spent then.
         */
        Spent atPosition(long position) throws InterruptedException {
            while (true) {
                String[] committed = await("committed ").split(" ");
                if (Long.parseLong(committed[1]) >= position) {
                    return spent(committed, 2);
                }
            }
        }

        /** Ends the child's input, which stops it. */
        void stopInput() {
            try {
                process.getOutputStream().close();
            } catch (IOException e) {
                // it has exited
            }
        }

        /** Stops the service and returns its peak heap and RSS in bytes. */
        long[] stop() throws InterruptedException {
            stopInput();
            String[] peak = await("peak").split(" ");
            return new long[] {Long.parseLong(peak[1]), Long.parseLong(peak[2])};
        }

        @Override
        public void close() throws InterruptedException {
            stopInput();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }
}
