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
import java.util.concurrent.TimeUnit;

/**
 * The service in this JVM, on the shared broker unless told another, with topics and application
 * id of its own, collecting the manifests its sink publishes.
 */
final class ServiceUnderTest implements AutoCloseable {

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
        long deadline = System.nanoTime() + timeout.toNanos();
        while (found.size() < profiles.size()) {
            CheckpointManifest m = take(run, step, deadline);
            if (m == null) {
                throw new AssertionError("No checkpoint of run " + run + " step " + step + " for " + profiles
                        + " within " + timeout + "; got " + found.keySet() + "; service state " + service.state()
                        + (service.failure().isDone() ? ", failed: " + service.failure().getNow(null) : ""));
            }
            found.put(m.getProfile(), m);
        }
        return found;
    }

    /**
     * Waits for {@code count} manifests of {@code step}, one per stored file, in arrival order;
     * returns fewer if the timeout passes first.
     */
    List<CheckpointManifest> awaitManifests(String run, long step, int count, Duration timeout)
            throws InterruptedException {
        List<CheckpointManifest> found = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (found.size() < count) {
            CheckpointManifest m = take(run, step, deadline);
            if (m == null) {
                return found;
            }
            found.add(m);
        }
        return found;
    }

    /**
     * Removes and returns the first manifest of the run and step, waiting until the deadline;
     * manifests of other runs and steps stay for later calls, whatever order they arrive in.
     */
    private synchronized CheckpointManifest take(String run, long step, long deadline) throws InterruptedException {
        while (true) {
            for (Iterator<CheckpointManifest> it = manifests.iterator(); it.hasNext(); ) {
                CheckpointManifest m = it.next();
                if (m.getRun().equals(run) && m.getStep() == step) {
                    it.remove();
                    return m;
                }
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return null;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
    }

    private synchronized void received(CheckpointManifest m) {
        manifests.add(m);
        notifyAll();
    }

    /** Manifests received and not yet taken. */
    synchronized int manifestsWaiting() {
        return manifests.size();
    }

    AveragerService service() {
        return service;
    }

    @Override
    public void close() {
        if (service != null) {
            service.close();
        }
    }
}
