package io.averager.cli;

import io.averager.config.AveragerConfig;
import io.averager.embedded.EmbeddedKafka;
import io.averager.service.AveragerService;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code averager run}: the service, against a cluster or on the embedded broker. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Runs the service until stopped (Ctrl-C or SIGTERM).",
                "With --config it joins the Kafka cluster the file names; with --embedded it starts a"
                        + " single-node broker inside this JVM and keeps everything under --data-dir."})
final class RunCommand implements Callable<Integer> {

    @Option(names = "--config", paramLabel = "FILE", description = "Properties file: averager.* settings and any Kafka Streams or client setting.")
    Path config;

    @Option(names = "--embedded", description = "Start a Kafka broker inside this JVM.")
    boolean embedded;

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "averager-data",
            description = "With --embedded: broker logs, state and checkpoints go here (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--port", paramLabel = "PORT", defaultValue = "0",
            description = "With --embedded: the port clients connect to (default: the one used last on --data-dir, else a free one).")
    int port;

    @Option(names = {"-D", "--set"}, paramLabel = "KEY=VALUE", description = "A setting that overrides the config file.")
    Map<String, String> overrides = new HashMap<>();

    @Override
    public Integer call() throws Exception {
        if (config == null && !embedded) {
            System.err.println("Give --config FILE to join a cluster, or --embedded to run one here.");
            return 2;
        }
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch stopped = new CountDownLatch(1);
        // The JVM halts once shutdown hooks return: hold it until the service has closed cleanly.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.countDown();
            try {
                stopped.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "averager-shutdown"));
        EmbeddedKafka kafka = embedded ? EmbeddedKafka.start(dataDir.resolve("kafka"), port) : null;
        try {
            Map<String, String> settings = new HashMap<>();
            if (kafka != null) {
                settings.putAll(AveragerConfig.embeddedDefaults(kafka.bootstrapServers(), dataDir));
                System.out.println("bootstrap.servers=" + kafka.bootstrapServers());
            }
            settings.putAll(overrides);
            AveragerConfig cfg = config != null ? AveragerConfig.load(config, settings) : new AveragerConfig(settings);
            try (AveragerService service = AveragerService.start(cfg, m -> System.out.println(Format.manifest(m)))) {
                service.failure().thenRun(stop::countDown);
                stop.await();
                return service.failure().isDone() ? 1 : 0;
            }
        } finally {
            if (kafka != null) {
                kafka.close();
            }
            stopped.countDown();
        }
    }
}
