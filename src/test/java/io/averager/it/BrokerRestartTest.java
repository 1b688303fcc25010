package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.AveragerException;
import io.averager.config.AveragerConfig;
import io.averager.embedded.EmbeddedKafka;
import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.it.CheckpointComparison.Output;
import io.averager.it.Workload.CheckpointKey;
import io.averager.publish.SnapshotPublisher;
import io.averager.publish.TensorSource;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SnapshotMode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The service rides out a restart of its Kafka broker on its own. With the service running and
 * training runs publishing, the broker (one of this test's own) stops and starts again on the same
 * ports and data, as an operator's rolling restart of a one-node cluster would; a snapshot whose
 * publishing fails meanwhile is published again. The service must neither fail nor need a restart,
 * every checkpoint must still arrive, and each must equal, bitwise, what a service that averages the
 * same snapshots afterwards stores.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class BrokerRestartTest {

    private static final Logger log = LoggerFactory.getLogger(BrokerRestartTest.class);

    private static final int RUNS = 3;
    private static final int SNAPSHOTS_PER_RUN = 20;
    private static final long STEP_GAP = 10;
    private static final long EVERY_STEPS = 30;
    private static final long GRID = 256;
    private static final Duration PAUSE = Duration.ofMillis(150);
    private static final Duration OUTAGE = Duration.ofSeconds(15);
    private static final Duration FINISH_TIMEOUT = Duration.ofSeconds(120);
    private static final List<String> PROFILES = List.of("ema", "slow");

    @TempDir
    Path dir;

    @Test
    void serviceRecoversFromABrokerRestartWithoutLosingOrChangingACheckpoint() throws Exception {
        try (EmbeddedKafka broker = EmbeddedKafka.start(dir.resolve("kafka"))) {
            String bootstrap = broker.bootstrapServers();
            Workload workload = new Workload(SharedKafka.unique("restart"), RUNS, SNAPSHOTS_PER_RUN, STEP_GAP);
            Set<CheckpointKey> expected = workload.checkpointsEvery(EVERY_STEPS, PROFILES);
            List<CheckpointManifest> manifests;
            String snapshots;
            try (ServiceUnderTest service = configured(new ServiceUnderTest(dir.resolve("service"), bootstrap))) {
                snapshots = service.snapshotsTopic();
                service.start();
                CompletableFuture<Void> publishing = CompletableFuture.runAsync(() -> publish(workload, bootstrap, snapshots));

                // Restart once the first checkpoints are stored and a third of the snapshots are out.
                TopicReader.awaitManifests(bootstrap, service.name + "-manifests",
                        Set.of(new CheckpointKey(workload.runs.get(0), PROFILES.get(0), EVERY_STEPS)), FINISH_TIMEOUT,
                        () -> assertThat(service.service().failure()).isNotDone());
                Await.waitingFor("a third of the snapshots published", FINISH_TIMEOUT).every(Duration.ofMillis(50))
                        .whileAlive(service::assertAlive).detail(() -> workload.published.get() + " published")
                        .until(() -> workload.published.get() >= workload.total() / 3);
                long restartBegan = System.nanoTime();
                int publishedBefore = workload.published.get();
                // Down for longer than the publisher's timeouts and the topology's transaction
                // timeout (10 s under exactly-once), as a real broker's restart may well be.
                broker.close();
                Thread.sleep(OUTAGE.toMillis());
                broker.restart();
                log.info("Broker stopped and started again in {} ms, after {} of {} snapshots",
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - restartBegan), publishedBefore, workload.total());

                publishing.get(3, TimeUnit.MINUTES);
                log.info("{} publishing attempts failed and were retried", workload.failures.size());
                assertThat(workload.failures).as("why publishing failed while the broker was away")
                        .allSatisfy(e -> assertThat(e).isInstanceOf(AveragerException.class));
                manifests = TopicReader.awaitManifests(bootstrap, service.name + "-manifests", expected, FINISH_TIMEOUT,
                        () -> assertThat(service.service().failure()).isNotDone());
                assertThat(service.service().failure()).as("the service's failure").isNotDone();
            }

            try (ServiceUnderTest reference = configured(new ServiceUnderTest(dir.resolve("reference"), bootstrap))) {
                reference.settings.put(AveragerConfig.TOPIC_SNAPSHOTS_CONFIG, snapshots);
                reference.start();
                List<CheckpointManifest> referenceManifests = TopicReader.awaitManifests(bootstrap,
                        reference.name + "-manifests", expected, FINISH_TIMEOUT,
                        () -> assertThat(reference.service().failure()).isNotDone());
                Output referenceOutput = new Output(referenceManifests, dir.resolve("reference/checkpoints"));
                assertThat(referenceOutput.keys()).as("the reference's checkpoints").isEqualTo(expected);
                CheckpointComparison.assertSameCheckpoints(new Output(manifests, dir.resolve("service/checkpoints")),
                        referenceOutput);
            }
        }
    }

    /**
     * A trainer whose broker goes away mid-snapshot gets an error within its timeouts, and closing
     * its publisher then returns at once: Kafka's producer would otherwise retry the abort of the
     * open transaction until the broker is back, holding the trainer's shutdown hostage.
     */
    @Test
    void aPublisherWhoseBrokerDiesMidSnapshotFailsAndClosesWithoutWaitingForIt() throws Exception {
        try (EmbeddedKafka broker = EmbeddedKafka.start(dir.resolve("kafka"))) {
            TensorSpec weight = new TensorSpec("w", Dtype.F32, new long[] {4096});
            TensorSource stopsTheBrokerHalfway = new TensorSource() {
                @Override
                public TensorSpec spec() {
                    return weight;
                }

                @Override
                public ByteBuffer read(long elementOffset, int count) {
                    if (elementOffset == 2048) {
                        try {
                            Thread.sleep(500); // what was sent so far is acknowledged
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        broker.close();
                    }
                    ByteBuffer b = ByteBuffer.allocate(count * 4).order(ByteOrder.LITTLE_ENDIAN);
                    for (int i = 0; i < count; i++) {
                        b.putFloat(i);
                    }
                    return b.flip();
                }
            };
            SnapshotPublisher publisher = new SnapshotPublisher(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                    // Kafka's defaults scaled down (60 s and 120 s): the commit times out before the
                    // last chunks' delivery does, so the producer still has the commit to finish.
                    ProducerConfig.MAX_BLOCK_MS_CONFIG, 3000, ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 2000,
                    ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 6000), SharedKafka.unique("lone-snapshots"), 512);
            try {
                publisher.publish("run-0", 0, SnapshotMode.UPDATE, false, Map.of(),
                        List.of(TensorSource.ofFloats("w", new float[4096], 4096)));
                assertThatThrownBy(() -> publisher.publish("run-0", 1, SnapshotMode.UPDATE, false, Map.of(),
                        List.of(stopsTheBrokerHalfway)))
                        .isInstanceOf(AveragerException.class)
                        .hasMessageContaining("run run-0 step 1");
            } finally {
                CompletableFuture<Void> closing = CompletableFuture.runAsync(publisher::close);
                closing.get(20, TimeUnit.SECONDS);
            }
        }
    }

    private static ServiceUnderTest configured(ServiceUnderTest service) {
        service.settings.put(AveragerConfig.PROFILES_CONFIG, String.join(",", PROFILES));
        service.settings.put("averager.profile.ema.decay", "0.9");
        service.settings.put("averager.profile.slow.halflife.steps", "40");
        service.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, Long.toString(EVERY_STEPS));
        return service;
    }

    private static void publish(Workload workload, String bootstrap, String topic) {
        try {
            workload.publish(Map.of("bootstrap.servers", bootstrap), topic, GRID, PAUSE);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
