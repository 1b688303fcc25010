package io.averager.it;

import io.averager.config.AveragerConfig;
import io.averager.service.AveragerService;
import io.averager.wire.avro.CheckpointManifest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

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
        settings.put(AveragerConfig.TOPIC_PARTITIONS_CONFIG, "2");
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

    @Override
    public void close() {
        if (service != null) {
            service.close();
        }
    }
}
