package io.averager.bench;

import io.averager.wire.RecordLimits;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The least a changelogged EMA must do, as a JVM of its own like the benchmarked service: read
 * the snapshot records of a one-partition topic read_committed and write state bytes back to a
 * compacted topic in transactions with the consumed offsets, committed every
 * {@code commit.interval.ms}, with the client settings the service gives Kafka Streams. Each
 * record gets {@code bench.state.factor} times its value's bytes of state (1 for float32 input, 2
 * for bfloat16, whose EMA is float32). No arithmetic and no local store: what is left of the
 * service's CPU a GiB when everything but Kafka's part is taken away.
 *
 * <p>Reads a properties file (client settings plus {@code bench.*}), prints {@code ready}, then
 * {@code committed POSITION CPU_NANOS PRODUCED_BYTES JIT_NANOS} after each commit, and stops at end of input.
 */
public final class BareEma {

    static final String INPUT = "bench.input.topic";
    static final String STATE = "bench.state.topic";
    static final String FACTOR = "bench.state.factor";
    private static final long COMMIT_INTERVAL_MS = 1000;
    private static final Duration CLOSE = Duration.ofSeconds(10);

    private BareEma() {
    }

    public static void main(String[] args) throws IOException {
        Properties props = new Properties();
        try (InputStream in = Files.newInputStream(Path.of(args[0]))) {
            props.load(in);
        }
        Map<String, Object> clients = new HashMap<>();
        props.stringPropertyNames().stream().filter(k -> !k.startsWith("bench."))
                .forEach(k -> clients.put(k, props.getProperty(k)));
        TopicPartition input = new TopicPartition(props.getProperty(INPUT), 0);
        String state = props.getProperty(STATE);
        int factor = Integer.parseInt(props.getProperty(FACTOR));
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        AtomicBoolean stopped = new AtomicBoolean();
        Thread stdin = new Thread(() -> {
            try {
                System.in.transferTo(java.io.OutputStream.nullOutputStream());
            } catch (IOException e) {
                // stop all the same
            }
            stopped.set(true);
        }, "bench-stdin");
        stdin.setDaemon(true);
        stdin.start();
        KafkaConsumer<byte[], byte[]> consumer = consumer(clients, input.topic());
        KafkaProducer<byte[], byte[]> producer = producer(clients, input.topic());
        try {
            consumer.assign(List.of(input));
            consumer.seekToBeginning(List.of(input));
            producer.initTransactions();
            producer.beginTransaction();
            out.println("ready");
            byte[] stateBytes = new byte[0];
            long committed = -1;
            long lastCommit = System.nanoTime();
            while (!stopped.get()) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    int size = r.value().length * factor;
                    if (stateBytes.length != size) {
                        stateBytes = new byte[size];
                    }
                    // The producer copies the value into its batch on send, so one array serves every record.
                    producer.send(new ProducerRecord<>(state, Long.toString(r.offset()).getBytes(StandardCharsets.UTF_8),
                            stateBytes));
                }
                long position = consumer.position(input);
                if (System.nanoTime() - lastCommit >= COMMIT_INTERVAL_MS * 1_000_000 && position != committed) {
                    producer.sendOffsetsToTransaction(Map.of(input, new OffsetAndMetadata(position)), consumer.groupMetadata());
                    producer.commitTransaction();
                    producer.beginTransaction();
                    committed = position;
                    lastCommit = System.nanoTime();
                    out.println("committed " + position + " " + ProcessHandle.current().info().totalCpuDuration()
                            .map(d -> d.toNanos()).orElse(-1L) + " " + ProducedBytes.now() + " " + CompilerThreads.cpuNanos());
                }
            }
        } finally {
            // Bounded, so that a broker gone before the benchmark ends does not keep this JVM waiting.
            producer.close(CLOSE);
            consumer.close(CLOSE);
        }
    }

    private static KafkaConsumer<byte[], byte[]> consumer(Map<String, Object> clients, String group) {
        Map<String, Object> p = new HashMap<>(clients);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group + "-bare-ema");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        // As the service sets them for Kafka Streams' consumer.
        p.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 8 << 20);
        p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 4 << 20);
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    private static KafkaProducer<byte[], byte[]> producer(Map<String, Object> clients, String topic) {
        Map<String, Object> p = new HashMap<>(clients);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, topic + "-bare-ema");
        // As the service sets them for Kafka Streams' producer.
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, RecordLimits.MAX_MESSAGE_BYTES);
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, 16L << 20);
        p.put(ProducerConfig.SEND_BUFFER_CONFIG, RecordLimits.SEND_BUFFER_BYTES);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 100); // Kafka Streams' default for its producers
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }
}
