package io.averager.ops;

import io.averager.wire.WireCodec;
import io.averager.wire.WireException;
import io.averager.wire.avro.CheckpointManifest;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last checkpoint of every run and profile, read from the whole manifests topic (committed
 * records, from the beginning, no consumer group), so that every instance knows every run's
 * checkpoints whichever sink stored them. Holds one manifest per run and profile: memory
 * grows with runs × profiles, not with checkpoints. Reads on its own daemon thread; queries are
 * thread-safe.
 */
final class CheckpointCatalog implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CheckpointCatalog.class);

    private final KafkaConsumer<String, byte[]> consumer;
    private final String topic;
    private final Map<List<String>, CheckpointManifest> latest = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean closed;

    CheckpointCatalog(Map<String, Object> consumerProperties, String topic) {
        Map<String, Object> c = new HashMap<>(consumerProperties);
        // No group: every instance reads every partition, and commits nothing.
        c.remove(ConsumerConfig.GROUP_ID_CONFIG);
        c.remove(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        this.consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
        this.topic = topic;
        this.thread = new Thread(this::run, "averager-checkpoint-catalog");
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    private void run() {
        try {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (!closed) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    add(r);
                }
            }
        } catch (WakeupException e) {
            if (!closed) {
                log.error("Checkpoint catalog stopped reading {}", topic, e);
            }
        } catch (RuntimeException e) {
            log.error("Checkpoint catalog stopped reading {}: /runs shows no checkpoints from now on", topic, e);
        } finally {
            consumer.close();
        }
    }

    private void add(ConsumerRecord<String, byte[]> r) {
        try {
            CheckpointManifest m = WireCodec.decode(r.value(), CheckpointManifest.class);
            latest.merge(List.of(m.getRun(), m.getProfile()), m, CheckpointCatalog::later);
        } catch (WireException | IllegalArgumentException e) {
            log.warn("Skipping unreadable manifest at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
        }
    }

    /** The later of two manifests; of one step, the safetensors file's. */
    private static CheckpointManifest later(CheckpointManifest old, CheckpointManifest now) {
        if (now.getStep() != old.getStep()) {
            return now.getStep() > old.getStep() ? now : old;
        }
        return old.getFormat().equals("safetensors") ? old : now;
    }

    /** Every run with a checkpoint. */
    SortedSet<String> runs() {
        SortedSet<String> runs = new TreeSet<>();
        latest.keySet().forEach(k -> runs.add(k.get(0)));
        return runs;
    }

    /** The last checkpoint of the run and profile, or null if none is known. */
    CheckpointManifest last(String run, String profile) {
        return latest.get(List.of(run, profile));
    }

    @Override
    public void close() {
        closed = true;
        consumer.wakeup();
        try {
            thread.join(Duration.ofSeconds(10).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
