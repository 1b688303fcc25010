package io.averager.it;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Watches a topic as a read_committed consumer without a group: every partition from its start,
 * accumulating the records as they come, so a test can wait until what it expects has arrived.
 * Not thread-safe; close it.
 */
final class CommittedRecords implements AutoCloseable {

    private final KafkaConsumer<byte[], byte[]> consumer;
    private final String topic;
    private final List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();

    /** Watches {@code topic}, waiting up to 30 s for it to exist. */
    CommittedRecords(Map<String, Object> clientProperties, String topic) throws InterruptedException {
        Map<String, Object> props = new HashMap<>(clientProperties);
        props.put("isolation.level", "read_committed");
        props.put("enable.auto.commit", false);
        props.put("max.partition.fetch.bytes", 4 << 20);
        this.consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        this.topic = topic;
        List<PartitionInfo> infos = Await.until("topic " + topic + " to exist", Duration.ofSeconds(30),
                () -> consumer.partitionsFor(topic, Duration.ofSeconds(5)), found -> !found.isEmpty());
        List<TopicPartition> partitions = infos.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
    }

    /** Every record read so far, in the order read (per partition, in offset order). */
    List<ConsumerRecord<byte[], byte[]>> records() {
        return List.copyOf(records);
    }

    /**
     * Reads until {@code done} holds for the records read so far, then returns them.
     *
     * @param state what the failure message adds, e.g. the service's state
     * @throws AssertionError if it does not hold within {@code timeout}
     */
    List<ConsumerRecord<byte[], byte[]>> awaitUntil(Predicate<List<ConsumerRecord<byte[], byte[]>>> done,
                                                     Duration timeout, Supplier<String> state) throws InterruptedException {
        // The consumer's poll waits for records itself: no pause between turns.
        Await.waitingFor("the records on " + topic + " to be as expected", timeout).every(Duration.ZERO)
                .detail(() -> records.size() + " records read; " + state.get())
                .until(() -> {
                    if (done.test(records)) {
                        return true;
                    }
                    consumer.poll(Duration.ofMillis(200)).forEach(records::add);
                    return false;
                });
        return records();
    }

    @Override
    public void close() {
        consumer.close();
    }
}
