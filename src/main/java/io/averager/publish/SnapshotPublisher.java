package io.averager.publish;

import io.averager.AveragerException;
import io.averager.ema.TensorSpec;
import io.averager.wire.ChunkDigest;
import io.averager.wire.RecordLimits;
import io.averager.wire.Signatures;
import io.averager.wire.Tensors;
import io.averager.wire.WireCodec;
import io.averager.wire.WireException;
import io.averager.wire.avro.ForkAnswer;
import io.averager.wire.avro.ForkRequest;
import io.averager.wire.avro.RewindAnswer;
import io.averager.wire.avro.RewindRequest;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import io.averager.wire.avro.SnapshotMode;
import io.averager.wire.avro.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Publishes snapshots: for each, a header, the chunks of every tensor on the grid, and a commit,
 * all in one Kafka transaction keyed by the run id, so a read_committed consumer sees all of a
 * snapshot or none. Memory stays at a few chunks: the producer's buffer bounds what is in flight
 * and {@code send} blocks when it is full. Not thread-safe: one publisher per training process.
 */
public final class SnapshotPublisher implements AutoCloseable {

    /** Default chunk grid: 1M elements, 4 MiB of float32. */
    public static final long DEFAULT_GRID = 1L << 20;
    /** The service's default topic for its answers to rewind requests. */
    public static final String DEFAULT_RUN_EVENTS = "run-events";
    /** How long {@link #rewind(String, long)} waits for the service's answer. */
    public static final Duration DEFAULT_ANSWER_TIMEOUT = Duration.ofSeconds(60);

    private final KafkaProducer<byte[], byte[]> producer;
    private final String topic;
    private final long grid;
    private final String transactionalId;
    private final Map<String, Object> consumerSettings;
    private final byte[] signingKey;
    private boolean failed;

    /**
     * @param producerProperties Kafka producer settings: at least bootstrap.servers; a
     *     transactional.id is generated when absent (set one per training process to fence a
     *     zombie after a restart)
     * @throws AveragerException if the producer cannot register its transactional.id (the
     *     broker unreachable within max.block.ms, say); nothing is left running
     */
    public SnapshotPublisher(Map<String, Object> producerProperties, String topic, long grid) {
        this(producerProperties, topic, grid, null);
    }

    /**
     * A publisher whose every record carries the MAC of {@code signingKey}, as the service
     * requires of the runs of a signed prefix (averager.snapshot.signing.keys; docs/security.md).
     *
     * @param signingKey the prefix's secret key, at least 32 bytes; null to sign nothing
     */
    public SnapshotPublisher(Map<String, Object> producerProperties, String topic, long grid, byte[] signingKey) {
        if (signingKey != null && signingKey.length < Signatures.MIN_KEY_BYTES) {
            throw new IllegalArgumentException("the signing key has " + signingKey.length + " bytes; give at least "
                    + Signatures.MIN_KEY_BYTES);
        }
        this.signingKey = signingKey == null ? null : signingKey.clone();
        if (grid < 1) {
            throw new IllegalArgumentException("grid must be positive, got " + grid);
        }
        Map<String, Object> p = new HashMap<>(producerProperties);
        p.putIfAbsent(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "averager-publisher-" + UUID.randomUUID());
        p.putIfAbsent(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, RecordLimits.MAX_MESSAGE_BYTES);
        p.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.putIfAbsent(ProducerConfig.SEND_BUFFER_CONFIG, RecordLimits.SEND_BUFFER_BYTES);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        this.producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        this.topic = topic;
        this.grid = grid;
        this.transactionalId = String.valueOf(p.get(ProducerConfig.TRANSACTIONAL_ID_CONFIG));
        this.consumerSettings = answerConsumerSettings(p);
        try {
            producer.initTransactions();
        } catch (KafkaException e) {
            // Left open, the producer would keep retrying in the background and, once the broker
            // answers, fence the publisher that replaced this one.
            producer.close(Duration.ZERO);
            throw new AveragerException("Cannot start publishing to " + topic + " as "
                    + p.get(ProducerConfig.TRANSACTIONAL_ID_CONFIG) + ": " + e.getMessage(), e);
        }
    }

    /**
     * Sends one snapshot and waits until its transaction is committed; the same as
     * {@link #publish(String, long, SnapshotOptions, List)} with no checkpoint requested.
     *
     * @param endOfRun the run's last snapshot: the service checkpoints it whatever the cadence
     */
    public void publish(String run, long step, SnapshotMode mode, boolean endOfRun, Map<String, String> metadata,
                        List<TensorSource> tensors) throws IOException {
        publish(run, step, new SnapshotOptions(mode, endOfRun, false, metadata), tensors);
    }

    /**
     * Sends one snapshot and waits until its transaction is committed.
     *
     * @param options UPDATE or SET, end of run, a checkpoint on request, metadata
     * @throws AveragerException if Kafka failed or timed out (the broker unreachable, say). The
     *     snapshot may still have been committed: publishing it again is harmless, the service
     *     dead-letters a step it has already applied. A publisher whose commit timed out cannot
     *     start another transaction: close it and publish again with a new one of the same
     *     transactional.id, which settles whatever the old one left open.
     */
    public void publish(String run, long step, SnapshotOptions options, List<TensorSource> tensors) throws IOException {
        List<TensorInfo> infos = new ArrayList<>();
        long chunks = 0;
        for (TensorSource t : tensors) {
            infos.add(Tensors.info(t.spec()));
            chunks += (t.spec().numel() + grid - 1) / grid;
        }
        try {
            producer.beginTransaction();
            send(run, new SnapshotHeader(run, step, options.mode(), infos, grid, Math.toIntExact(chunks), options.endOfRun(),
                    options.checkpoint(), options.metadata(), options.copy()));
            long digest = 0;
            for (TensorSource t : tensors) {
                TensorSpec spec = t.spec();
                for (long offset = 0; offset < spec.numel(); offset += grid) {
                    int count = (int) Math.min(grid, spec.numel() - offset);
                    ByteBuffer data = t.read(offset, count);
                    digest += ChunkDigest.of(spec.name(), offset, data);
                    send(run, new SnapshotChunk(run, step, spec.name(), offset, data));
                }
            }
            send(run, new SnapshotCommit(run, step, Math.toIntExact(chunks), digest));
            producer.commitTransaction();
        } catch (KafkaException e) {
            abort(e);
            throw new AveragerException("Publishing snapshot of run " + run + " step " + step + " failed: "
                    + why(e), e);
        } catch (IOException | RuntimeException e) {
            abort(e);
            throw e;
        }
    }

    /**
     * Rewinds the run to {@code toStep} and waits for the service's answer on
     * {@value #DEFAULT_RUN_EVENTS} for up to {@link #DEFAULT_ANSWER_TIMEOUT}; see
     * {@link #rewind(String, long, String, Duration)}.
     */
    public RewindAnswer rewind(String run, long toStep) {
        return rewind(run, toStep, DEFAULT_RUN_EVENTS, DEFAULT_ANSWER_TIMEOUT);
    }

    /**
     * Rewinds the run to {@code toStep}, in a transaction of its own, as a trainer resuming from
     * its own checkpoint at that step does before it publishes the steps after it again, and
     * waits until the service has taken it. The service takes it in order with the run's
     * snapshots: the snapshots after it continue the EMA as it was right after {@code toStep}.
     * Cheap for the run's last step, or one it checkpointed recently enough to hold a restore
     * point of ({@code averager.rewind.restore.points}); any other retained step after such a
     * restore point is rebuilt by the service from it and the snapshots after it (the wait must
     * cover that); otherwise the service changes nothing.
     * Publish with the transactional.id of the trainer that died, so that Kafka fences it first.
     *
     * @param runEventsTopic where the service answers: its {@code averager.topic.run.events}
     * @return the service's answer, that the run was rewound
     * @throws AveragerException if the service refused (the message names the nearest step the run
     *     can be rewound to), did not answer within {@code timeout} (the request stays, and is
     *     taken once the service runs), or Kafka failed
     */
    public RewindAnswer rewind(String run, long toStep, String runEventsTopic, Duration timeout) {
        if (toStep < 0) {
            throw new IllegalArgumentException("step must not be negative, got " + toStep);
        }
        String id = UUID.randomUUID().toString();
        RewindAnswer answer = ask(run, "Rewinding run " + run + " to step " + toStep, id,
                new RewindRequest(run, toStep, id), runEventsTopic, timeout,
                m -> m instanceof RewindAnswer a && a.getRequestId().equals(id) ? a : null);
        if (!answer.getRewound()) {
            throw new AveragerException(answer.getMessage());
        }
        return answer;
    }

    /**
     * Starts run {@code run} from {@code parent}'s EMA at {@code step} and waits for the
     * service's answer on {@value #DEFAULT_RUN_EVENTS} for up to {@link #DEFAULT_ANSWER_TIMEOUT};
     * see {@link #fork(String, String, long, String, Duration)}.
     */
    public ForkAnswer fork(String run, String parent, long step) {
        return fork(run, parent, step, DEFAULT_RUN_EVENTS, DEFAULT_ANSWER_TIMEOUT);
    }

    /**
     * Starts run {@code run}, which has no snapshot yet, from {@code parent}'s EMA at
     * {@code step}, in a transaction of its own, and waits until the service has taken it: every
     * profile's EMA of the new run is the parent's live checkpoint there, and the new run's
     * snapshots, published with this publisher's grid at steps after {@code step}, continue it.
     * The service reads the parent's checkpoint files itself; the EMA does not pass through here.
     *
     * @param runEventsTopic where the service answers: its {@code averager.topic.run.events}
     * @return the service's answer, that the run was forked
     * @throws AveragerException if the service refused (the parent has no live checkpoint at the
     *     step in every profile, the new run exists), did not answer within {@code timeout}, or
     *     Kafka failed
     */
    public ForkAnswer fork(String run, String parent, long step, String runEventsTopic, Duration timeout) {
        if (step < 0 || parent.equals(run)) {
            throw new IllegalArgumentException("fork of run " + run + " from run " + parent + " at step " + step
                    + ": expected another run and a step >= 0");
        }
        String id = UUID.randomUUID().toString();
        ForkAnswer answer = ask(run, "Forking run " + run + " from run " + parent + " at step " + step, id,
                new ForkRequest(run, parent, step, grid, id), runEventsTopic, timeout,
                m -> m instanceof ForkAnswer a && a.getRequestId().equals(id) ? a : null);
        if (!answer.getForked()) {
            throw new AveragerException(answer.getMessage());
        }
        return answer;
    }

    /**
     * Sends {@code request} on the run's partition in a transaction of its own and waits for the
     * record of run-events that {@code answerOf} recognizes as its answer.
     */
    private <T> T ask(String run, String at, String id, SpecificRecordBase request, String runEventsTopic,
                      Duration timeout, java.util.function.Function<SpecificRecordBase, T> answerOf) {
        try (KafkaConsumer<String, byte[]> answers = new KafkaConsumer<>(consumerSettings, new StringDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = answers.partitionsFor(runEventsTopic, timeout).stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            if (partitions.isEmpty()) {
                throw new AveragerException(at + ": no topic " + runEventsTopic + " to read the service's answer from;"
                        + " the service creates it at start (averager.topic.run.events)");
            }
            answers.assign(partitions);
            answers.seekToEnd(partitions);
            partitions.forEach(answers::position); // where the answer will be, fixed before the request is sent
            try {
                producer.beginTransaction();
                send(run, request);
                producer.commitTransaction();
            } catch (KafkaException e) {
                abort(e);
                throw new AveragerException(at + " failed: " + why(e), e);
            }
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : answers.poll(Duration.ofMillis(200))) {
                    T answer = answerOf.apply(decodedOrNull(r.value()));
                    if (answer != null) {
                        return answer;
                    }
                }
            }
            throw new AveragerException(at + " (request " + id + "): no answer from the service on " + runEventsTopic
                    + " within " + timeout.toSeconds() + " s. Is it running? The request stays on " + topic
                    + " and is taken in order with the run's snapshots once it is.");
        } catch (KafkaException e) {
            throw new AveragerException(at + " failed: " + e.getMessage(), e);
        }
    }

    private static SpecificRecordBase decodedOrNull(byte[] value) {
        try {
            return WireCodec.decode(value);
        } catch (WireException e) {
            return null; // not an answer of this version: not ours
        }
    }

    /** The connection and security settings among the producer's, for the consumer of answers. */
    private static Map<String, Object> answerConsumerSettings(Map<String, Object> producer) {
        Map<String, Object> c = new HashMap<>();
        producer.forEach((k, v) -> {
            if (ConsumerConfig.configNames().contains(k) && !k.equals(CommonClientConfigs.CLIENT_ID_CONFIG)
                    && !k.equals(CommonClientConfigs.SEND_BUFFER_CONFIG)) {
                c.put(k, v);
            }
        });
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.remove(ConsumerConfig.GROUP_ID_CONFIG);
        return c;
    }

    private String why(KafkaException e) {
        if (e instanceof ProducerFencedException || e instanceof InvalidProducerEpochException) {
            return "another publisher started with transactional.id " + transactionalId + " (a resumed trainer,"
                    + " say), so Kafka fenced this one and aborted what it had open; close it (" + e.getMessage() + ")";
        }
        return e.getMessage();
    }

    private void send(String run, SpecificRecordBase record) {
        byte[] key = run.getBytes(StandardCharsets.UTF_8);
        byte[] value = WireCodec.encode(record);
        RecordHeaders headers = new RecordHeaders();
        if (signingKey != null) {
            headers.add(Signatures.HEADER, Signatures.mac(signingKey, key, value));
        }
        producer.send(new ProducerRecord<>(topic, null, key, value, headers));
    }

    /** Aborts the open transaction if Kafka allows it; either way {@code cause} is what the caller sees. */
    private void abort(Exception cause) {
        failed = true;
        try {
            producer.abortTransaction();
        } catch (KafkaException | IllegalStateException e) {
            // IllegalStateException: a commit that timed out may still complete, so Kafka refuses the abort.
            cause.addSuppressed(e);
        }
    }

    /**
     * Closes the producer. After a failed publish it does not wait: with the broker gone, Kafka's
     * producer would retry the abort of the open transaction until the broker is back, and the
     * broker aborts it anyway after transaction.timeout.ms, or when the next publisher of the
     * same transactional.id starts.
     */
    @Override
    public void close() {
        producer.close(failed ? Duration.ZERO : Duration.ofMillis(Long.MAX_VALUE));
    }
}
