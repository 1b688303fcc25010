package io.averager.replay;

import io.averager.AveragerException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The extent of the snapshots history when a replay starts: per partition, where it begins (after
 * retention) and the offset of its last committed record. Offsets past the last record hold only
 * transaction markers or aborted records, which a read_committed reader never sees.
 *
 * @param begin first retained offset per partition
 * @param last offset of the last committed record per partition; absent for an empty partition
 */
record History(String topic, Map<Integer, Long> begin, Map<Integer, Long> last) {

    static History capture(Map<String, Object> clientProperties, String topic, Duration timeout) {
        Map<String, Object> props = new HashMap<>(clientProperties);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, timeout);
            if (infos == null || infos.isEmpty()) {
                throw new AveragerException("Snapshots topic " + topic + " does not exist on " + props.get("bootstrap.servers"));
            }
            List<TopicPartition> partitions = infos.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
            Map<TopicPartition, Long> begins = consumer.beginningOffsets(partitions, timeout);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, timeout);
            Map<Integer, Long> begin = new HashMap<>();
            Map<Integer, Long> last = new HashMap<>();
            for (TopicPartition p : partitions) {
                begin.put(p.partition(), begins.get(p));
                lastRecord(consumer, p, begins.get(p), ends.get(p), timeout).ifPresent(o -> last.put(p.partition(), o));
            }
            return new History(topic, begin, last);
        }
    }

    /** Reads backwards in growing windows until a committed record turns up. */
    private static java.util.Optional<Long> lastRecord(KafkaConsumer<byte[], byte[]> consumer, TopicPartition p,
                                                       long begin, long end, Duration timeout) {
        consumer.assign(List.of(p));
        long window = 16;
        long from = end;
        while (from > begin) {
            from = Math.max(begin, end - window);
            consumer.seek(p, from);
            long found = -1;
            long deadline = System.nanoTime() + timeout.toNanos();
            while (consumer.position(p) < end) {
                if (System.nanoTime() > deadline) {
                    throw new AveragerException("Reading the end of " + p + " took longer than " + timeout);
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    found = Math.max(found, r.offset());
                }
            }
            if (found >= 0) {
                return java.util.Optional.of(found);
            }
            window *= 4;
        }
        return java.util.Optional.empty();
    }

    /** Records to process in all: from each partition's start to its last record. */
    long records() {
        return last.entrySet().stream().mapToLong(e -> e.getValue() - begin.get(e.getKey()) + 1).sum();
    }
}
