package io.averager.it;

import io.averager.config.AveragerConfig;
import io.averager.kernel.JavaKernel;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * The service as its own JVM, {@code averager run --config FILE} or {@code averager run
 * --embedded --data-dir DIR}, on the classpath of the build that runs the tests. Output of every
 * start goes to one log file. It can be started again after it stopped or was killed, on the
 * same configuration and state. Not thread-safe.
 */
final class ServiceProcess implements AutoCloseable {

    /** JVM options that make the service log when its topology runs, for {@link #awaitRunning}. */
    static final String LOG_STREAMS_STATE = "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.streams.KafkaStreams=info";
    private static final String RUNNING = "State transition from REBALANCING to RUNNING";
    /** Lines are looked for often: a test may time what follows them. */
    private static final Duration LOG_POLL = Duration.ofMillis(20);

    private final List<String> arguments;
    private final Path log;
    private final List<String> jvmOptions;
    private Process process;
    private long logStart;

    /**
     * @param dir where the configuration file and the log go
     * @param config the service's settings
     * @param jvmOptions options for the service's JVM, e.g. -Xmx128m
     */
    ServiceProcess(Path dir, Properties config, String... jvmOptions) throws IOException {
        this(dir, List.of("run", "--config", dir.resolve("averager.properties").toString()), jvmOptions);
        try (OutputStream out = Files.newOutputStream(dir.resolve("averager.properties"))) {
            config.store(out, null);
        }
    }

    private ServiceProcess(Path dir, List<String> arguments, String... jvmOptions) {
        this.arguments = arguments;
        this.log = dir.resolve("service.log");
        this.jvmOptions = List.of(jvmOptions);
    }

    /**
     * Settings of a service in a child JVM on the shared broker: application {@code name}, its
     * topics {@code name-snapshots} and so on with {@code partitions} partitions, checkpoint files
     * under {@code store}, a 6 s session timeout so that a killed instance's partitions move soon,
     * and {@code profiles} (profile and cadence settings).
     */
    static Properties settings(String name, Path store, int partitions, Map<String, String> profiles) {
        Properties p = new Properties();
        p.put("bootstrap.servers", SharedKafka.bootstrapServers());
        p.put("application.id", name);
        p.put("consumer.session.timeout.ms", "6000");
        p.put(AveragerConfig.CHECKPOINT_STORE_CONFIG, store.toString());
        p.put(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG, name + "-snapshots");
        p.put(AveragerConfig.TOPIC_CHECKPOINTS_CONFIG, name + "-checkpoints");
        p.put(AveragerConfig.TOPIC_MANIFESTS_CONFIG, name + "-manifests");
        p.put(AveragerConfig.TOPIC_DEAD_LETTERS_CONFIG, name + "-dead-letters");
        p.put(AveragerConfig.TOPIC_RUN_EVENTS_CONFIG, name + "-run-events");
        p.put(AveragerConfig.TOPIC_PARTITIONS_CONFIG, Integer.toString(partitions));
        p.putAll(profiles);
        return p;
    }

    /**
     * {@code averager run --embedded --data-dir DATA} followed by {@code arguments}, its log in
     * {@code dir}.
     */
    static ServiceProcess embedded(Path dir, Path data, List<String> arguments, String... jvmOptions) {
        List<String> all = new ArrayList<>(List.of("run", "--embedded", "--data-dir", data.toString()));
        all.addAll(arguments);
        return new ServiceProcess(dir, all, jvmOptions);
    }

    /** Starts the service; it must not be running. */
    ServiceProcess start() throws IOException {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException("The service is already running (pid " + process.pid() + ")");
        }
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // The kernel's vector loops, as the launcher and the container run the service.
        command.addAll(List.of("--add-modules", JavaKernel.VECTOR_MODULE));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
                "io.averager.cli.Main"));
        command.addAll(arguments);
        logStart = Files.exists(log) ? Files.size(log) : 0;
        process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        return this;
    }

    /** Kills the service with SIGKILL, as the kernel's OOM killer or a lost machine would, and waits until it is gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError("The service (pid " + process.pid() + ") survived SIGKILL for 30 s");
        }
    }

    /** Stops the service with SIGTERM, killing it if it has not stopped within a minute. */
    void stop() throws InterruptedException {
        if (process == null) {
            return;
        }
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /**
     * Waits until the topology of the latest start runs, as its log says (the JVM must log
     * Kafka Streams' state transitions at INFO); returns how long that took.
     */
    long awaitRunning(Duration timeout) throws InterruptedException {
        long start = System.nanoTime();
        Await.waitingFor("the service's topology to run", timeout).every(LOG_POLL).whileAlive(this::assertAlive)
                .detail(() -> "the log ends:\n" + logTail(40))
                .until(() -> logSinceStart().contains(RUNNING));
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }

    /**
     * Waits until a line of the latest start's log begins with {@code prefix}; returns the rest
     * of that line.
     */
    String awaitLine(String prefix, Duration timeout) throws InterruptedException {
        return Await.waitingFor("a line " + prefix + "... in the service's log", timeout).every(LOG_POLL)
                .whileAlive(this::assertAlive).detail(() -> "the log ends:\n" + logTail(40))
                .present(() -> logSinceStart().lines().filter(line -> line.startsWith(prefix)).findFirst()
                        .map(line -> line.substring(prefix.length()).strip()));
    }

    /** Fails with the exit code and the end of the log unless the service is running. */
    void assertAlive() {
        if (!process.isAlive()) {
            throw new AssertionError("The service exited with " + process.exitValue() + ":\n" + logTail(40));
        }
    }

    /** What the service printed since its latest start. */
    String logSinceStart() {
        try {
            byte[] all = Files.readAllBytes(log);
            return new String(all, (int) Math.min(logStart, all.length), (int) Math.max(0, all.length - logStart),
                    StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The last lines of the log, over every start. */
    String logTail(int lines) {
        try {
            List<String> all = Files.readAllLines(log);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
