package io.averager.topology;

import io.averager.AveragerException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads a range of one partition of the snapshots topic back, read_committed, one record at a
 * time: how a local EMA left behind its committed progress catches up. Holds at most a few
 * records at once, whatever the range. Immutable; each read opens a consumer of its own.
 */
public final class SnapshotHistory {

    /** No history to read: a local EMA left behind cannot catch up (tests without a broker). */
    public static final SnapshotHistory NONE = new SnapshotHistory(null, null);

    private static final Duration POLL = Duration.ofMillis(500);
    /** How long a read may go without a record before it gives up, in seconds. */
    private static final long STALL_SECONDS = 60;
    private static final Duration STALL = Duration.ofSeconds(STALL_SECONDS);

    private final Map<String, Object> consumerProperties;
    private final String topic;

    /** @param consumerProperties connection and security settings of the cluster that holds {@code topic} */
    public SnapshotHistory(Map<String, Object> consumerProperties, String topic) {
        this.consumerProperties = consumerProperties == null ? null : Map.copyOf(consumerProperties);
        this.topic = topic;
    }

    /**
     * A consumer that reads snapshots history as the service does (read_committed), assigned
     * rather than in a group, holding a few chunks at most: the heap must not grow with the model.
     *
     * @param consumerProperties connection and security settings; a group in them is ignored
     */
    public static KafkaConsumer<byte[], byte[]> reader(Map<String, Object> consumerProperties) {
        Map<String, Object> props = new HashMap<>(consumerProperties);
        props.remove(ConsumerConfig.GROUP_ID_CONFIG);
        props.remove(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 4);
        props.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 8 << 20);
        props.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 4 << 20);
        return new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    boolean available() {
        return consumerProperties != null;
    }

    /**
     * Hands {@code action} every committed record of {@code partition} from offset {@code from}
     * to offset {@code to}, both included, in offset order.
     *
     * @throws AveragerException if the partition no longer retains offset {@code from}, or no
     *     record came for {@value #STALL_SECONDS} seconds
     */
    void read(int partition, long from, long to, Consumer<ConsumerRecord<byte[], byte[]>> action) {
        TopicPartition p = new TopicPartition(topic, partition);
        try (KafkaConsumer<byte[], byte[]> consumer = reader(consumerProperties)) {
            consumer.assign(List.of(p));
            long retained = consumer.beginningOffsets(List.of(p)).get(p);
            if (retained > from) {
                throw new AveragerException("partition " + p + " starts at offset " + retained + " and the records from "
                        + from + " are needed");
            }
            consumer.seek(p, from);
            long deadline = System.nanoTime() + STALL.toNanos();
            while (consumer.position(p) <= to) {
                boolean any = false;
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(POLL)) {
                    if (r.offset() <= to) {
                        action.accept(r);
                    }
                    any = true;
                }
                if (any) {
                    deadline = System.nanoTime() + STALL.toNanos();
                } else if (System.nanoTime() > deadline) {
                    throw new AveragerException("no record of partition " + p + " came in " + STALL_SECONDS
                            + " s at offset " + consumer.position(p) + " (reading up to " + to + ")");
                }
            }
        }
    }
}
