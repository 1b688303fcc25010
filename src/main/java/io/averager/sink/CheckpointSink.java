package io.averager.sink;

import io.averager.AveragerException;
import io.averager.metrics.RunMeters;
import io.averager.wire.WireCodec;
import io.averager.wire.WireException;
import io.averager.wire.WireSerializer;
import io.averager.wire.avro.CheckpointChunk;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.CheckpointHeader;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumes the checkpoints topic (read_committed), assembles each checkpoint into a local file,
 * stores it, then publishes its manifest and commits the consumed offsets in one transaction.
 * Offsets never move past the header of a checkpoint still being assembled, so after a crash the
 * sink re-reads it from its start. Runs on its own thread: {@link #run()} until {@link #close()}.
 */
public final class CheckpointSink implements Runnable, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CheckpointSink.class);

    private final KafkaConsumer<String, byte[]> consumer;
    private final Map<String, Object> consumerSettings;
    private final Map<String, Object> producerSettings;
    private KafkaProducer<String, SpecificRecordBase> producer;
    private final String checkpointsTopic;
    private final String manifestsTopic;
    private final ObjectStore store;
    private final CheckpointFormats formats;
    private final RunMeters meters;
    private final Consumer<CheckpointManifest> listener;
    private final Assemblies assemblies;
    private Upload waiting;
    private volatile boolean closed;

    /**
     * @param consumerProperties consumer settings: connection, security and any the operator gave
     *     (session.timeout.ms, group.instance.id, ...); those the sink depends on are its own
     * @param producerProperties producer settings, likewise
     * @param groupId consumer group, the same for every instance of the application
     * @param transactionalId the producer's transactional id: unique to this instance and the same
     *     across its restarts, so that instances do not fence each other while a restarted one
     *     fences its previous life; zombies of a moved partition are fenced by the consumer group
     *     metadata sent with the offsets (KIP-447)
     * @param spoolDir where files are assembled; partial files found there at start are deleted
     * @param formats the formats of each profile's files, {@code safetensors} and/or {@code pt}
     *     (converted from the safetensors file); profiles not named get safetensors alone
     * @param meters where retries, aborts and checkpoint latencies are counted
     * @param listener told of each manifest once published (progress output); may do nothing
     */
    public CheckpointSink(Map<String, Object> consumerProperties, Map<String, Object> producerProperties, String groupId,
                          String transactionalId, String checkpointsTopic, String manifestsTopic, ObjectStore store, Path spoolDir,
                          Map<String, Set<String>> formats, RunMeters meters, Consumer<CheckpointManifest> listener) {
        this.meters = meters;
        this.checkpointsTopic = checkpointsTopic;
        this.manifestsTopic = manifestsTopic;
        this.store = store;
        this.assemblies = new Assemblies(spoolDir);
        this.formats = new CheckpointFormats(formats);
        this.listener = listener;
        Map<String, Object> c = new HashMap<>();
        c.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10_000);
        c.putAll(consumerProperties);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        // Bounded in records and bytes: chunks are large, and the heap must not grow with the model.
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 4);
        c.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 8 << 20);
        c.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 4 << 20);
        this.consumerSettings = c;
        this.consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
        Map<String, Object> p = new HashMap<>(producerProperties);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, 4L << 20);
        this.producerSettings = p;
        this.producer = new KafkaProducer<>(p, new StringSerializer(), new WireSerializer());
    }

    @Override
    public void run() {
        try {
            assemblies.prepare();
            producer.initTransactions();
            consumer.subscribe(List.of(checkpointsTopic), new Rebalance());
            while (!closed) {
                if (waiting != null && !retryStore()) {
                    // Partitions are paused: polling only keeps the group membership alive.
                    consumer.poll(Duration.ofMillis(200));
                    continue;
                }
                List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
                consumer.poll(Duration.ofMillis(500)).forEach(records::add);
                for (int i = 0; i < records.size(); i++) {
                    handle(records.get(i));
                    if (waiting != null) {
                        holdBack(records.subList(i + 1, records.size()));
                        break;
                    }
                }
            }
        } catch (WakeupException e) {
            if (!closed) {
                throw e;
            }
        } catch (IOException e) {
            throw new AveragerException("Checkpoint sink failed: " + e.getMessage(), e);
        } catch (KafkaException e) {
            throw SinkErrors.fatal(e, consumerGroup(), transactionalId());
        } finally {
            assemblies.dropAll();
            if (waiting != null) {
                waiting.deleteFiles();
            }
            consumer.close();
            producer.close();
        }
    }

    private void handle(ConsumerRecord<String, byte[]> record) throws IOException {
        SpecificRecordBase message;
        try {
            message = WireCodec.decode(record.value());
        } catch (WireException e) {
            log.error("Skipping undecodable record at {}-{}@{}: {}", record.topic(), record.partition(), record.offset(),
                    e.getMessage());
            return;
        }
        if (message instanceof CheckpointHeader h) {
            assemblies.begin(h, new TopicPartition(record.topic(), record.partition()), record.offset());
        } else if (message instanceof CheckpointChunk c) {
            CheckpointAssembly a = assemblies.get(c.getRun(), c.getProfile(), c.getStep());
            if (a == null) {
                // After a restart the sink re-reads from the oldest unfinished header, so chunks of
                // checkpoints it already stored come again; they have no assembly and are not needed.
                log.debug("Chunk of run {} profile {} step {} without its checkpoint header; skipped",
                        c.getRun(), c.getProfile(), c.getStep());
                return;
            }
            a.write(c);
        } else if (message instanceof CheckpointCommit m) {
            complete(m, record.offset() + 1, record.timestamp());
        }
    }

    /**
     * @param next the offset after the commit record
     * @param timestamp the commit record's timestamp, that of the snapshot commit
     */
    private void complete(CheckpointCommit m, long next, long timestamp) throws IOException {
        CheckpointAssembly a = assemblies.get(m.getRun(), m.getProfile(), m.getStep());
        if (a == null) {
            log.debug("Commit of run {} profile {} step {} without its checkpoint header; skipped",
                    m.getRun(), m.getProfile(), m.getStep());
            return;
        }
        if (m.getAbortReason() != null) {
            log.warn("Checkpoint of run {} profile {} step {} discarded: {}", m.getRun(), m.getProfile(), m.getStep(),
                    m.getAbortReason());
            assemblies.drop(m.getRun(), m.getProfile());
            return;
        }
        CheckpointAssembly.Finished file = a.finish(m.getChunkCount());
        TopicPartition partition = assemblies.remove(m.getRun(), m.getProfile());
        waiting = new Upload(formats.outputs(file, a.header(), Instant.ofEpochMilli(timestamp)), partition, next,
                new Backoff());
        retryStore();
    }

    /**
     * Tries to store the waiting files (those not stored yet); once all are, publishes their
     * manifests and resumes consuming. On failure consumption stays paused (the EMA keeps
     * advancing upstream) and the next try waits a little longer, up to a minute.
     */
    private boolean retryStore() {
        if (!waiting.backoff().due()) {
            return false;
        }
        for (CheckpointFormats.Output output : waiting.files()) {
            CheckpointManifest manifest = output.manifest();
            if (manifest.getUri() != null) {
                continue;
            }
            String key = ObjectKeys.checkpoint(manifest.getRun(), manifest.getProfile(), manifest.getStep(),
                    manifest.getRewinds(), manifest.getFormat());
            URI uri;
            try {
                uri = store.put(key, output.file());
            } catch (IOException | RuntimeException e) {
                long delay = waiting.backoff().failed();
                meters.sinkRetry();
                log.warn("Cannot store checkpoint of run {} profile {} step {} in {} (attempt {}, next in {} ms): {}",
                        manifest.getRun(), manifest.getProfile(), manifest.getStep(), store.describe(),
                        waiting.backoff().attempts(), delay, e.toString());
                consumer.pause(consumer.assignment());
                return false;
            }
            manifest.setUri(uri.toString());
        }
        List<CheckpointManifest> manifests = waiting.files().stream().map(CheckpointFormats.Output::manifest).toList();
        Upload upload = waiting;
        waiting = null;
        if (publish(manifests, upload.partition(), upload.next()) && upload.backoff().attempts() > 0) {
            CheckpointManifest m = manifests.get(0);
            log.info("Stored checkpoint of run {} profile {} step {} after {} failed attempts", m.getRun(),
                    m.getProfile(), m.getStep(), upload.backoff().attempts());
        }
        consumer.resume(consumer.assignment());
        return true;
    }

    /**
     * Publishes the manifests, one per stored file, and commits the offsets in one transaction.
     * When the transaction fails for a reason a retry cures (this instance fenced, its group
     * rebalanced, the partition moved) it is aborted and the sink starts again from the committed
     * offsets, as a restarted instance would: the checkpoint is assembled again by whoever owns
     * its partition now. Other errors stop the sink.
     *
     * @return whether the manifests are published
     */
    private boolean publish(List<CheckpointManifest> manifests, TopicPartition partition, long next) {
        try {
            producer.beginTransaction();
            for (CheckpointManifest manifest : manifests) {
                producer.send(new ProducerRecord<>(manifestsTopic, manifest.getRun(), manifest));
            }
            producer.sendOffsetsToTransaction(
                    Map.of(partition, new OffsetAndMetadata(assemblies.safeOffset(partition, next))),
                    consumer.groupMetadata());
            producer.commitTransaction();
        } catch (KafkaException e) {
            if (!SinkErrors.retriable(e)) {
                throw e;
            }
            CheckpointManifest m = manifests.get(0);
            log.warn("Manifests of run {} profile {} step {} not published: {}; aborting and reading the checkpoints"
                    + " topic again from the committed offsets", m.getRun(), m.getProfile(), m.getStep(), e.toString());
            meters.sinkAbort();
            abort();
            rewind();
            return false;
        }
        for (CheckpointManifest manifest : manifests) {
            log.info("Checkpoint of run {} profile {} step {} stored at {} ({} bytes)", manifest.getRun(),
                    manifest.getProfile(), manifest.getStep(), manifest.getUri(), manifest.getSize());
            meters.checkpointPublished(manifest.getRun(), manifest.getProfile(), manifest.getSnapshotTime().toEpochMilli());
            listener.accept(manifest);
        }
        return true;
    }

    /**
     * Aborts the open transaction; a producer that cannot abort (fenced, or in a fatal state) is
     * replaced by a new one with the same transactional id, which settles what the old one left.
     */
    private void abort() {
        try {
            producer.abortTransaction();
            return;
        } catch (KafkaException e) {
            log.info("Replacing the sink's producer {} after {}", transactionalId(), e.toString());
        }
        producer.close(Duration.ZERO);
        producer = new KafkaProducer<>(producerSettings, new StringSerializer(), new WireSerializer());
        producer.initTransactions();
    }

    /** Forgets every checkpoint in progress and goes back to the committed offsets of each assigned partition. */
    private void rewind() {
        assemblies.dropAll();
        Set<TopicPartition> assigned = consumer.assignment();
        Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(assigned);
        for (TopicPartition partition : assigned) {
            OffsetAndMetadata offset = committed.get(partition);
            if (offset == null) {
                consumer.seekToBeginning(List.of(partition));
            } else {
                consumer.seek(partition, offset.offset());
            }
        }
    }

    private String consumerGroup() {
        return (String) consumerSettings.get(ConsumerConfig.GROUP_ID_CONFIG);
    }

    private String transactionalId() {
        return (String) producerSettings.get(ProducerConfig.TRANSACTIONAL_ID_CONFIG);
    }

    /** Records consumed but not handled while a file waits: fetched again once consumption resumes. */
    private void holdBack(List<ConsumerRecord<String, byte[]>> rest) {
        Map<TopicPartition, Long> first = new HashMap<>();
        for (ConsumerRecord<String, byte[]> r : rest) {
            first.putIfAbsent(new TopicPartition(r.topic(), r.partition()), r.offset());
        }
        first.forEach(consumer::seek);
        consumer.pause(consumer.assignment());
    }

    /** The files of a complete checkpoint waiting to be stored, and what to publish once they are. */
    private record Upload(List<CheckpointFormats.Output> files, TopicPartition partition, long next, Backoff backoff) {
        void deleteFiles() {
            files.forEach(f -> deleteQuietly(f.file()));
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            log.warn("Cannot delete spool file {}: {}", file, e.toString());
        }
    }

    @Override
    public void close() {
        closed = true;
        consumer.wakeup();
    }

    private final class Rebalance implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            assemblies.dropPartitions(partitions);
            if (waiting != null && partitions.contains(waiting.partition())) {
                // Another instance will assemble and store it again from the committed offsets.
                waiting.deleteFiles();
                waiting = null;
            }
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        }
    }
}
