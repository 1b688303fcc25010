package io.averager.it;

import io.averager.it.Workload.CheckpointKey;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.CheckpointManifest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
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
            try {
                // The consumer's poll waits for records itself: no pause between turns.
                Await.waitingFor("reading " + topic + " to its end offsets " + end, TIMEOUT).every(Duration.ZERO)
                        .detail(() -> records.size() + " records read")
                        .until(() -> {
                            if (partitions.stream().allMatch(p -> consumer.position(p, TIMEOUT) >= end.get(p))) {
                                return true;
                            }
                            consumer.poll(Duration.ofMillis(200)).forEach(records::add);
                            return false;
                        });
            } catch (InterruptedException e) {
                // As the consumer's own calls report it.
                throw new InterruptException(e);
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
        List<CheckpointManifest> manifests = new ArrayList<>();
        Set<CheckpointKey> found = new HashSet<>();
        Await.waitingFor("a manifest of each of " + expected.size() + " checkpoints on " + topic, timeout)
                .every(Duration.ofMillis(500)).whileAlive(whileWaiting)
                .detail(() -> {
                    Set<CheckpointKey> missing = new TreeSet<>(expected);
                    missing.removeAll(found);
                    return found.size() + " found; missing " + missing;
                })
                .until(() -> {
                    manifests.clear();
                    manifests.addAll(manifests(bootstrapServers, topic));
                    found.clear();
                    manifests.stream().map(CheckpointKey::of).forEach(found::add);
                    return found.containsAll(expected);
                });
        return manifests;
    }

    /** Every committed manifest on {@code topic}, in partition order. */
    static List<CheckpointManifest> manifests(String bootstrapServers, String topic) {
        return readAll(bootstrapServers, topic).stream()
                .map(r -> WireCodec.decode(r.value(), CheckpointManifest.class)).toList();
    }
}
