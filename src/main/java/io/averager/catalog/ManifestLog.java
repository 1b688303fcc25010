package io.averager.catalog;

import io.averager.AveragerException;
import io.averager.wire.WireCodec;
import io.averager.wire.WireException;
import io.averager.wire.avro.CheckpointManifest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
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
 * seen when reading began (read_committed, no consumer group, nothing committed).
 */
public final class ManifestLog {

    private static final Logger log = LoggerFactory.getLogger(ManifestLog.class);

    private ManifestLog() {
    }

    /**
     * @param clientProperties connection and security settings
     * @throws AveragerException if the topic does not exist or cannot be read within {@code timeout}
     */
    public static List<CheckpointManifest> readAll(Map<String, Object> clientProperties, String topic, Duration timeout) {
        Map<String, Object> props = new HashMap<>(clientProperties);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, timeout);
            if (infos == null || infos.isEmpty()) {
                throw new AveragerException("Manifests topic " + topic + " does not exist on " + props.get("bootstrap.servers"));
            }
            List<TopicPartition> partitions = infos.stream().map(i -> new TopicPartition(topic, i.partition()))
                    .collect(Collectors.toList());
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
            List<CheckpointManifest> manifests = new ArrayList<>();
            long deadline = System.nanoTime() + timeout.toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                if (System.nanoTime() > deadline) {
                    throw new AveragerException("Reading manifests topic " + topic + " took longer than " + timeout);
                }
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    try {
                        manifests.add(WireCodec.decode(r.value(), CheckpointManifest.class));
                    } catch (WireException e) {
                        log.warn("Skipping record {}-{}@{} of {}: {}", r.topic(), r.partition(), r.offset(), topic, e.getMessage());
                    }
                }
            }
            return manifests;
        }
    }
}
