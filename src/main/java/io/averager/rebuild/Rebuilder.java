package io.averager.rebuild;

import io.averager.AveragerException;
import io.averager.ema.TensorSpec;
import io.averager.topology.SnapshotHistory;
import io.averager.wire.Rebuilds;
import io.averager.wire.Signatures;
import io.averager.wire.WireCodec;
import io.averager.wire.WireException;
import io.averager.wire.avro.RebuildMark;
import io.averager.wire.avro.RebuildPhase;
import io.averager.wire.avro.RebuildRequest;
import io.averager.wire.avro.SeedChunk;
import io.averager.wire.avro.SeedMark;
import io.averager.wire.avro.SeedRequest;
import io.averager.wire.avro.TensorInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers the topology's {@link RebuildRequest}s and {@link SeedRequest}s from the run-events
 * topic. A rebuild reads the run's
 * history on its partition of snapshots (read_committed) from the request's start offset to the
 * rewind request, and publishes again, on that partition, the run's snapshot records of the steps
 * after the restore point up to the step asked for, each with its original timestamp and the
 * {@link Rebuilds#HEADER} header, between a BEGIN and an END {@link RebuildMark}, in one
 * transaction with the request's consumed offset. History the partition no longer retains gets
 * an ABORT mark instead. Records inside an earlier rebuild are taken only if that rebuild
 * published them. A seed fetches the fork's parent checkpoints at the step (one per profile,
 * live ones only, verified against their manifests) and publishes their EMA on the new run's
 * partition, chunk by chunk on the fork's grid, between a BEGIN and an END {@link SeedMark}, in one
 * transaction with the request's offset; a parent without such checkpoints gets an ABORT mark
 * saying why. Streams one record or chunk at a time: memory does not grow with the model or the
 * history. Runs on its own thread: {@link #run()} until {@link #close()}.
 */
public final class Rebuilder implements Runnable, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Rebuilder.class);
    private static final Duration POLL = Duration.ofMillis(500);
    private static final Duration RETRY = Duration.ofSeconds(1);
    /** One rebuild is one transaction: as long as the broker's default maximum allows it. */
    private static final int TRANSACTION_TIMEOUT_MS = 900_000;

    private final KafkaConsumer<byte[], byte[]> requests;
    private final KafkaConsumer<byte[], byte[]> history;
    private final KafkaProducer<byte[], byte[]> producer;
    private final String runEventsTopic;
    private final String snapshotsTopic;
    private final ParentCheckpoints parents;
    private final Signatures signatures;
    private volatile boolean closed;

    /**
     * @param consumerProperties connection and security settings
     * @param producerProperties likewise, for the producer
     * @param groupId consumer group of the rebuilders of one application
     * @param transactionalId unique to this instance and the same across its restarts
     * @param maxRequestSize the largest snapshot record to publish again
     * @param parents where forks find their parents' checkpoints
     * @param signatures the keys of signed runs: the records published again keep their MACs, and
     *     the rebuilder's own are signed with their run's key
     */
    public Rebuilder(Map<String, Object> consumerProperties, Map<String, Object> producerProperties, String groupId,
                     String transactionalId, String runEventsTopic, String snapshotsTopic, int maxRequestSize,
                     ParentCheckpoints parents, Signatures signatures) {
        this.runEventsTopic = runEventsTopic;
        this.signatures = signatures;
        this.snapshotsTopic = snapshotsTopic;
        this.parents = parents;
        Map<String, Object> c = new HashMap<>(consumerProperties);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        // A request is handled between two polls, for as long as its transaction may take.
        c.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, TRANSACTION_TIMEOUT_MS + 60_000);
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 16);
        this.requests = new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        this.history = SnapshotHistory.reader(consumerProperties);
        Map<String, Object> p = new HashMap<>(producerProperties);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, maxRequestSize);
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Math.max(32L << 20, 2L * maxRequestSize));
        p.putIfAbsent(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, TRANSACTION_TIMEOUT_MS);
        this.producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    @Override
    public void run() {
        try {
            producer.initTransactions();
            requests.subscribe(List.of(runEventsTopic));
            while (!closed) {
                for (ConsumerRecord<byte[], byte[]> r : requests.poll(POLL)) {
                    SpecificRecordBase message = decode(r);
                    TopicPartition from = new TopicPartition(r.topic(), r.partition());
                    boolean done = true;
                    if (message instanceof RebuildRequest request) {
                        done = rebuild(request, from, r.offset());
                    } else if (message instanceof SeedRequest request) {
                        done = seed(request, from, r.offset());
                    }
                    if (!done) {
                        // Polled again from the failed request: nothing after it may commit first.
                        requests.seek(from, r.offset());
                        Thread.sleep(RETRY.toMillis());
                        break;
                    }
                }
            }
        } catch (WakeupException e) {
            if (!closed) {
                throw e;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
            throw new AveragerException("Rebuilder stopped: " + e.getMessage(), e);
        } finally {
            requests.close();
            history.close();
            producer.close(Duration.ofSeconds(5));
        }
    }

    private static SpecificRecordBase decode(ConsumerRecord<byte[], byte[]> r) {
        try {
            return r.value() == null ? null : WireCodec.decode(r.value());
        } catch (WireException e) {
            return null;
        }
    }

    /** One rebuild, in one transaction with the request's offset; false if it failed and is to be tried again. */
    private boolean rebuild(RebuildRequest request, TopicPartition from, long offset) {
        TopicPartition partition = new TopicPartition(snapshotsTopic, request.getPartition());
        boolean begun = false;
        try {
            history.assign(List.of(partition));
            long retained = history.beginningOffsets(List.of(partition)).get(partition);
            producer.beginTransaction();
            begun = true;
            Sent sent = null;
            if (retained > request.getStartOffset()) {
                mark(request, RebuildPhase.ABORT, "the snapshots after step " + request.getFromStep()
                        + " are no longer retained (partition " + partition + " starts at offset " + retained
                        + "; the rebuild needs offsets from " + request.getStartOffset() + ")");
            } else {
                mark(request, RebuildPhase.BEGIN, "");
                sent = publishAgain(request, partition);
                mark(request, RebuildPhase.END, "");
            }
            producer.sendOffsetsToTransaction(Map.of(from, new OffsetAndMetadata(offset + 1)), requests.groupMetadata());
            producer.commitTransaction();
            log.info("Rebuild of run {} to step {} (request {}): {}", request.getRun(), request.getToStep(),
                    request.getRequestId(), sent == null ? "history no longer retained, refused"
                            : sent.records() + " records (" + sent.bytes() + " bytes) after step " + request.getFromStep()
                            + " published again");
            return true;
        } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
            throw e;
        } catch (KafkaException e) {
            log.warn("Rebuild of run {} to step {} (request {}) failed, trying again: {}", request.getRun(),
                    request.getToStep(), request.getRequestId(), e.toString());
            if (begun) {
                producer.abortTransaction();
            }
            return false;
        }
    }

    /** One fork's seed, in one transaction with the request's offset; false if it failed and is to be tried again. */
    private boolean seed(SeedRequest request, TopicPartition from, long offset) {
        String at = "Fork of run " + request.getRun() + " from run " + request.getParent() + " at step " + request.getStep()
                + " (request " + request.getRequestId() + ")";
        Seeds seeds = null;
        String refusal = null;
        boolean begun = false;
        try {
            try {
                seeds = Seeds.fetch(request, parents);
            } catch (AveragerException | IOException | IllegalArgumentException e) {
                refusal = e.getMessage();
            }
            producer.beginTransaction();
            begun = true;
            long chunks = 0;
            if (seeds == null) {
                seedMark(request, RebuildPhase.ABORT, 0, List.of(), refusal);
            } else {
                seedMark(request, RebuildPhase.BEGIN, seeds.snapshotsAveraged(), seeds.manifests().get(0).getTensors(), "");
                chunks = publishSeed(request, seeds);
                seedMark(request, RebuildPhase.END, seeds.snapshotsAveraged(), List.of(), "");
            }
            producer.sendOffsetsToTransaction(Map.of(from, new OffsetAndMetadata(offset + 1)), requests.groupMetadata());
            producer.commitTransaction();
            log.info("{}: {}", at, seeds == null ? "refused: " + refusal : chunks + " EMA chunks of " + parents.profiles().size()
                    + " profiles published");
            return true;
        } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
            throw e;
        } catch (KafkaException | IOException e) {
            log.warn("{} failed, trying again: {}", at, e.toString());
            if (begun) {
                producer.abortTransaction();
            }
            return false;
        } finally {
            if (seeds != null) {
                try {
                    seeds.close();
                } catch (IOException e) {
                    log.warn("Could not delete the files of {}: {}", at, e.toString());
                }
            }
        }
    }

    private long publishSeed(SeedRequest request, Seeds seeds) throws IOException {
        long chunks = 0;
        for (int i = 0; i < seeds.manifests().size(); i++) {
            String profile = seeds.manifests().get(i).getProfile();
            for (TensorSpec t : seeds.tensors(i)) {
                for (long o = 0; o < t.numel(); o += request.getGrid()) {
                    int count = (int) Math.min(request.getGrid(), t.numel() - o);
                    SeedChunk c = new SeedChunk(request.getRun(), request.getRequestId(), profile, t.name(), o,
                            seeds.reader(i).read(t.name(), o, count));
                    send(request.getPartition(), request.getRun(), c);
                    chunks++;
                }
            }
        }
        return chunks;
    }

    private void seedMark(SeedRequest r, RebuildPhase phase, long snapshots, List<TensorInfo> tensors, String message) {
        send(r.getPartition(), r.getRun(), new SeedMark(r.getRun(), r.getRequestId(), phase, r.getParent(), r.getStep(),
                snapshots, tensors, r.getGrid(), message));
    }

    /** What a rebuild published again. */
    private record Sent(long records, long bytes) {
    }

    private Sent publishAgain(RebuildRequest request, TopicPartition partition) {
        byte[] run = request.getRun().getBytes(StandardCharsets.UTF_8);
        byte[] requestId = request.getRequestId().getBytes(StandardCharsets.UTF_8);
        history.seek(partition, request.getStartOffset());
        String window = null; // the earlier rebuild whose records are being read, if any
        long records = 0;
        long bytes = 0;
        while (history.position(partition) < request.getEndOffset()) {
            for (ConsumerRecord<byte[], byte[]> r : history.poll(POLL)) {
                if (r.offset() >= request.getEndOffset() || !Arrays.equals(r.key(), run)) {
                    continue;
                }
                // Only a snapshot record's step is read: its chunk data is passed on as it is.
                long step = WireCodec.snapshotStep(r.value());
                if (step < 0) {
                    if (decode(r) instanceof RebuildMark m) {
                        window = m.getPhase() == RebuildPhase.BEGIN ? m.getRequestId() : null;
                    }
                    continue;
                }
                String by = Rebuilds.idOf(r.headers());
                boolean counted = window == null ? by == null : window.equals(by);
                if (!counted || step <= request.getFromStep() || step > request.getToStep()) {
                    continue;
                }
                RecordHeaders headers = new RecordHeaders();
                headers.add(Rebuilds.HEADER, requestId);
                Header mac = r.headers().lastHeader(Signatures.HEADER);
                if (mac != null) {
                    headers.add(mac);
                }
                producer.send(new ProducerRecord<>(snapshotsTopic, partition.partition(), r.timestamp(), r.key(), r.value(),
                        headers));
                records++;
                bytes += r.serializedValueSize();
            }
        }
        return new Sent(records, bytes);
    }

    private void mark(RebuildRequest r, RebuildPhase phase, String message) {
        send(r.getPartition(), r.getRun(), new RebuildMark(r.getRun(), r.getRequestId(), phase, r.getFromStep(),
                r.getToStep(), message));
    }

    /** Sends one record of the rebuilder's own, keyed by the run, on the run's partition of snapshots. */
    private void send(int partition, String run, SpecificRecordBase record) {
        byte[] key = run.getBytes(StandardCharsets.UTF_8);
        byte[] value = WireCodec.encode(record);
        RecordHeaders headers = new RecordHeaders();
        byte[] secret = signatures.keyOf(run);
        if (secret != null) {
            headers.add(Signatures.HEADER, Signatures.mac(secret, key, value));
        }
        producer.send(new ProducerRecord<>(snapshotsTopic, partition, key, value, headers));
    }

    @Override
    public void close() {
        closed = true;
        requests.wakeup();
    }
}
