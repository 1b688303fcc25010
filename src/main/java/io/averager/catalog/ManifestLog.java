package io.averager.catalog;

import io.averager.AveragerException;
import io.averager.wire.WireCodec;
import io.averager.wire.WireException;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.RewindAnswer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads every manifest published so far: the manifests topic from its start to the end offsets
 * seen when reading began (read_committed, no consumer group, nothing committed); and, to tell
 * the superseded ones, the rewinds on the run-events topic.
 */
public final class ManifestLog {

    private static final Logger log = LoggerFactory.getLogger(ManifestLog.class);

    private ManifestLog() {
    }

    /**
     * The manifests and the rewinds that supersede some of them. A run-events topic that does
     * not exist holds no rewind: the service creates it before it answers any.
     *
     * @param clientProperties connection and security settings
     * @throws AveragerException if the manifests topic does not exist, or a topic cannot be read within {@code timeout}
     */
    public static Catalog read(Map<String, Object> clientProperties, String manifestsTopic, String runEventsTopic,
                               Duration timeout) {
        List<CheckpointManifest> manifests = readAll(clientProperties, manifestsTopic, timeout);
        List<RewindAnswer> answers = new ArrayList<>();
        if (!read(clientProperties, runEventsTopic, timeout, RewindAnswer.class, answers)) {
            log.info("No run-events topic {}: no run has been rewound", runEventsTopic);
        }
        return new Catalog(manifests, Rewinds.of(answers));
    }

    /**
     * Every manifest, superseded or not.
     *
     * @param clientProperties connection and security settings
     * @throws AveragerException if the topic does not exist or cannot be read within {@code timeout}
     */
    public static List<CheckpointManifest> readAll(Map<String, Object> clientProperties, String topic, Duration timeout) {
        List<CheckpointManifest> manifests = new ArrayList<>();
        if (!read(clientProperties, topic, timeout, CheckpointManifest.class, manifests)) {
            throw new AveragerException("Manifests topic " + topic + " does not exist on " + clientProperties.get("bootstrap.servers"));
        }
        return manifests;
    }

    /** Adds the records of {@code type} on {@code topic} to {@code into}, skipping others; false if the topic does not exist. */
    private static <T extends SpecificRecordBase> boolean read(
            Map<String, Object> clientProperties, String topic, Duration timeout, Class<T> type, List<T> into) {
        Map<String, Object> props = new HashMap<>(clientProperties);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        // Asking for a topic that does not exist must not create it.
        props.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false);
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, timeout);
            if (infos == null || infos.isEmpty()) {
                return false;
            }
            List<TopicPartition> partitions = infos.stream().map(i -> new TopicPartition(topic, i.partition()))
                    .collect(Collectors.toList());
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                if (System.nanoTime() > deadline) {
                    throw new AveragerException("Reading topic " + topic + " took longer than " + timeout);
                }
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    try {
                        // Records of other types (a run-events topic also carries rebuild requests) are not asked for.
                        SpecificRecordBase m = WireCodec.decode(r.value());
                        if (type.isInstance(m)) {
                            into.add(type.cast(m));
                        }
                    } catch (WireException e) {
                        log.warn("Skipping record {}-{}@{} of {}: {}", r.topic(), r.partition(), r.offset(), topic, e.getMessage());
                    }
                }
            }
            return true;
        }
    }
}
