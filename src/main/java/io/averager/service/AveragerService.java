package io.averager.service;

import io.averager.AveragerException;
import io.averager.config.AveragerConfig;
import io.averager.config.ProfileConfig;
import io.averager.ema.Profile;
import io.averager.kernel.Kernels;
import io.averager.lifecycle.NonFinitePolicy;
import io.averager.metrics.RunMeters;
import io.averager.ops.CheckpointAccess;
import io.averager.ops.HttpSettings;
import io.averager.ops.OpsServer;
import io.averager.rebuild.ParentCheckpoints;
import io.averager.rebuild.Rebuilder;
import io.averager.sink.CheckpointSink;
import io.averager.sink.FileSystemObjectStore;
import io.averager.sink.ObjectStore;
import io.averager.sink.S3Location;
import io.averager.sink.S3ObjectStore;
import io.averager.sink.S3Settings;
import io.averager.store.EmaRocksDbConfig;
import io.averager.topology.AveragerTopology;
import io.averager.topology.Selection;
import io.averager.topology.SnapshotHistory;
import io.averager.topology.TopicSpec;
import io.averager.topology.TopologyObserver;
import io.averager.topology.TopologySettings;
import io.averager.wire.RecordLimits;
import io.averager.wire.Signatures;
import io.averager.wire.avro.CheckpointManifest;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.state.HostInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The averager service: topics, the Kafka Streams topology and the checkpoint sink, started
 * together and stopped together. A failure of either stops the service and completes
 * {@link #failure()}, so the process can exit and be restarted by whatever supervises it.
 */
public final class AveragerService implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AveragerService.class);

    private final KafkaStreams streams;
    private final CheckpointSink sink;
    private final ObjectStore store;
    private final PrometheusMeterRegistry registry;
    private final Thread sinkThread;
    private final Rebuilder rebuilder;
    private final Thread rebuilderThread;
    private final CompletableFuture<Throwable> failure = new CompletableFuture<>();
    private OpsServer ops;

    private AveragerService(KafkaStreams streams, CheckpointSink sink, Rebuilder rebuilder, ObjectStore store,
                            PrometheusMeterRegistry registry) {
        this.streams = streams;
        this.sink = sink;
        this.rebuilder = rebuilder;
        this.store = store;
        this.registry = registry;
        this.sinkThread = new Thread(this::runSink, "averager-sink");
        this.rebuilderThread = rebuilder == null ? null : new Thread(this::runRebuilder, "averager-rebuilder");
    }

    /**
     * Creates missing topics, then starts the topology and the sink.
     *
     * @param onCheckpoint told of each checkpoint once its manifest is published (sink thread)
     */
    public static AveragerService start(AveragerConfig config, Consumer<CheckpointManifest> onCheckpoint) {
        return start(config, Selection.ALL, TopologyObserver.NONE, onCheckpoint, true);
    }

    /**
     * Starts the service, reporting to {@code observer} (from its stream threads) what the
     * topology does.
     *
     * @param onCheckpoint told of each checkpoint once its manifest is published (sink thread)
     */
    public static AveragerService start(AveragerConfig config, TopologyObserver observer,
                                        Consumer<CheckpointManifest> onCheckpoint) {
        return start(config, Selection.ALL, observer, onCheckpoint, true);
    }

    /**
     * Starts the service averaging only {@code selection}, reporting to {@code observer}: a replay.
     * It runs no rebuilder: the snapshots the live service's rebuilds published again are in the
     * history it reads.
     *
     * @param onCheckpoint told of each checkpoint once its manifest is published (sink thread)
     */
    public static AveragerService start(AveragerConfig config, Selection selection, TopologyObserver observer,
                                        Consumer<CheckpointManifest> onCheckpoint) {
        return start(config, selection, observer, onCheckpoint, false);
    }

    /** The runs whose snapshots must be signed, from averager.snapshot.signing.keys. */
    public static Signatures signatures(AveragerConfig config) {
        Path keys = file(config, AveragerConfig.SNAPSHOT_SIGNING_KEYS_CONFIG);
        return keys == null ? Signatures.none() : Signatures.read(keys);
    }

    /** The HTTP endpoint's settings: address, TLS and who may use it. */
    static HttpSettings httpSettings(AveragerConfig config) {
        return new HttpSettings(config.getString(AveragerConfig.HTTP_BIND_CONFIG), config.getInt(AveragerConfig.HTTP_PORT_CONFIG),
                file(config, AveragerConfig.HTTP_TLS_KEYSTORE_CONFIG), password(config, AveragerConfig.HTTP_TLS_KEYSTORE_PASSWORD_CONFIG),
                file(config, AveragerConfig.HTTP_TLS_TRUSTSTORE_CONFIG),
                password(config, AveragerConfig.HTTP_TLS_TRUSTSTORE_PASSWORD_CONFIG),
                file(config, AveragerConfig.HTTP_ACCESS_FILE_CONFIG), password(config, AveragerConfig.HTTP_PEER_TOKEN_CONFIG),
                config.getInt(AveragerConfig.HTTP_MAX_DOWNLOADS_CONFIG));
    }

    private static Path file(AveragerConfig config, String key) {
        String value = config.getString(key);
        return value.isEmpty() ? null : Path.of(value);
    }

    private static String password(AveragerConfig config, String key) {
        Password p = config.getPassword(key);
        return p == null ? null : p.value();
    }

    private static AveragerService start(AveragerConfig config, Selection selection, TopologyObserver observer,
                                         Consumer<CheckpointManifest> onCheckpoint, boolean rebuilds) {
        createTopics(config);
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        RunMeters meters = new RunMeters(registry);
        Topology topology = AveragerTopology.build(settings(config).scoped(selection, observer).withMeters(meters));
        Properties properties = streamsProperties(config);
        int port = config.getInt(AveragerConfig.HTTP_PORT_CONFIG);
        OpsServer ops = port >= 0 ? OpsServer.bind(httpSettings(config)) : null;
        HostInfo self = null;
        if (ops != null) {
            String advertised = config.getString(AveragerConfig.HTTP_ADVERTISED_CONFIG);
            self = ops.hostInfo(advertised.isEmpty()
                    ? properties.getProperty(StreamsConfig.APPLICATION_SERVER_CONFIG, "") : advertised);
            properties.put(StreamsConfig.APPLICATION_SERVER_CONFIG, self.host() + ":" + self.port());
        }
        KafkaStreams streams = new KafkaStreams(topology, properties);
        ObjectStore store = objectStore(config.getString(AveragerConfig.CHECKPOINT_STORE_CONFIG), config);
        String sinkGroup = config.applicationId() + "-sink";
        CheckpointSink sink = new CheckpointSink(config.consumerProperties(), config.producerProperties(), sinkGroup,
                sinkGroup + "-" + InstanceId.of(config.consumerProperties(), config.stateDir()),
                config.getString(AveragerConfig.TOPIC_CHECKPOINTS_CONFIG),
                config.getString(AveragerConfig.TOPIC_MANIFESTS_CONFIG), store, config.spoolDir(),
                ProfileConfig.formats(config), meters, onCheckpoint);
        Rebuilder rebuilder = null;
        if (rebuilds) {
            String group = config.applicationId() + "-rebuilder";
            rebuilder = new Rebuilder(config.consumerProperties(), config.producerProperties(), group,
                    group + "-" + InstanceId.of(config.consumerProperties(), config.stateDir()),
                    config.getString(AveragerConfig.TOPIC_RUN_EVENTS_CONFIG),
                    config.getString(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG), RecordLimits.MAX_MESSAGE_BYTES,
                    new ParentCheckpoints(config.consumerProperties(), config.getString(AveragerConfig.TOPIC_MANIFESTS_CONFIG),
                            config.getString(AveragerConfig.TOPIC_RUN_EVENTS_CONFIG),
                            config.profiles().stream().map(Profile::name).toList(),
                            location -> objectStore(location, config), config.spoolDir().resolve("seeds")),
                    signatures(config));
        }
        AveragerService service = new AveragerService(streams, sink, rebuilder, store, registry);
        streams.setUncaughtExceptionHandler(e -> {
            log.error("Stream thread failed; stopping the service", e);
            service.failure.complete(e);
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        if (ops != null) {
            service.ops = ops;
            ops.start(streams, self, config.profiles(), new CheckpointAccess(config.consumerProperties(),
                    config.getString(AveragerConfig.TOPIC_MANIFESTS_CONFIG),
                    config.getString(AveragerConfig.TOPIC_RUN_EVENTS_CONFIG),
                    location -> objectStore(location, config), config.spoolDir().resolve("synthesize")), registry);
        }
        streams.start();
        service.sinkThread.start();
        if (service.rebuilderThread != null) {
            service.rebuilderThread.start();
        }
        log.info("averager running: application.id={}, profiles={}, checkpoints to {}", config.applicationId(),
                config.profiles(), store.describe());
        return service;
    }

    public static TopologySettings settings(AveragerConfig config) {
        return new TopologySettings(
                config.getString(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG),
                config.getString(AveragerConfig.TOPIC_CHECKPOINTS_CONFIG),
                config.getString(AveragerConfig.TOPIC_DEAD_LETTERS_CONFIG),
                config.getString(AveragerConfig.TOPIC_RUN_EVENTS_CONFIG),
                config.profiles(),
                Kernels.byName(config.getString(AveragerConfig.KERNEL_CONFIG), config.getString(AveragerConfig.DEVICE_CONFIG)),
                config.getLong(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG),
                config.getLong(AveragerConfig.CHECKPOINT_EVERY_MS_CONFIG),
                config.getInt(AveragerConfig.REWIND_RESTORE_POINTS_CONFIG),
                config.getLong(AveragerConfig.MAX_GRID_CONFIG),
                config.getLong(AveragerConfig.MAX_TENSOR_ELEMENTS_CONFIG),
                RecordLimits.MAX_MESSAGE_BYTES,
                NonFinitePolicy.valueOf(config.getString(AveragerConfig.NONFINITE_CONFIG).toUpperCase(Locale.ROOT)),
                config.getBoolean(AveragerConfig.STATE_CHANGELOG_CONFIG),
                new SnapshotHistory(config.consumerProperties(), config.getString(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG)),
                signatures(config),
                Selection.ALL, TopologyObserver.NONE, new RunMeters(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)));
    }

    /** The specifications of the service's topics, under their configured names. */
    public static List<TopicSpec> topics(AveragerConfig config) {
        int partitions = config.getInt(AveragerConfig.TOPIC_PARTITIONS_CONFIG);
        return List.of(
                TopicSpec.load("snapshots", config.getString(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG), partitions),
                TopicSpec.load("checkpoints", config.getString(AveragerConfig.TOPIC_CHECKPOINTS_CONFIG), partitions),
                TopicSpec.load("manifests", config.getString(AveragerConfig.TOPIC_MANIFESTS_CONFIG), -1),
                TopicSpec.load("dead-letters", config.getString(AveragerConfig.TOPIC_DEAD_LETTERS_CONFIG), -1),
                TopicSpec.load("run-events", config.getString(AveragerConfig.TOPIC_RUN_EVENTS_CONFIG), -1));
    }

    private static void createTopics(AveragerConfig config) {
        try (Admin admin = Admin.create(config.clientProperties())) {
            TopicSpec.createMissing(admin, topics(config), config.getShort(AveragerConfig.TOPIC_REPLICATION_FACTOR_CONFIG));
        }
    }

    private static Properties streamsProperties(AveragerConfig config) {
        Map<String, Object> p = new HashMap<>();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, config.applicationId());
        p.put(StreamsConfig.STATE_DIR_CONFIG, config.stateDir().toAbsolutePath().toString());
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put("processing.exception.handler.global.enabled", true);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.MAX_REQUEST_SIZE_CONFIG), RecordLimits.MAX_MESSAGE_BYTES);
        // Records are chunks of up to tens of MiB: bound what is fetched and buffered in bytes,
        // so the heap the service needs does not depend on the model (Kafka's defaults buffer
        // up to 1000 records a partition). The stores keep no cache: every entry is written once a snapshot.
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0L);
        p.put(StreamsConfig.BUFFERED_RECORDS_PER_PARTITION_CONFIG, 2);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MAX_BYTES_CONFIG), 8 << 20);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG), 4 << 20);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.BUFFER_MEMORY_CONFIG), 16L << 20);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.SEND_BUFFER_CONFIG), RecordLimits.SEND_BUFFER_BYTES);
        // Each commit waits until everything produced so far (the changelog's copy of every
        // applied chunk) is acknowledged: at the exactly-once default of 100 ms the stream thread
        // spends much of its time waiting; a second lets sending overlap averaging.
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 1000);
        p.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, EmaRocksDbConfig.class);
        if (!config.getBoolean(AveragerConfig.STATE_CHANGELOG_CONFIG)) {
            log.warn("{}=false: the EMA store has no changelog; a task whose local EMA is lost or behind its committed"
                    + " input stops the service, naming the run", AveragerConfig.STATE_CHANGELOG_CONFIG);
            // Without a changelog, the local EMA is all there is: it must not be wiped after a crash.
            p.put(StreamsConfig.TRANSACTIONAL_STATE_STORES_CONFIG, true);
        }
        p.putAll(config.kafkaProperties());
        Properties props = new Properties();
        props.putAll(p);
        return props;
    }

    /**
     * The object store {@code location} names: {@code s3://bucket/prefix} (reached with the
     * {@code averager.s3.*} settings of {@code config}), a {@code file:} URI or a directory.
     */
    public static ObjectStore objectStore(String location, AveragerConfig config) {
        if (location.startsWith("s3:")) {
            S3Location s3;
            try {
                s3 = S3Location.parse(location);
            } catch (IllegalArgumentException e) {
                throw new ConfigException(AveragerConfig.CHECKPOINT_STORE_CONFIG, location, e.getMessage());
            }
            return S3ObjectStore.open(s3, s3Settings(config));
        }
        if (location.startsWith("file:")) {
            return new FileSystemObjectStore(Path.of(URI.create(location)));
        }
        if (location.contains("://")) {
            throw new AveragerException("Unsupported checkpoint store " + location
                    + ": give a directory, a file: URI or s3://bucket/prefix");
        }
        return new FileSystemObjectStore(Path.of(location));
    }

    /** How to reach S3: the {@code averager.s3.*} settings. */
    public static S3Settings s3Settings(AveragerConfig config) {
        String endpoint = config.getString(AveragerConfig.S3_ENDPOINT_CONFIG);
        Optional<URI> endpointUri;
        try {
            endpointUri = endpoint.isEmpty() ? Optional.empty() : Optional.of(new URI(endpoint));
        } catch (URISyntaxException e) {
            throw new ConfigException(AveragerConfig.S3_ENDPOINT_CONFIG, endpoint, e.getMessage());
        }
        String region = config.getString(AveragerConfig.S3_REGION_CONFIG);
        String accessKey = config.getString(AveragerConfig.S3_ACCESS_KEY_CONFIG);
        Password secretKey = config.getPassword(AveragerConfig.S3_SECRET_KEY_CONFIG);
        return new S3Settings(endpointUri, region.isEmpty() ? Optional.empty() : Optional.of(region),
                Optional.ofNullable(config.getBoolean(AveragerConfig.S3_PATH_STYLE_CONFIG)),
                accessKey.isEmpty() ? Optional.empty() : Optional.of(accessKey),
                Optional.ofNullable(secretKey).map(Password::value));
    }

    private void runSink() {
        try {
            sink.run();
        } catch (RuntimeException e) {
            log.error("Checkpoint sink failed; stopping the service", e);
            failure.complete(e);
        }
    }

    private void runRebuilder() {
        try {
            rebuilder.run();
        } catch (RuntimeException e) {
            log.error("Rebuilder failed; stopping the service", e);
            failure.complete(e);
        }
    }

    /** Completes with the cause when the topology, the sink or the rebuilder fails. */
    public CompletableFuture<Throwable> failure() {
        return failure;
    }

    /** This instance's meters: the ones {@code /metrics} shows. */
    public PrometheusMeterRegistry meters() {
        return registry;
    }

    /** The port of the HTTP endpoint (metrics, health, runs API, status page), or -1 when it is off. */
    public int opsPort() {
        return ops == null ? -1 : ops.port();
    }

    public KafkaStreams.State state() {
        return streams.state();
    }

    @Override
    public void close() {
        sink.close();
        if (rebuilder != null) {
            rebuilder.close();
        }
        streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                .withTimeout(Duration.ofSeconds(30)));
        try {
            sinkThread.join(Duration.ofSeconds(30).toMillis());
            if (rebuilderThread != null) {
                rebuilderThread.join(Duration.ofSeconds(30).toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        store.close();
        if (ops != null) {
            ops.close();
        }
        registry.close();
        log.info("averager stopped");
    }
}
