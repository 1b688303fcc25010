package io.averager.bench;

import io.averager.wire.RecordLimits;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * What plain Kafka clients move on a broker, with nothing between them: the limits averager's
 * figures are divided by. Rates are record value bytes a second.
 */
final class BareKafka {

    private final Map<String, String> clients;

    /** Record value bytes moved, and the seconds it took. */
    record Moved(long bytes, double seconds) {
        double rate() {
            return bytes / seconds;
        }
    }

    /** Clients with these settings ({@code bootstrap.servers}, security). */
    BareKafka(Map<String, String> clients) {
        this.clients = Map.copyOf(clients);
    }

    /**
     * A producer sending {@code records} values of {@code recordBytes} to a one-partition topic
     * while a read_committed consumer reads them as they arrive: the bare pipe. Timed from the
     * first send to the last record read.
     */
    Moved pipe(String topic, int recordBytes, int records) {
        byte[] value = new byte[recordBytes];
        for (int i = 0; i < value.length; i++) {
            value[i] = (byte) (i * 31);
        }
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            TopicPartition partition = new TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seekToEnd(List.of(partition));
            long from = consumer.position(partition);
            long start = System.nanoTime();
            CompletableFuture<Void> produced = CompletableFuture.runAsync(() -> {
                try (KafkaProducer<byte[], byte[]> producer = producer()) {
                    for (int i = 0; i < records; i++) {
                        producer.send(new ProducerRecord<>(topic, value));
                    }
                }
            });
            long bytes = drain(consumer, partition, from + records);
            produced.join();
            return new Moved(bytes, (System.nanoTime() - start) / 1e9);
        }
    }

    /** A read_committed consumer reading the whole one-partition {@code topic} alone, from the page cache. */
    Moved consume(String topic) {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            TopicPartition partition = new TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            long start = System.nanoTime();
            long bytes = drain(consumer, partition, end);
            return new Moved(bytes, (System.nanoTime() - start) / 1e9);
        }
    }

    private static long drain(KafkaConsumer<byte[], byte[]> consumer, TopicPartition partition, long until) {
        long bytes = 0;
        while (consumer.position(partition) < until) {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                bytes += r.value().length;
            }
        }
        return bytes;
    }

    private KafkaConsumer<byte[], byte[]> consumer() {
        Map<String, Object> props = new HashMap<>(clients);
        props.putAll(Map.of("isolation.level", "read_committed", "fetch.max.bytes", 64 << 20,
                "max.partition.fetch.bytes", 64 << 20));
        return new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    private KafkaProducer<byte[], byte[]> producer() {
        Map<String, Object> props = new HashMap<>(clients);
        // The socket buffer the service's and the publisher's producers use, so the pipe is the limit for the same clients.
        props.putAll(Map.of("max.request.size", 64 << 20, "linger.ms", 5,
                "send.buffer.bytes", RecordLimits.SEND_BUFFER_BYTES));
        return new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
    }
}
