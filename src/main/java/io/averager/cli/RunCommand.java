package io.averager.cli;

import io.averager.config.AveragerConfig;
import io.averager.embedded.EmbeddedKafka;
import io.averager.service.AveragerService;
import io.averager.topology.TopicSpec;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
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

    @Option(names = "--broker-only", description = "With --embedded: run the broker and create the service's topics, but average"
            + " nothing: a cluster to try publishers and subscribers on, or to time them without the service's load.")
    boolean brokerOnly;

    @Option(names = {"-D", "--set"}, paramLabel = "KEY=VALUE", description = "A setting that overrides the config file.")
    Map<String, String> overrides = new HashMap<>();

    @Override
    public Integer call() throws Exception {
        if (config == null && !embedded) {
            System.err.println("Give --config FILE to join a cluster, or --embedded to run one here.");
            return 2;
        }
        if (brokerOnly && !embedded) {
            System.err.println("--broker-only runs the embedded broker: give --embedded too.");
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
            if (brokerOnly) {
                try (Admin admin = Admin.create(cfg.clientProperties())) {
                    TopicSpec.createMissing(admin, AveragerService.topics(cfg),
                            cfg.getShort(AveragerConfig.TOPIC_REPLICATION_FACTOR_CONFIG));
                }
                System.out.println("broker only: topics created, nothing averaged; stop with Ctrl-C or SIGTERM");
                stop.await();
                return 0;
            }
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
