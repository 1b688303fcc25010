package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.catalog.ManifestLog;
import io.averager.config.AveragerConfig;
import io.averager.embedded.EmbeddedKafka;
import io.averager.publish.SnapshotPublisher;
import io.averager.publish.TensorSource;
import io.averager.service.AveragerService;
import io.averager.topology.TopicSpec;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SnapshotMode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broker with KRaft's StandardAuthorizer and SASL users holding exactly the ACLs that
 * docs/security.md lists for their roles: the service averages a run the publisher sends and the
 * subscriber reads its manifest; the publisher cannot read checkpoints, the subscriber cannot
 * publish, and a service missing one of its ACLs fails, naming what it was refused.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class KafkaAclTest {

    private static final Map<String, String> USERS = Map.of("admin", "admin-secret", "averager", "service-secret",
            "short", "short-secret",
            "trainer", "trainer-secret", "evaluator", "evaluator-secret");
    private static final List<String> TOPICS = List.of("snapshots", "checkpoints", "checkpoint-manifests",
            "averager-dead-letters", "run-events");

    @TempDir
    static Path brokerDir;

    private static EmbeddedKafka kafka;

    @TempDir
    Path dir;

    @BeforeAll
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    static void startBroker() throws Exception {
        kafka = EmbeddedKafka.startWithAcls(brokerDir, USERS, "admin");
        AveragerConfig defaults = new AveragerConfig(Map.of("bootstrap.servers", kafka.bootstrapServers(),
                AveragerConfig.TOPIC_PARTITIONS_CONFIG, "1"));
        try (Admin admin = Admin.create(client("admin"))) {
            TopicSpec.createMissing(admin, AveragerService.topics(defaults), (short) 1);
            admin.createAcls(publisher("trainer")).all().get();
            admin.createAcls(subscriber("evaluator")).all().get();
        }
    }

    @AfterAll
    static void stopBroker() {
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void eachRoleDoesWithItsAclsWhatItMustAndNothingElse() throws Exception {
        String app = "acl-app";
        grant(service("averager", app));
        BlockingQueue<CheckpointManifest> manifests = new LinkedBlockingQueue<>();
        try (AveragerService service = AveragerService.start(new AveragerConfig(settings("averager", app)), manifests::add);
             SnapshotPublisher publisher = new SnapshotPublisher(client("trainer"), "snapshots", 4)) {
            publisher.publish("team-a/run", 1, SnapshotMode.UPDATE, true, Map.of(),
                    List.of(TensorSource.ofFloats("w", new float[] {1, 2, 3, 4, 5}, 5)));

            CheckpointManifest m = manifests.poll(90, TimeUnit.SECONDS);
            assertThat(m).as("a manifest; service failure: %s", service.failure().getNow(null)).isNotNull();
            List<CheckpointManifest> read = ManifestLog.readAll(client("evaluator"), "checkpoint-manifests",
                    Duration.ofSeconds(30));
            assertThat(read).extracting(CheckpointManifest::getRun).contains("team-a/run");
        }

        assertThatThrownBy(() -> ManifestLog.readAll(client("trainer"), "checkpoint-manifests", Duration.ofSeconds(30)))
                .as("a publisher reading checkpoints").hasStackTraceContaining("Not authorized to access topics: [checkpoint-manifests]");
        assertThatThrownBy(() -> new SnapshotPublisher(client("evaluator"), "snapshots", 4).close())
                .as("a subscriber publishing").hasMessageContaining("Transactional Id authorization failed");
    }

    @Test
    void aServiceMissingAnAclFailsNamingIt() throws Exception {
        String app = "acl-short";
        // A user of its own: ACLs are never removed, so one granted in another test would fill the gap.
        List<AclBinding> all = service("short", app);
        List<AclBinding> lacking = new ArrayList<>(all);
        lacking.removeIf(b -> b.pattern().resourceType() == ResourceType.TOPIC && b.pattern().name().equals("snapshots")
                && b.entry().operation() == AclOperation.READ);
        grant(lacking);
        assertThat(lacking).hasSize(all.size() - 1);

        Throwable failure;
        try (AveragerService service = AveragerService.start(new AveragerConfig(settings("short", app)), m -> { })) {
            failure = service.failure().get(90, TimeUnit.SECONDS);
        } catch (Exception e) {
            failure = e;
        }
        assertThat(failure).hasStackTraceContaining("Not authorized to access topics: [snapshots]");
    }

    /** What the service of application {@code app} needs, as docs/security.md lists it. */
    static List<AclBinding> service(String user, String app) {
        List<AclBinding> acls = new ArrayList<>();
        for (String topic : TOPICS) {
            for (AclOperation op : List.of(AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE,
                    AclOperation.DESCRIBE_CONFIGS)) {
                acls.add(allow(user, ResourceType.TOPIC, topic, PatternType.LITERAL, op));
            }
        }
        acls.add(allow(user, ResourceType.TOPIC, app + "-", PatternType.PREFIXED, AclOperation.ALL));
        acls.add(allow(user, ResourceType.GROUP, app, PatternType.PREFIXED, AclOperation.READ));
        acls.add(allow(user, ResourceType.TRANSACTIONAL_ID, app, PatternType.PREFIXED, AclOperation.WRITE));
        acls.add(allow(user, ResourceType.TRANSACTIONAL_ID, app, PatternType.PREFIXED, AclOperation.DESCRIBE));
        return acls;
    }

    /** A publisher: write snapshots, with transactional ids of its own prefix. */
    static List<AclBinding> publisher(String user) {
        return List.of(allow(user, ResourceType.TOPIC, "snapshots", PatternType.LITERAL, AclOperation.WRITE),
                allow(user, ResourceType.TOPIC, "snapshots", PatternType.LITERAL, AclOperation.DESCRIBE),
                allow(user, ResourceType.TRANSACTIONAL_ID, "averager-publisher-", PatternType.PREFIXED, AclOperation.WRITE),
                allow(user, ResourceType.TRANSACTIONAL_ID, "averager-publisher-", PatternType.PREFIXED, AclOperation.DESCRIBE));
    }

    /** A subscriber or load_ema: read the manifests and the rewinds that supersede checkpoints. */
    static List<AclBinding> subscriber(String user) {
        return List.of(allow(user, ResourceType.TOPIC, "checkpoint-manifests", PatternType.LITERAL, AclOperation.READ),
                allow(user, ResourceType.TOPIC, "checkpoint-manifests", PatternType.LITERAL, AclOperation.DESCRIBE),
                allow(user, ResourceType.TOPIC, "run-events", PatternType.LITERAL, AclOperation.READ),
                allow(user, ResourceType.TOPIC, "run-events", PatternType.LITERAL, AclOperation.DESCRIBE));
    }

    private static AclBinding allow(String user, ResourceType type, String name, PatternType pattern, AclOperation op) {
        return new AclBinding(new ResourcePattern(type, name, pattern),
                new AccessControlEntry("User:" + user, "*", op, AclPermissionType.ALLOW));
    }

    private static void grant(List<AclBinding> acls) throws Exception {
        try (Admin admin = Admin.create(client("admin"))) {
            admin.createAcls(acls).all().get();
        }
    }

    private Map<String, String> settings(String user, String app) {
        Map<String, String> settings = new HashMap<>();
        client(user).forEach((k, v) -> settings.put(k, v.toString()));
        settings.put("application.id", app);
        settings.put("state.dir", dir.resolve(app).toString());
        settings.put("consumer.session.timeout.ms", "6000");
        settings.put(AveragerConfig.CHECKPOINT_STORE_CONFIG, dir.resolve("checkpoints").toString());
        settings.put(AveragerConfig.TOPIC_PARTITIONS_CONFIG, "1");
        return settings;
    }

    private static Map<String, Object> client(String user) {
        return Map.of("bootstrap.servers", kafka.bootstrapServers(),
                "security.protocol", "SASL_PLAINTEXT",
                "sasl.mechanism", "PLAIN",
                "sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"" + user
                        + "\" password=\"" + USERS.get(user) + "\";");
    }
}
