package io.averager.it;

import io.averager.config.AveragerConfig;
import io.averager.metrics.RunMeters;
import io.averager.service.AveragerService;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.CheckpointManifest;
import io.micrometer.core.instrument.Counter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * The service in this JVM, on the shared broker unless told another, with topics and application
 * id of its own, collecting the manifests its sink publishes.
 */
final class ServiceUnderTest implements AutoCloseable {

    /** How often the manifests received are looked through while waiting for some. */
    private static final Duration MANIFEST_POLL = Duration.ofMillis(50);

    final String name;
    final Map<String, String> settings = new HashMap<>();
    private final List<CheckpointManifest> manifests = new ArrayList<>();
    private AveragerService service;

    ServiceUnderTest(Path dir) {
        this(dir, SharedKafka.bootstrapServers());
    }

    ServiceUnderTest(Path dir, String bootstrapServers) {
        this.name = SharedKafka.unique("svc");
        settings.put("bootstrap.servers", bootstrapServers);
        settings.put("application.id", name);
        settings.put("state.dir", dir.resolve("state").toString());
        settings.put("consumer.session.timeout.ms", "6000");
        settings.put(AveragerConfig.CHECKPOINT_STORE_CONFIG, dir.resolve("checkpoints").toString());
        settings.put(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG, name + "-snapshots");
        settings.put(AveragerConfig.TOPIC_CHECKPOINTS_CONFIG, name + "-checkpoints");
        settings.put(AveragerConfig.TOPIC_MANIFESTS_CONFIG, name + "-manifests");
        settings.put(AveragerConfig.TOPIC_DEAD_LETTERS_CONFIG, name + "-dead-letters");
        settings.put(AveragerConfig.TOPIC_RUN_EVENTS_CONFIG, name + "-run-events");
        settings.put(AveragerConfig.TOPIC_PARTITIONS_CONFIG, "2");
    }

    /**
     * Profiles of every kind the EMA state depends on: exponential with power warmup
     * ({@code ema}), a per-step half-life ({@code slow}) and a power profile ({@code power}).
     */
    ServiceUnderTest withEveryKindOfProfile() {
        settings.put(AveragerConfig.PROFILES_CONFIG, "ema,slow,power");
        settings.put("averager.profile.ema.decay", "0.9");
        settings.put("averager.profile.ema.warmup", "power");
        settings.put("averager.profile.slow.halflife.steps", "20");
        settings.put("averager.profile.slow.unit", "step");
        settings.put("averager.profile.power.type", "power");
        settings.put("averager.profile.power.sigma.rel", "0.2");
        return this;
    }

    String manifestsTopic() {
        return settings.get(AveragerConfig.TOPIC_MANIFESTS_CONFIG);
    }

    String runEventsTopic() {
        return settings.get(AveragerConfig.TOPIC_RUN_EVENTS_CONFIG);
    }

    String snapshotsTopic() {
        return settings.get(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG);
    }

    ServiceUnderTest start() {
        service = AveragerService.start(new AveragerConfig(settings), this::received);
        return this;
    }

    /** Waits for the manifests of {@code step}, one per profile named. */
    Map<String, CheckpointManifest> awaitCheckpoints(String run, long step, List<String> profiles, Duration timeout)
            throws InterruptedException {
        Map<String, CheckpointManifest> found = new HashMap<>();
        Await.waitingFor("a checkpoint of run " + run + " step " + step + " for each of " + profiles, timeout)
                .every(MANIFEST_POLL)
                .detail(() -> "got " + found.keySet() + "; service state " + service.state()
                        + (service.failure().isDone() ? ", failed: " + service.failure().getNow(null) : ""))
                .until(() -> takeWhile(run, step, m -> found.put(m.getProfile(), m), () -> found.size() < profiles.size()));
        return found;
    }

    /**
     * Waits for {@code count} manifests of {@code step}, one per stored file, in arrival order;
     * returns fewer if the timeout passes first.
     */
    List<CheckpointManifest> awaitManifests(String run, long step, int count, Duration timeout)
            throws InterruptedException {
        List<CheckpointManifest> found = new ArrayList<>();
        Await.waitingFor(count + " manifests of run " + run + " step " + step, timeout).every(MANIFEST_POLL)
                .within(() -> takeWhile(run, step, found::add, () -> found.size() < count));
        return found;
    }

    /**
     * Removes the manifests of the run and step received so far, in arrival order, handing each to
     * {@code taken}, while {@code wanted} holds; manifests of other runs and steps stay for later
     * calls, whatever order they arrive in. Returns whether {@code wanted} no longer holds.
     */
    private synchronized boolean takeWhile(String run, long step, Consumer<CheckpointManifest> taken, BooleanSupplier wanted) {
        for (Iterator<CheckpointManifest> it = manifests.iterator(); it.hasNext() && wanted.getAsBoolean(); ) {
            CheckpointManifest m = it.next();
            if (m.getRun().equals(run) && m.getStep() == step) {
                it.remove();
                taken.accept(m);
            }
        }
        return !wanted.getAsBoolean();
    }

    private synchronized void received(CheckpointManifest m) {
        manifests.add(m);
    }

    /** Manifests received and not yet taken. */
    synchronized int manifestsWaiting() {
        return manifests.size();
    }

    AveragerService service() {
        return service;
    }

    /** Fails with the cause if the topology or the sink has failed: for waits on what only a live service brings. */
    void assertAlive() {
        if (service.failure().isDone()) {
            throw new AssertionError("The service " + name + " failed: " + service.failure().getNow(null),
                    service.failure().getNow(null));
        }
    }

    /** Failed attempts of the sink to store a file so far ({@link RunMeters#SINK_RETRIES}). */
    double sinkRetries() {
        Counter retries = service.meters().find(RunMeters.SINK_RETRIES).counter();
        return retries == null ? 0 : retries.count();
    }

    /**
     * Waits until the topology has emitted the checkpoint of {@code step} of the run, committed
     * on the checkpoints topic: the EMA advanced past it, whatever the sink made of it.
     */
    void awaitCheckpointCommit(String run, long step, Duration timeout) throws InterruptedException {
        try (CommittedRecords checkpoints = new CommittedRecords(Map.of("bootstrap.servers", bootstrapServers()),
                settings.get(AveragerConfig.TOPIC_CHECKPOINTS_CONFIG))) {
            checkpoints.awaitUntil(records -> records.stream().anyMatch(r -> WireCodec.decode(r.value()) instanceof CheckpointCommit c
                    && c.getRun().equals(run) && c.getStep() == step), timeout, () -> "no checkpoint commit of run " + run
                    + " step " + step + "; service state " + service.state());
        }
    }

    /**
     * Waits until the sink's consumer group has committed offsets past every record on the
     * checkpoints topic now. It commits them in the transaction that publishes the manifests of
     * what it stored, so from then on every manifest of those records is on the manifests topic.
     */
    void awaitSinkCaughtUp(Duration timeout) throws Exception {
        Map<TopicPartition, Long> end = new HashMap<>();
        for (ConsumerRecord<String, byte[]> r : TopicReader.readAll(bootstrapServers(), settings.get(AveragerConfig.TOPIC_CHECKPOINTS_CONFIG))) {
            end.merge(new TopicPartition(r.topic(), r.partition()), r.offset() + 1, Math::max);
        }
        String group = name + "-sink";
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrapServers()))) {
            Await.waitingFor("the sink's group " + group + " to commit offsets " + end, timeout).whileAlive(this::assertAlive)
                    .until(() -> admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(),
                            committed -> end.entrySet().stream().allMatch(e -> committed.get(e.getKey()) != null
                                    && committed.get(e.getKey()).offset() >= e.getValue()));
        }
    }

    private String bootstrapServers() {
        return settings.get("bootstrap.servers");
    }

    @Override
    public void close() {
        if (service != null) {
            service.close();
        }
    }
}
