package io.averager.bench;

import io.averager.config.AveragerConfig;
import io.averager.embedded.EmbeddedKafka;
import io.averager.publish.SnapshotPublisher;
import io.averager.publish.TensorSource;
import io.averager.replay.Replay;
import io.averager.topology.Selection;
import io.averager.wire.avro.SnapshotMode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Replay throughput against the limit of the same broker: publishes a run of snapshots to an
 * embedded broker, reads them with a bare read_committed consumer, replays them with one
 * profile, and prints both rates and their ratio.
 */
public final class ReplayBench {

    private static final String RUN = "bench-run";

    private final Path dataDir;
    private final int modelMiB;
    private final int snapshots;
    private final PrintStream out;

    public ReplayBench(Path dataDir, int modelMiB, int snapshots, PrintStream out) {
        this.dataDir = dataDir;
        this.modelMiB = modelMiB;
        this.snapshots = snapshots;
        this.out = out;
    }

    public void run() throws IOException, InterruptedException {
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dataDir.resolve("kafka"))) {
            Map<String, String> settings = new HashMap<>(kafka.serviceDefaults(dataDir));
            settings.put(AveragerConfig.TOPIC_PARTITIONS_CONFIG, "1");
            settings.put(AveragerConfig.PROFILES_CONFIG, "ema");
            settings.put("averager.profile.ema.decay", "0.999");
            settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "0");
            long bytes = publish(kafka);
            out.printf("averager bench replay: %d snapshots of %d MiB (%s) on an embedded broker, %d cores%n",
                    snapshots, modelMiB, mib(bytes), Runtime.getRuntime().availableProcessors());
            bareConsumer(kafka);
            double bare = bareConsumer(kafka);
            Replay.Result replay = new Replay(settings, new Selection(Set.of(RUN), Long.MIN_VALUE, Long.MAX_VALUE), true, false)
                    .run(new PrintStream(OutputStream.nullOutputStream()), false);
            double replayed = replay.bytes() / replay.seconds();
            out.printf("%-44s %10s %8s%n", "what", "MiB/s", "ratio");
            out.printf("%-44s %10.1f %8.2f%n", "bare consumer, read_committed (page cache)", bare / (1 << 20), 1.0);
            out.printf("%-44s %10.1f %8.2f%n", "replay, 1 profile, start to last checkpoint", replayed / (1 << 20), replayed / bare);
        }
    }

    private long publish(EmbeddedKafka kafka) throws IOException {
        long elements = (long) modelMiB << 18;
        try (SnapshotPublisher publisher = new SnapshotPublisher(Map.of("bootstrap.servers", kafka.bootstrapServers()),
                "snapshots", SnapshotPublisher.DEFAULT_GRID)) {
            for (int s = 1; s <= snapshots; s++) {
                int step = s;
                publisher.publish(RUN, step, SnapshotMode.UPDATE, s == snapshots, Map.of(),
                        List.of(TensorSource.ofFloats("w", new long[] {elements}, i -> i % 1000 * 0.001f + step)));
            }
        }
        return elements * 4 * snapshots;
    }

    /** Bytes per second a plain consumer reads the whole snapshots topic at. */
    private static double bareConsumer(EmbeddedKafka kafka) {
        Map<String, Object> props = Map.of("bootstrap.servers", kafka.bootstrapServers(), "isolation.level", "read_committed",
                "fetch.max.bytes", 64 << 20, "max.partition.fetch.bytes", 64 << 20);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor("snapshots").stream()
                    .map((PartitionInfo p) -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            long bytes = 0;
            long start = System.nanoTime();
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    bytes += r.value().length;
                }
            }
            return bytes / ((System.nanoTime() - start) / 1e9);
        }
    }

    private static String mib(long bytes) {
        return String.format("%.1f MiB", bytes / (double) (1 << 20));
    }
}
