package io.averager.it;

import io.averager.it.Workload.CheckpointKey;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.CheckpointManifest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads a whole topic as a read_committed consumer sees it: every partition from its start to the
 * end offsets of the moment, without a consumer group. Independent of the service's own readers.
 */
final class TopicReader {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private TopicReader() {
    }

    /** Every committed record of {@code topic}; none if it does not exist. */
    static List<ConsumerRecord<String, byte[]>> readAll(String bootstrapServers, String topic) {
        Map<String, Object> props = Map.of("bootstrap.servers", bootstrapServers, "isolation.level", "read_committed",
                "enable.auto.commit", false, "allow.auto.create.topics", false);
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, TIMEOUT);
            List<TopicPartition> partitions = infos == null ? List.of()
                    : infos.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
            List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
            if (partitions.isEmpty()) {
                return records;
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, TIMEOUT);
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p, TIMEOUT) < end.get(p))) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("Reading " + topic + " to its end offsets " + end + " took over " + TIMEOUT);
                }
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
            }
            return records;
        }
    }

    /**
     * Waits until {@code topic} holds a manifest of every expected checkpoint; returns all its manifests.
     *
     * @param whileWaiting runs between reads; throws to stop waiting (the service died, say)
     */
    static List<CheckpointManifest> awaitManifests(String bootstrapServers, String topic, Set<CheckpointKey> expected,
                                                   Duration timeout, Runnable whileWaiting) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<CheckpointManifest> manifests = manifests(bootstrapServers, topic);
            Set<CheckpointKey> found = manifests.stream().map(CheckpointKey::of).collect(Collectors.toSet());
            if (found.containsAll(expected)) {
                return manifests;
            }
            whileWaiting.run();
            if (System.nanoTime() > deadline) {
                Set<CheckpointKey> missing = new TreeSet<>(expected);
                missing.removeAll(found);
                throw new AssertionError(found.size() + " of " + expected.size() + " checkpoints on " + topic
                        + " within " + timeout + "; missing " + missing);
            }
            Thread.sleep(500);
        }
    }

    /** Every committed manifest on {@code topic}, in partition order. */
    static List<CheckpointManifest> manifests(String bootstrapServers, String topic) {
        return readAll(bootstrapServers, topic).stream()
                .map(r -> WireCodec.decode(r.value(), CheckpointManifest.class)).toList();
    }
}
