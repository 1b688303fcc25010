package io.averager.config;

import io.averager.ema.Profile;
import io.averager.kernel.Kernels;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Range;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The service's configuration. Keys prefixed {@code averager.} are defined here; every other key
 * passes through unchanged to Kafka Streams; connection and security settings, and those with
 * Kafka Streams' {@code consumer.} and {@code producer.} prefixes, also reach the sink's consumer
 * and producer. Immutable.
 */
public final class AveragerConfig extends AbstractConfig {

    public static final String PREFIX = "averager.";

    public static final String TOPIC_SNAPSHOTS_CONFIG = "averager.topic.snapshots";
    private static final String TOPIC_SNAPSHOTS_DOC = "Topic the training runs publish snapshots to, keyed by run id.";
    public static final String TOPIC_CHECKPOINTS_CONFIG = "averager.topic.checkpoints";
    private static final String TOPIC_CHECKPOINTS_DOC = "Topic the EMA checkpoints are emitted to, as header, chunk and commit records.";
    public static final String TOPIC_MANIFESTS_CONFIG = "averager.topic.manifests";
    private static final String TOPIC_MANIFESTS_DOC = "Topic the sink publishes a manifest to once a checkpoint file is complete.";
    public static final String TOPIC_RUN_EVENTS_CONFIG = "averager.topic.run.events";
    private static final String TOPIC_RUN_EVENTS_DOC = "Topic for the service's answers to rewind requests, keyed by run id:"
            + " 'averager rewind' and the publishers wait for theirs there.";
    public static final String TOPIC_DEAD_LETTERS_CONFIG = "averager.topic.dead.letters";
    private static final String TOPIC_DEAD_LETTERS_DOC = "Topic for records that failed validation, with the reason in the 'averager.error' header.";
    public static final String TOPIC_PARTITIONS_CONFIG = "averager.topic.partitions";
    private static final String TOPIC_PARTITIONS_DOC = "Partitions of the topics the service creates; -1 takes each topic's spec in topology/topics.properties.";
    public static final String TOPIC_REPLICATION_FACTOR_CONFIG = "averager.topic.replication.factor";
    private static final String TOPIC_REPLICATION_FACTOR_DOC = "Replication factor of the topics the service creates; -1 takes the broker's default.";

    public static final String PROFILES_CONFIG = "averager.profiles";
    private static final String PROFILES_DOC = "Names of the EMA profiles (decay schedules) every run is averaged with, all in one pass."
            + " Each is configured by averager.profile.NAME.* keys (see the profile table).";

    public static final String CHECKPOINT_EVERY_STEPS_CONFIG = "averager.checkpoint.every.steps";
    private static final String CHECKPOINT_EVERY_STEPS_DOC = "Emit a checkpoint at the first snapshot whose step crosses a multiple of this. 0 disables.";
    public static final String CHECKPOINT_EVERY_MS_CONFIG = "averager.checkpoint.every.ms";
    private static final String CHECKPOINT_EVERY_MS_DOC = "Emit a checkpoint when this many milliseconds of snapshot timestamps have passed since the last one. 0 disables.";
    public static final String REWIND_RESTORE_POINTS_CONFIG = "averager.rewind.restore.points";
    private static final String REWIND_RESTORE_POINTS_DOC = "How many of each run's latest checkpoints keep a copy of its EMA in the"
            + " restore-points store, so that the run can be rewound to their steps (a trainer resuming from its own checkpoint)."
            + " Each costs a copy of the run's EMA in RocksDB and on the store's changelog. 0: a run can be rewound to its last step only.";
    public static final String CHECKPOINT_STORE_CONFIG = "averager.checkpoint.store";
    private static final String CHECKPOINT_STORE_DOC = "Where checkpoint files go: a directory (path or file: URI), or an S3 bucket and key prefix"
            + " (s3://bucket/prefix, see averager.s3.*). Files land at runs/RUN/PROFILE/step-STEP.safetensors below it"
            + " (step-STEP.rewind-N.safetensors once the run has been rewound).";

    public static final String S3_ENDPOINT_CONFIG = "averager.s3.endpoint";
    private static final String S3_ENDPOINT_DOC = "URL of an S3-compatible store (MinIO, Ceph, R2), e.g. http://minio:9000. Empty: AWS S3.";
    public static final String S3_REGION_CONFIG = "averager.s3.region";
    private static final String S3_REGION_DOC = "Region requests are signed for. Empty: us-east-1 with averager.s3.endpoint,"
            + " otherwise the AWS SDK's default (AWS_REGION, the profile, the instance's region).";
    public static final String S3_PATH_STYLE_CONFIG = "averager.s3.path.style";
    private static final String S3_PATH_STYLE_DOC = "Path-style requests (ENDPOINT/BUCKET/KEY) instead of virtual-hosted ones"
            + " (BUCKET.ENDPOINT/KEY). Empty: true with averager.s3.endpoint, false for AWS.";
    public static final String S3_ACCESS_KEY_CONFIG = "averager.s3.access.key";
    private static final String S3_ACCESS_KEY_DOC = "Access key id, with averager.s3.secret.key. Empty: the AWS SDK's default"
            + " credentials chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the profile, a container or instance role).";
    public static final String S3_SECRET_KEY_CONFIG = "averager.s3.secret.key";
    private static final String S3_SECRET_KEY_DOC = "Secret access key, with averager.s3.access.key.";
    public static final String SINK_SPOOL_DIR_CONFIG = "averager.sink.spool.dir";
    private static final String SINK_SPOOL_DIR_DOC = "Local directory where the sink assembles checkpoint files before storing them. Empty: STATE_DIR/spool."
            + " Partial files left there by a crash are deleted at start: give each instance its own.";

    public static final String KERNEL_CONFIG = "averager.kernel";
    private static final String KERNEL_DOC = "Where the EMA arithmetic runs: 'java' (plain Java on the CPU) or 'torch'"
            + " (PyTorch through DJL, on averager.device).";
    public static final String DEVICE_CONFIG = "averager.device";
    private static final String DEVICE_DOC = "Device of the 'torch' kernel: 'cpu', or 'cuda:N' for CUDA device N"
            + " (needs a CUDA libtorch, see docs/kernels.md). The 'java' kernel takes 'cpu' only.";
    public static final String MAX_GRID_CONFIG = "averager.max.grid";
    private static final String MAX_GRID_DOC = "Largest chunk grid, in elements, a snapshot may declare. Bounds the memory one record can ask for.";
    public static final String MAX_TENSOR_ELEMENTS_CONFIG = "averager.max.tensor.elements";
    private static final String MAX_TENSOR_ELEMENTS_DOC = "Largest tensor, in elements, a snapshot may declare.";
    public static final String HTTP_PORT_CONFIG = "averager.http.port";
    private static final String HTTP_PORT_DOC = "Port of the HTTP endpoint: GET /metrics (Prometheus), /health/live and"
            + " /health/ready (200 only while Kafka Streams is RUNNING and restores no state), the runs API (/runs,"
            + " /runs/{run}/ema, /runs/{run}/distance, /runs/{run}/synthesize) and the status page (/). -1 turns it off;"
            + " 0 takes any free port.";
    public static final String HTTP_ADVERTISED_CONFIG = "averager.http.advertised";
    private static final String HTTP_ADVERTISED_DOC = "host or host:port at which other instances and clients reach this"
            + " instance's HTTP endpoint; set as Kafka Streams' application.server, so that a request for a run another"
            + " instance owns is redirected there. Without a port, the port served is used; empty: this machine's host"
            + " name. Only used when averager.http.port is on.";
    public static final String HTTP_BIND_CONFIG = "averager.http.bind";
    private static final String HTTP_BIND_DOC = "Address the HTTP endpoint listens on. The default, 127.0.0.1, serves this"
            + " machine only: an endpoint that serves every run's weights is opened to a network on purpose. Set the"
            + " address other instances, Prometheus and users reach (0.0.0.0: every interface), with TLS and an access"
            + " file where that network is shared (docs/security.md).";
    public static final String HTTP_TLS_KEYSTORE_CONFIG = "averager.http.tls.keystore";
    private static final String HTTP_TLS_KEYSTORE_DOC = "Serve HTTPS with this key and certificate chain: a PKCS12 file"
            + " (.p12, .pfx) or PEM (the certificates and an unencrypted PKCS#8 PRIVATE KEY in one file). Empty: plain HTTP.";
    public static final String HTTP_TLS_KEYSTORE_PASSWORD_CONFIG = "averager.http.tls.keystore.password";
    private static final String HTTP_TLS_KEYSTORE_PASSWORD_DOC = "Password of the PKCS12 keystore.";
    public static final String HTTP_TLS_TRUSTSTORE_CONFIG = "averager.http.tls.truststore";
    private static final String HTTP_TLS_TRUSTSTORE_DOC = "Certificate authorities (PKCS12, or PEM certificates) that client"
            + " certificates must be issued by, and other instances' server certificates. Set, clients may authenticate with"
            + " a certificate whose common name the access file lists. Empty: no client certificates; the JDK's authorities"
            + " for other instances.";
    public static final String HTTP_TLS_TRUSTSTORE_PASSWORD_CONFIG = "averager.http.tls.truststore.password";
    private static final String HTTP_TLS_TRUSTSTORE_PASSWORD_DOC = "Password of the PKCS12 truststore.";
    public static final String HTTP_ACCESS_FILE_CONFIG = "averager.http.access.file";
    private static final String HTTP_ACCESS_FILE_DOC = "Tokens and client certificates that may use the HTTP endpoint, with"
            + " their grants (metrics, read[:RUN-PREFIX], synthesize[:RUN-PREFIX], peer), one a line; read again when it"
            + " changes. /health/live, /health/ready and the status page's HTML stay open. Empty: everything open to"
            + " whoever reaches the endpoint (docs/security.md).";
    public static final String HTTP_PEER_TOKEN_CONFIG = "averager.http.peer.token";
    private static final String HTTP_PEER_TOKEN_DOC = "A secret every instance of the service is given alike: they send it"
            + " to each other as a bearer token (for /runs), and sign with it the redirects to the instance owning a run,"
            + " so that clients need not send their credentials to a host they did not address. At least 16 characters.";
    public static final String HTTP_MAX_DOWNLOADS_CONFIG = "averager.http.max.downloads";
    private static final String HTTP_MAX_DOWNLOADS_DOC = "EMA downloads (/runs/{run}/ema) served at once by an instance;"
            + " more are answered 429 with Retry-After. The HTTP server has a thread for each of them, for each of its 2 concurrent"
            + " syntheses and 2 more, so that slow clients never take every thread from health probes.";
    public static final String SNAPSHOT_SIGNING_KEYS_CONFIG = "averager.snapshot.signing.keys";
    private static final String SNAPSHOT_SIGNING_KEYS_DOC = "File of run-id prefixes and their secret keys ('PREFIX HEX-KEY' a"
            + " line, keys of at least 32 bytes): every record into a run of such a prefix (header, chunk, commit, rewind,"
            + " fork) must carry in its averager-mac header the HMAC-SHA256 of its key and value under the prefix's key;"
            + " one that does not is dead-lettered before it touches any state (docs/security.md). Empty: no run is signed.";
    public static final String STATE_CHANGELOG_CONFIG = "averager.state.changelog";
    private static final String STATE_CHANGELOG_DOC = "Back the EMA store with a changelog topic (the default, and the only"
            + " choice that recovers from every crash). false keeps the EMA on the instance's local disk only, in Kafka"
            + " Streams' transactional state stores, and saves the brokers the state's bytes a snapshot byte; the other"
            + " stores (runs, layouts, distances, restore points) keep their changelogs. With each change the EMA store"
            + " keeps a copy of the run's small state. A killed instance restarts with the EMA of an earlier commit (Kafka"
            + " Streams writes RocksDB without its write-ahead log): its runs catch up, applying their snapshots since then"
            + " again from the snapshots topic, checked to reach the committed state byte for byte; a run with no local"
            + " EMA (never flushed, its task moved to an instance without it, its state directory lost) does so from its"
            + " first record. A run that cannot (its history no longer retained, a rewind, rebuild or fork to catch up on)"
            + " stops the service with an error naming the run and its step, rather than average onto a stale EMA"
            + " (docs/performance.md#sizing).";
    public static final String NONFINITE_CONFIG = "averager.nonfinite";
    private static final String NONFINITE_DOC = "What to do with a chunk of a floating tensor holding NaN or an infinity:"
            + " 'reject' (dead-letter it, naming the first bad element, and checkpoint nothing of its snapshot)"
            + " or 'allow' (apply it as it is).";

    /** Kafka's default; kept here so the README can say what the service is called by default. */
    public static final String DEFAULT_APPLICATION_ID = "averager";

    /**
     * Service settings for running on the embedded broker at {@code bootstrapServers} with all
     * state under {@code dataDir}: Streams state, spool and checkpoint files, and a short session
     * timeout so that a restart after a crash is not held up by the dead member.
     */
    public static Map<String, String> embeddedDefaults(String bootstrapServers, Path dataDir) {
        return Map.of(
                "bootstrap.servers", bootstrapServers,
                "state.dir", dataDir.resolve("state").toAbsolutePath().toString(),
                "consumer.session.timeout.ms", "6000",
                CHECKPOINT_STORE_CONFIG, dataDir.resolve("checkpoints").toAbsolutePath().toString());
    }

    public static final ConfigDef CONFIG = new ConfigDef()
            .define(TOPIC_SNAPSHOTS_CONFIG, Type.STRING, "snapshots", new ConfigDef.NonEmptyString(), Importance.HIGH, TOPIC_SNAPSHOTS_DOC)
            .define(TOPIC_CHECKPOINTS_CONFIG, Type.STRING, "checkpoints", new ConfigDef.NonEmptyString(), Importance.MEDIUM, TOPIC_CHECKPOINTS_DOC)
            .define(TOPIC_MANIFESTS_CONFIG, Type.STRING, "checkpoint-manifests", new ConfigDef.NonEmptyString(), Importance.MEDIUM, TOPIC_MANIFESTS_DOC)
            .define(TOPIC_RUN_EVENTS_CONFIG, Type.STRING, "run-events", new ConfigDef.NonEmptyString(), Importance.MEDIUM, TOPIC_RUN_EVENTS_DOC)
            .define(TOPIC_DEAD_LETTERS_CONFIG, Type.STRING, "averager-dead-letters", new ConfigDef.NonEmptyString(), Importance.MEDIUM, TOPIC_DEAD_LETTERS_DOC)
            .define(TOPIC_PARTITIONS_CONFIG, Type.INT, -1, Importance.LOW, TOPIC_PARTITIONS_DOC)
            .define(TOPIC_REPLICATION_FACTOR_CONFIG, Type.SHORT, (short) -1, Importance.LOW, TOPIC_REPLICATION_FACTOR_DOC)
            .define(PROFILES_CONFIG, Type.LIST, "ema", ConfigDef.ValidList.anyNonDuplicateValues(false, false), Importance.HIGH, PROFILES_DOC)
            .define(CHECKPOINT_EVERY_STEPS_CONFIG, Type.LONG, 1000L, Range.atLeast(0), Importance.HIGH, CHECKPOINT_EVERY_STEPS_DOC)
            .define(CHECKPOINT_EVERY_MS_CONFIG, Type.LONG, 0L, Range.atLeast(0), Importance.MEDIUM, CHECKPOINT_EVERY_MS_DOC)
            .define(REWIND_RESTORE_POINTS_CONFIG, Type.INT, 2, Range.atLeast(0), Importance.MEDIUM, REWIND_RESTORE_POINTS_DOC)
            .define(CHECKPOINT_STORE_CONFIG, Type.STRING, "checkpoints", new ConfigDef.NonEmptyString(), Importance.HIGH, CHECKPOINT_STORE_DOC)
            .define(S3_ENDPOINT_CONFIG, Type.STRING, "", Importance.MEDIUM, S3_ENDPOINT_DOC)
            .define(S3_REGION_CONFIG, Type.STRING, "", Importance.MEDIUM, S3_REGION_DOC)
            .define(S3_PATH_STYLE_CONFIG, Type.BOOLEAN, null, Importance.LOW, S3_PATH_STYLE_DOC)
            .define(S3_ACCESS_KEY_CONFIG, Type.STRING, "", Importance.MEDIUM, S3_ACCESS_KEY_DOC)
            .define(S3_SECRET_KEY_CONFIG, Type.PASSWORD, null, Importance.MEDIUM, S3_SECRET_KEY_DOC)
            .define(SINK_SPOOL_DIR_CONFIG, Type.STRING, "", Importance.LOW, SINK_SPOOL_DIR_DOC)
            .define(KERNEL_CONFIG, Type.STRING, Kernels.JAVA, ConfigDef.ValidString.in(Kernels.JAVA, Kernels.TORCH),
                    Importance.LOW, KERNEL_DOC)
            .define(DEVICE_CONFIG, Type.STRING, Kernels.CPU, new DeviceValidator(), Importance.LOW, DEVICE_DOC)
            .define(MAX_GRID_CONFIG, Type.LONG, 16L << 20, Range.between(1, 16L << 20), Importance.LOW, MAX_GRID_DOC)
            .define(MAX_TENSOR_ELEMENTS_CONFIG, Type.LONG, 1L << 36, Range.atLeast(1), Importance.LOW, MAX_TENSOR_ELEMENTS_DOC)
            .define(HTTP_PORT_CONFIG, Type.INT, -1, Range.between(-1, 65535), Importance.MEDIUM, HTTP_PORT_DOC)
            .define(HTTP_ADVERTISED_CONFIG, Type.STRING, "", Importance.MEDIUM, HTTP_ADVERTISED_DOC)
            .define(SNAPSHOT_SIGNING_KEYS_CONFIG, Type.STRING, "", Importance.MEDIUM, SNAPSHOT_SIGNING_KEYS_DOC)
            .define(HTTP_BIND_CONFIG, Type.STRING, "127.0.0.1", Importance.MEDIUM, HTTP_BIND_DOC)
            .define(HTTP_TLS_KEYSTORE_CONFIG, Type.STRING, "", Importance.MEDIUM, HTTP_TLS_KEYSTORE_DOC)
            .define(HTTP_TLS_KEYSTORE_PASSWORD_CONFIG, Type.PASSWORD, null, Importance.MEDIUM, HTTP_TLS_KEYSTORE_PASSWORD_DOC)
            .define(HTTP_TLS_TRUSTSTORE_CONFIG, Type.STRING, "", Importance.MEDIUM, HTTP_TLS_TRUSTSTORE_DOC)
            .define(HTTP_TLS_TRUSTSTORE_PASSWORD_CONFIG, Type.PASSWORD, null, Importance.LOW, HTTP_TLS_TRUSTSTORE_PASSWORD_DOC)
            .define(HTTP_ACCESS_FILE_CONFIG, Type.STRING, "", Importance.MEDIUM, HTTP_ACCESS_FILE_DOC)
            .define(HTTP_PEER_TOKEN_CONFIG, Type.PASSWORD, null, Importance.MEDIUM, HTTP_PEER_TOKEN_DOC)
            .define(HTTP_MAX_DOWNLOADS_CONFIG, Type.INT, 2, Range.atLeast(1), Importance.LOW, HTTP_MAX_DOWNLOADS_DOC)
            .define(STATE_CHANGELOG_CONFIG, Type.BOOLEAN, true, Importance.MEDIUM, STATE_CHANGELOG_DOC)
            .define(NONFINITE_CONFIG, Type.STRING, "reject", ConfigDef.CaseInsensitiveValidString.in("reject", "allow"),
                    Importance.MEDIUM, NONFINITE_DOC);

    private static final Set<String> CLIENT_KEYS = Set.of(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG,
            CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, CommonClientConfigs.CLIENT_DNS_LOOKUP_CONFIG,
            CommonClientConfigs.REQUEST_TIMEOUT_MS_CONFIG, CommonClientConfigs.RETRY_BACKOFF_MS_CONFIG);

    private final List<Profile> profiles;

    private static final class DeviceValidator implements ConfigDef.Validator {
        @Override
        public void ensureValid(String name, Object value) {
            try {
                Kernels.checkDevice((String) value);
            } catch (IllegalArgumentException e) {
                throw new ConfigException(name, value, "expected 'cpu' or 'cuda:N' with N a device index such as 0");
            }
        }

        @Override
        public String toString() {
            return "cpu, cuda:N";
        }
    }

    public AveragerConfig(Map<?, ?> props) {
        super(CONFIG, props, false);
        if (!originals().containsKey(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG)) {
            throw new ConfigException("Missing required configuration \"bootstrap.servers\": the Kafka cluster to use.");
        }
        List<Profile> list = new ArrayList<>();
        for (String name : getList(PROFILES_CONFIG)) {
            list.add(ProfileConfig.parse(name, originalsWithPrefix(ProfileConfig.prefix(name))));
        }
        this.profiles = List.copyOf(list);
        if (getString(S3_ACCESS_KEY_CONFIG).isEmpty() != (getPassword(S3_SECRET_KEY_CONFIG) == null)) {
            throw new ConfigException("Give both " + S3_ACCESS_KEY_CONFIG + " and " + S3_SECRET_KEY_CONFIG
                    + ", or neither for the AWS SDK's default credentials chain");
        }
        if (Kernels.JAVA.equals(getString(KERNEL_CONFIG)) && !Kernels.CPU.equals(getString(DEVICE_CONFIG))) {
            throw new ConfigException(DEVICE_CONFIG, getString(DEVICE_CONFIG),
                    "the java kernel runs on the CPU; expected 'cpu', or " + KERNEL_CONFIG + "=torch");
        }
        for (String key : originalsStrings().keySet()) {
            if (key.startsWith(PREFIX) && !CONFIG.names().contains(key) && !isProfileKey(key)) {
                throw new ConfigException(key, originals().get(key), "unknown averager setting"
                        + " (profile keys are averager.profile.NAME.* with NAME in " + PROFILES_CONFIG + ")");
            }
        }
    }

    /** Reads a Java properties file. */
    public static AveragerConfig load(Path file, Map<String, String> overrides) {
        Properties props = new Properties();
        try (InputStream in = Files.newInputStream(file)) {
            props.load(in);
        } catch (IOException e) {
            throw new ConfigException("Cannot read config file " + file + ": " + e.getMessage());
        }
        props.putAll(overrides);
        return new AveragerConfig(props);
    }

    private boolean isProfileKey(String key) {
        return profiles.stream().anyMatch(p -> key.startsWith(ProfileConfig.prefix(p.name())));
    }

    /** The EMA profiles, in configured order. */
    public List<Profile> profiles() {
        return profiles;
    }

    public String applicationId() {
        Object id = originals().get(StreamsConfig.APPLICATION_ID_CONFIG);
        return id == null ? DEFAULT_APPLICATION_ID : id.toString();
    }

    public Path stateDir() {
        Object dir = originals().get(StreamsConfig.STATE_DIR_CONFIG);
        return Paths.get(dir == null ? "averager-state" : dir.toString());
    }

    public Path spoolDir() {
        String dir = getString(SINK_SPOOL_DIR_CONFIG);
        return dir.isEmpty() ? stateDir().resolve("spool") : Paths.get(dir);
    }

    /** Every key not prefixed {@code averager.}: what Kafka Streams and the clients receive. */
    public Map<String, Object> kafkaProperties() {
        Map<String, Object> kafka = new HashMap<>();
        originals().forEach((k, v) -> {
            if (!k.startsWith(PREFIX)) {
                kafka.put(k, v);
            }
        });
        return kafka;
    }

    /**
     * Settings of the service's own consumer (the sink's): connection and security, then every
     * setting given with Kafka Streams' {@code consumer.} prefix, without it, as Kafka Streams
     * applies them to its consumers: {@code consumer.session.timeout.ms},
     * {@code consumer.group.instance.id} (static membership) and so on.
     */
    public Map<String, Object> consumerProperties() {
        return withPrefixed(StreamsConfig.CONSUMER_PREFIX);
    }

    /** Settings of the service's own producer (the sink's): as {@link #consumerProperties()}, with the {@code producer.} prefix. */
    public Map<String, Object> producerProperties() {
        return withPrefixed(StreamsConfig.PRODUCER_PREFIX);
    }

    private Map<String, Object> withPrefixed(String prefix) {
        Map<String, Object> settings = clientProperties();
        settings.putAll(originalsWithPrefix(prefix));
        return settings;
    }

    /** Settings shared by every Kafka client: connection and security only. */
    public Map<String, Object> clientProperties() {
        Map<String, Object> common = new HashMap<>();
        kafkaProperties().forEach((k, v) -> {
            if (CLIENT_KEYS.contains(k) || k.startsWith("ssl.") || k.startsWith("sasl.")) {
                common.put(k, v);
            }
        });
        return common;
    }
}
