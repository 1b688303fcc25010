package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.embedded.EmbeddedKafka;
import io.averager.it.Workload.CheckpointKey;
import io.averager.publish.SnapshotPublisher;
import io.averager.publish.TensorSource;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SnapshotMode;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code averager run --embedded --data-dir D}, as a user runs it, stopped and started again on
 * the same D: after a SIGTERM, after a SIGKILL at idle and after a SIGKILL while a snapshot was
 * being published, the broker is back on the port it had, a new publisher with default settings
 * commits a snapshot within {@link #PUBLISH_BOUND} of the {@code bootstrap.servers=} line, and
 * the service checkpoints it. {@code --port} moves the broker, and the next start keeps it there.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class EmbeddedRestartTest {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedRestartTest.class);

    /** From the restarted broker's {@code bootstrap.servers=} line to a new publisher's committed snapshot. */
    private static final Duration PUBLISH_BOUND = Duration.ofSeconds(20);
    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);
    private static final Duration CHECKPOINT_TIMEOUT = Duration.ofSeconds(90);
    private static final String RUN = "restarted-run";
    private static final TensorSpec WEIGHT = new TensorSpec("w", Dtype.F32, new long[] {4096});
    private static final long GRID = 512;

    @TempDir
    Path dir;

    @Test
    void aRestartedEmbeddedBrokerKeepsItsPortAndTakesPublishersWithinSeconds() throws Exception {
        Path data = dir.resolve("data");
        ServiceProcess service = ServiceProcess.embedded(dir, data,
                List.of("--set", "averager.checkpoint.every.steps=1"), "-Xmx512m");
        List<CheckpointKey> expected = new ArrayList<>();
        try {
            service.start();
            String bootstrap = service.awaitLine("bootstrap.servers=", START_TIMEOUT);
            publish(bootstrap, 0, "first start"); // a run's first snapshot starts its EMA, checkpointed from the next on
            publishAndCheckpoint(service, bootstrap, 1, expected, "first start");

            service.stop();
            restartOn(service, bootstrap);
            publishAndCheckpoint(service, bootstrap, 2, expected, "restart after SIGTERM");

            service.kill();
            restartOn(service, bootstrap);
            publishAndCheckpoint(service, bootstrap, 3, expected, "restart after SIGKILL at idle");

            // SIGKILL while a publisher's transaction is open, its snapshot half sent.
            CountDownLatch halfSent = new CountDownLatch(1);
            CountDownLatch killed = new CountDownLatch(1);
            CompletableFuture<Void> torn = CompletableFuture.runAsync(() -> publishTorn(bootstrap, halfSent, killed));
            assertThat(halfSent.await(60, TimeUnit.SECONDS)).as("half the snapshot of step 4 sent").isTrue();
            Thread.sleep(500);
            service.kill();
            killed.countDown();
            torn.get(90, TimeUnit.SECONDS); // each of its sends may block for max.block.ms
            restartOn(service, bootstrap);
            publishAndCheckpoint(service, bootstrap, 5, expected, "restart after SIGKILL mid-snapshot");

            // --port moves the broker; the next start without it stays there.
            int port = freePort();
            service.stop();
            ServiceProcess moved = ServiceProcess.embedded(dir, data,
                    List.of("--port", Integer.toString(port), "--set", "averager.checkpoint.every.steps=1"), "-Xmx512m");
            moved.start();
            assertThat(moved.awaitLine("bootstrap.servers=", START_TIMEOUT)).isEqualTo("127.0.0.1:" + port);
            moved.stop();
            restartOn(service, "127.0.0.1:" + port);
            publishAndCheckpoint(service, "127.0.0.1:" + port, 6, expected, "restart after --port");
            assertThat(Files.readString(data.resolve("kafka").resolve(EmbeddedKafka.PORTS_FILE))).contains("broker=" + port);

            List<CheckpointManifest> manifests = TopicReader.awaitManifests("127.0.0.1:" + port, "checkpoint-manifests",
                    Set.copyOf(expected), CHECKPOINT_TIMEOUT, service::assertAlive);
            assertThat(new TreeSet<>(manifests.stream().map(CheckpointKey::of).toList()))
                    .as("checkpoints: none of the torn step 4").containsExactlyElementsOf(new TreeSet<>(expected));
        } finally {
            service.stop();
        }
    }

    private static void restartOn(ServiceProcess service, String bootstrap) throws Exception {
        service.start();
        assertThat(service.awaitLine("bootstrap.servers=", START_TIMEOUT)).as("the broker's address after a restart")
                .isEqualTo(bootstrap);
    }

    /** Publishes {@code step} with a new publisher as soon as the broker is up, within the bound; awaits its checkpoint. */
    private static void publishAndCheckpoint(ServiceProcess service, String bootstrap, long step, List<CheckpointKey> expected,
                                             String when) throws Exception {
        publish(bootstrap, step, when);
        expected.add(new CheckpointKey(RUN, "ema", step));
        awaitCheckpoint(service, bootstrap, expected, when);
    }

    /** Publishes {@code step} with a new publisher with default settings, as soon as the broker is up; within the bound. */
    private static void publish(String bootstrap, long step, String when) throws Exception {
        long start = System.nanoTime();
        try (SnapshotPublisher publisher = new SnapshotPublisher(
                Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap, ProducerConfig.MAX_BLOCK_MS_CONFIG,
                        (int) PUBLISH_BOUND.toMillis()), "snapshots", GRID)) {
            publisher.publish(RUN, step, SnapshotMode.UPDATE, false, Map.of(), List.of(weights(step, null, null)));
        }
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        log.info("{}: snapshot of step {} committed {} ms after the bootstrap.servers line", when, step, ms);
        assertThat(Duration.ofMillis(ms)).as("%s: publishing step %d", when, step).isLessThan(PUBLISH_BOUND);
    }

    /** Waits for the checkpoint last added to {@code expected}; fails with the end of the service's log. */
    private static void awaitCheckpoint(ServiceProcess service, String bootstrap, List<CheckpointKey> expected, String when)
            throws InterruptedException {
        try {
            TopicReader.awaitManifests(bootstrap, "checkpoint-manifests", Set.of(expected.get(expected.size() - 1)),
                    CHECKPOINT_TIMEOUT, service::assertAlive);
        } catch (AssertionError e) {
            throw new AssertionError(when + ": " + e.getMessage() + "; the service's log ends:\n" + service.logTail(60), e);
        }
    }

    /** Step 4, whose source stops after its first chunk until the service was killed; the publisher then fails. */
    private static void publishTorn(String bootstrap, CountDownLatch halfSent, CountDownLatch killed) {
        try (SnapshotPublisher publisher = new SnapshotPublisher(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                // The dead transaction holds back read_committed consumers until the broker aborts it.
                ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 5000,
                // Given up before the broker is back, so that it cannot commit the rest of step 4 then.
                ProducerConfig.MAX_BLOCK_MS_CONFIG, 3000, ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 2000,
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 3000), "snapshots", GRID)) {
            publisher.publish(RUN, 4, SnapshotMode.UPDATE, false, Map.of(), List.of(weights(4, halfSent, killed)));
        } catch (Exception expected) {
            log.info("The publisher of step 4 failed, as its broker was killed: {}", expected.toString());
        }
    }

    private static TensorSource weights(long step, CountDownLatch halfSent, CountDownLatch killed) {
        return new TensorSource() {
            @Override
            public TensorSpec spec() {
                return WEIGHT;
            }

            @Override
            public ByteBuffer read(long elementOffset, int count) throws IOException {
                if (halfSent != null && elementOffset > 0) {
                    halfSent.countDown();
                    try {
                        killed.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IOException(e);
                    }
                }
                ByteBuffer b = ByteBuffer.allocate(count * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < count; i++) {
                    b.putFloat((float) Math.sin(elementOffset + i + step));
                }
                return b.flip();
            }
        };
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
