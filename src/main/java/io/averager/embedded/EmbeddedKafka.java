package io.averager.embedded;

import io.averager.AveragerException;
import io.averager.wire.RecordLimits;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.raft.DynamicVoters;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node KRaft broker in this JVM, its logs under a data directory that survives
 * restarts. Settings suit one machine: replication factor 1, records up to
 * {@link RecordLimits#MAX_MESSAGE_BYTES}, fast session expiry so a restart after a crash
 * recovers in seconds. The ports it listens on are kept in {@value #PORTS_FILE} in the data
 * directory, so that clients configured with its address find it again after a restart.
 * Not thread-safe; close it once.
 */
public final class EmbeddedKafka implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedKafka.class);
    private static final int NODE_ID = 1;
    /** The file in the data directory that keeps the ports of the last start. */
    public static final String PORTS_FILE = "ports.properties";
    private static final String BROKER = "broker";
    private static final String CONTROLLER = "controller";
    private static final String INTERNAL = "internal";

    private final KafkaConfig config;
    private final String bootstrapServers;
    private KafkaRaftServer server;

    private EmbeddedKafka(KafkaConfig config, String bootstrapServers) {
        this.config = config;
        this.bootstrapServers = bootstrapServers;
    }

    /** Starts a broker with its state under {@code dataDir}, formatting it on first use. */
    public static EmbeddedKafka start(Path dataDir) {
        return start(dataDir, Map.of());
    }

    /**
     * Starts a broker with its state under {@code dataDir}; {@code overrides} replace or add
     * broker settings.
     */
    public static EmbeddedKafka start(Path dataDir, Map<String, String> overrides) {
        return start(dataDir, 0, overrides, null);
    }

    /**
     * Starts a broker with its state under {@code dataDir} whose clients connect to
     * {@code port}; 0 keeps the port of the last start on this data directory, or picks a free
     * one on the first.
     */
    public static EmbeddedKafka start(Path dataDir, int port) {
        return start(dataDir, port, Map.of(), null);
    }

    /**
     * Starts a broker whose client listener requires SASL/PLAIN with the given user names and
     * passwords (security.protocol=SASL_PLAINTEXT, sasl.mechanism=PLAIN). The broker talks to
     * itself over a second, plaintext loopback listener.
     */
    public static EmbeddedKafka startWithSaslPlain(Path dataDir, Map<String, String> users) {
        StringBuilder jaas = new StringBuilder("org.apache.kafka.common.security.plain.PlainLoginModule required");
        users.forEach((user, password) -> jaas.append(" user_").append(user).append("=\"").append(password).append('"'));
        return start(dataDir, 0, Map.of(
                "sasl.enabled.mechanisms", "PLAIN",
                "listener.name.sasl_plaintext.plain.sasl.jaas.config", jaas.append(';').toString()), "SASL_PLAINTEXT");
    }

    /**
     * {@link #startWithSaslPlain} with KRaft's {@code StandardAuthorizer}: clients may do only
     * what ACLs allow them, but {@code superUser}, who may do all (and creates the ACLs). The
     * broker's own plaintext loopback listeners act as a super user too.
     */
    public static EmbeddedKafka startWithAcls(Path dataDir, Map<String, String> users, String superUser) {
        StringBuilder jaas = new StringBuilder("org.apache.kafka.common.security.plain.PlainLoginModule required");
        users.forEach((user, password) -> jaas.append(" user_").append(user).append("=\"").append(password).append('"'));
        return start(dataDir, 0, Map.of(
                "sasl.enabled.mechanisms", "PLAIN",
                "listener.name.sasl_plaintext.plain.sasl.jaas.config", jaas.append(';').toString(),
                "authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "super.users", "User:ANONYMOUS;User:" + superUser), "SASL_PLAINTEXT");
    }

    private static EmbeddedKafka start(Path dataDir, int port, Map<String, String> overrides, String clientProtocol) {
        try {
            Files.createDirectories(dataDir);
            Properties ports = ports(dataDir, port, clientProtocol == null
                    ? List.of(BROKER, CONTROLLER) : List.of(BROKER, CONTROLLER, INTERNAL));
            int brokerPort = Integer.parseInt(ports.getProperty(BROKER));
            int controllerPort = Integer.parseInt(ports.getProperty(CONTROLLER));
            Properties p = new Properties();
            p.put("process.roles", "broker,controller");
            p.put("node.id", Integer.toString(NODE_ID));
            p.put("controller.quorum.bootstrap.servers", "127.0.0.1:" + controllerPort);
            p.put("controller.listener.names", "CONTROLLER");
            if (clientProtocol == null) {
                p.put("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
                p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
                p.put("inter.broker.listener.name", "PLAINTEXT");
                p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
            } else {
                int internalPort = Integer.parseInt(ports.getProperty(INTERNAL));
                p.put("listeners", clientProtocol + "://127.0.0.1:" + brokerPort + ",INTERNAL://127.0.0.1:" + internalPort
                        + ",CONTROLLER://127.0.0.1:" + controllerPort);
                p.put("advertised.listeners", clientProtocol + "://127.0.0.1:" + brokerPort + ",INTERNAL://127.0.0.1:" + internalPort);
                p.put("inter.broker.listener.name", "INTERNAL");
                p.put("listener.security.protocol.map", clientProtocol + ":" + clientProtocol
                        + ",INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT");
            }
            p.put("log.dirs", dataDir.resolve("kafka").toAbsolutePath().toString());
            p.put("offsets.topic.replication.factor", "1");
            p.put("offsets.topic.num.partitions", "1");
            p.put("transaction.state.log.replication.factor", "1");
            p.put("transaction.state.log.min.isr", "1");
            p.put("transaction.state.log.num.partitions", "1");
            p.put("share.coordinator.state.topic.replication.factor", "1");
            p.put("share.coordinator.state.topic.min.isr", "1");
            p.put("group.initial.rebalance.delay.ms", "0");
            p.put("num.partitions", "1");
            p.put("message.max.bytes", Integer.toString(RecordLimits.MAX_MESSAGE_BYTES));
            p.put("replica.fetch.max.bytes", Integer.toString(RecordLimits.MAX_MESSAGE_BYTES));
            p.put("broker.session.timeout.ms", "3000");
            p.put("broker.heartbeat.interval.ms", "1000");
            // The only replica of a partition is its only possible leader. After an unclean
            // shutdown (a kill, a lost machine) KRaft takes it out of the partition's eligible
            // replicas and elects it again only by an unclean election, which it tries every
            // five minutes by default: until then the transaction coordinator has no leader and
            // every transactional producer times out awaiting InitProducerId. With one replica an
            // unclean election loses nothing, so allow it and try it every second.
            p.put("unclean.leader.election.enable", "true");
            p.put("unclean.leader.election.interval.ms", "1000");
            p.putAll(overrides);
            KafkaConfig config = KafkaConfig.fromProps(p, false);
            if (!Files.exists(Path.of(config.metadataLogDir(), "meta.properties"))) {
                format(config, controllerPort);
            }
            EmbeddedKafka kafka = new EmbeddedKafka(config, "127.0.0.1:" + brokerPort);
            kafka.startServer();
            keep(dataDir, ports);
            log.info("Embedded Kafka broker listening on {} with data in {}", kafka.bootstrapServers, dataDir);
            return kafka;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (Exception e) {
            throw new AveragerException("Cannot start the embedded Kafka broker in " + dataDir + ": " + e.getMessage(), e);
        }
    }

    private void startServer() {
        server = new KafkaRaftServer(config, Time.SYSTEM);
        server.startup();
    }

    /** Stops the broker and starts it again on the same ports and data, as an operator's restart would. */
    public void restart() {
        close();
        startServer();
        log.info("Embedded Kafka broker restarted on {}", bootstrapServers);
    }

    private static void format(KafkaConfig config, int controllerPort) throws Exception {
        new Formatter()
                .setNodeId(NODE_ID)
                .setClusterId(Uuid.randomUuid().toString())
                .setDirectories(config.logDirs())
                .setMetadataLogDirectory(config.metadataLogDir())
                .setControllerListenerName("CONTROLLER")
                .setReleaseVersion(MetadataVersion.LATEST_PRODUCTION)
                .setHasDynamicQuorum(true)
                .setInitialControllers(DynamicVoters.parse(NODE_ID + "@127.0.0.1:" + controllerPort + ":" + Uuid.randomUuid()))
                .setIgnoreFormatted(true)
                .setPrintStream(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()))
                .run();
    }

    /**
     * The ports of {@code listeners}: those of the last start on {@code dataDir}, with {@code port}
     * for clients unless 0, and free ones for any not kept yet. Fails with a clear message when a
     * kept port is taken by another process.
     */
    private static Properties ports(Path dataDir, int port, List<String> listeners) throws IOException {
        Properties ports = new Properties();
        Path file = dataDir.resolve(PORTS_FILE);
        if (Files.exists(file)) {
            try (var in = Files.newInputStream(file)) {
                ports.load(in);
            }
        }
        if (port != 0) {
            ports.setProperty(BROKER, Integer.toString(port));
        }
        for (String listener : listeners) {
            String kept = ports.getProperty(listener);
            if (kept == null) {
                ports.setProperty(listener, Integer.toString(freePort()));
            } else if (!isFree(Integer.parseInt(kept))) {
                throw new AveragerException("Port " + kept + " of the embedded broker's " + listener + " listener (kept in "
                        + file + ") is in use by another process: stop it, or give another port with --port"
                        + (listener.equals(BROKER) ? "" : " after deleting " + file));
            }
        }
        return ports;
    }

    private static void keep(Path dataDir, Properties ports) throws IOException {
        Path file = dataDir.resolve(PORTS_FILE);
        Path tmp = dataDir.resolve(PORTS_FILE + ".tmp");
        try (var out = Files.newOutputStream(tmp)) {
            ports.store(out, "Ports of the embedded Kafka broker, kept across restarts");
        }
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static boolean isFree(int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /** host:port of the client listener. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    @Override
    public void close() {
        if (server != null) {
            server.shutdown();
            server.awaitShutdown();
            server = null;
        }
    }
}
