package io.averager.ops;

import io.averager.catalog.Rewinds;
import io.averager.wire.WireCodec;
import io.averager.wire.WireException;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.RewindAnswer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
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
 * The last live checkpoint of every run and profile, read from the whole manifests topic and
 * run-events topic (committed records, from the beginning, no consumer group), so that every
 * instance knows every run's checkpoints whichever sink stored them. A checkpoint a rewind
 * superseded is never the last. Holds the {@value #KEPT} latest manifests per run and profile
 * (a rewind goes back at most a few checkpoints, to a restore point) and each run's rewinds:
 * memory grows with runs × profiles, not with checkpoints. Reads on its own daemon thread;
 * queries are thread-safe.
 */
final class CheckpointCatalog implements AutoCloseable {

    static final int KEPT = 32;

    private static final Logger log = LoggerFactory.getLogger(CheckpointCatalog.class);

    private final KafkaConsumer<String, byte[]> consumer;
    private final String manifestsTopic;
    private final String runEventsTopic;
    private final Map<List<String>, NavigableMap<Long, CheckpointManifest>> recent = new HashMap<>();
    private final List<RewindAnswer> answers = new ArrayList<>();
    private Rewinds rewinds = Rewinds.NONE;
    private final Thread thread;
    private volatile boolean closed;

    CheckpointCatalog(Map<String, Object> consumerProperties, String manifestsTopic, String runEventsTopic) {
        Map<String, Object> c = new HashMap<>(consumerProperties);
        // No group: every instance reads every partition, and commits nothing.
        c.remove(ConsumerConfig.GROUP_ID_CONFIG);
        c.remove(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        this.consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
        this.manifestsTopic = manifestsTopic;
        this.runEventsTopic = runEventsTopic;
        this.thread = new Thread(this::run, "averager-checkpoint-catalog");
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    private void run() {
        try {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of(manifestsTopic, runEventsTopic)) {
                consumer.partitionsFor(topic, Duration.ofSeconds(30)).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (!closed) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    add(r);
                }
            }
        } catch (WakeupException e) {
            if (!closed) {
                log.error("Checkpoint catalog stopped reading {}", manifestsTopic, e);
            }
        } catch (RuntimeException e) {
            log.error("Checkpoint catalog stopped reading {}: /runs shows no checkpoints from now on", manifestsTopic, e);
        } finally {
            consumer.close();
        }
    }

    private void add(ConsumerRecord<String, byte[]> r) {
        try {
            if (r.topic().equals(runEventsTopic)) {
                if (WireCodec.decode(r.value()) instanceof RewindAnswer a && a.getRewound()) {
                    synchronized (this) {
                        answers.add(a);
                        rewinds = Rewinds.of(answers);
                    }
                }
                return;
            }
            CheckpointManifest m = WireCodec.decode(r.value(), CheckpointManifest.class);
            synchronized (this) {
                NavigableMap<Long, CheckpointManifest> steps = recent.computeIfAbsent(List.of(m.getRun(), m.getProfile()),
                        k -> new TreeMap<>());
                // Of one step, the later branch's; of one branch, the safetensors file's manifest.
                CheckpointManifest old = steps.get(m.getStep());
                if (old == null || m.getRewinds() > old.getRewinds()
                        || (m.getRewinds() == old.getRewinds() && !old.getFormat().equals("safetensors"))) {
                    steps.put(m.getStep(), m);
                }
                while (steps.size() > KEPT) {
                    steps.pollFirstEntry();
                }
            }
        } catch (WireException | IllegalArgumentException e) {
            log.warn("Skipping unreadable record at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
        }
    }

    /** Every run with a checkpoint. */
    synchronized SortedSet<String> runs() {
        SortedSet<String> runs = new TreeSet<>();
        recent.keySet().forEach(k -> runs.add(k.get(0)));
        return runs;
    }

    /** The last live checkpoint of the run and profile, or null if none is known. */
    synchronized CheckpointManifest last(String run, String profile) {
        NavigableMap<Long, CheckpointManifest> steps = recent.get(List.of(run, profile));
        if (steps == null) {
            return null;
        }
        for (CheckpointManifest m : steps.descendingMap().values()) {
            if (rewinds.isLive(m)) {
                return m;
            }
        }
        return null;
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
