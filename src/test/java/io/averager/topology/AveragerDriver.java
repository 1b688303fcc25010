package io.averager.topology;

import io.averager.ema.Profile;
import io.averager.kernel.Kernels;
import io.averager.lifecycle.NonFinitePolicy;
import io.averager.metrics.RunMeters;
import io.averager.store.EmaEntry;
import io.averager.store.EmaKey;
import io.averager.store.DistanceHistory;
import io.averager.store.Stores;
import io.averager.wire.Rebuilds;
import io.averager.wire.Signatures;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.RewindAnswer;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.test.TestRecord;

/**
 * The service's topology in a {@link TopologyTestDriver}, with the real serdes and stores: sends
 * encoded snapshot records, reads decoded checkpoint records and dead letters, and reads EMA
 * entries from the store. Not thread-safe; one per test.
 */
final class AveragerDriver implements AutoCloseable {

    static final String SNAPSHOTS = "snapshots";
    static final String CHECKPOINTS = "checkpoints";
    static final String DEAD_LETTERS = "dead-letters";
    static final String RUN_EVENTS = "run-events";
    static final String ERROR_HEADER = "averager.error";
    /** Restore points kept a run, as the service keeps by default. */
    static final int RESTORE_POINTS = 2;

    /** A record of the dead-letter topic: the bytes as they arrived and the reason. */
    record DeadLetterRecord(byte[] key, byte[] value, String reason) {
    }

    private final TopologyTestDriver driver;
    private final TestInputTopic<byte[], byte[]> snapshots;
    private final TestOutputTopic<String, byte[]> checkpoints;
    private final TestOutputTopic<byte[], byte[]> deadLetters;
    private final KeyValueStore<Bytes, byte[]> ema;
    private final KeyValueStore<String, byte[]> distances;
    private final TestOutputTopic<String, byte[]> runEvents;
    private final List<String> profileNames;
    private final MeterRegistry meters = new SimpleMeterRegistry();

    AveragerDriver(Path stateDir, long checkpointEverySteps, long checkpointEveryMs, Profile... profiles) {
        this(stateDir, NonFinitePolicy.REJECT, checkpointEverySteps, checkpointEveryMs, profiles);
    }

    AveragerDriver(Path stateDir, NonFinitePolicy nonFinite, long checkpointEverySteps, long checkpointEveryMs,
                   Profile... profiles) {
        this(stateDir, nonFinite, Signatures.none(), checkpointEverySteps, checkpointEveryMs, profiles);
    }

    AveragerDriver(Path stateDir, NonFinitePolicy nonFinite, Signatures signatures, long checkpointEverySteps,
                   long checkpointEveryMs, Profile... profiles) {
        TopologySettings settings = new TopologySettings(SNAPSHOTS, CHECKPOINTS, DEAD_LETTERS, RUN_EVENTS, List.of(profiles),
                Kernels.byName(Kernels.JAVA), checkpointEverySteps, checkpointEveryMs, RESTORE_POINTS, 16L << 20, 1L << 36,
                64 * 1024 * 1024 + 64 * 1024, nonFinite, true, SnapshotHistory.NONE, signatures, Selection.ALL, TopologyObserver.NONE,
                new RunMeters(meters));
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "averager-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
        driver = new TopologyTestDriver(AveragerTopology.build(settings), props);
        snapshots = driver.createInputTopic(SNAPSHOTS, new ByteArraySerializer(), new ByteArraySerializer());
        checkpoints = driver.createOutputTopic(CHECKPOINTS, new StringDeserializer(), new ByteArrayDeserializer());
        deadLetters = driver.createOutputTopic(DEAD_LETTERS, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        runEvents = driver.createOutputTopic(RUN_EVENTS, new StringDeserializer(), new ByteArrayDeserializer());
        ema = driver.getKeyValueStore(Stores.EMA);
        distances = driver.getKeyValueStore(Stores.DISTANCES);
        profileNames = Arrays.stream(profiles).map(Profile::name).toList();
    }

    /** A state store of the topology, as it is. */
    <K> KeyValueStore<K, byte[]> store(String name) {
        return driver.getKeyValueStore(name);
    }

    /** The meters the topology recorded. */
    MeterRegistry meters() {
        return meters;
    }

    /** The run's distance history as stored. */
    DistanceHistory distances(String run) {
        return DistanceHistory.decode(distances.get(DistanceHistory.key(run)), profileNames);
    }

    static Profile profile(String name, double decay) {
        return Profile.builder(name).decay(decay).build();
    }

    /** Sends the snapshot's header, chunks and commit, in that order, at its timestamp. */
    void publish(TestSnapshot snapshot) {
        snapshot.records().forEach(r -> send(r, snapshot.timestamp()));
    }

    /** Sends a snapshot record keyed by its run, at the default timestamp. */
    void send(SpecificRecordBase record) {
        send(record, TestSnapshot.DEFAULT_TIMESTAMP);
    }

    void send(SpecificRecordBase record, long timestamp) {
        sendRaw(utf8(runOf(record)), WireCodec.encode(record), timestamp);
    }

    /** Sends a record with the MAC of {@code secret}, as a publisher of a signed run does. */
    void sendSigned(SpecificRecordBase record, byte[] secret) {
        byte[] key = utf8(runOf(record));
        byte[] value = WireCodec.encode(record);
        RecordHeaders headers = new RecordHeaders();
        headers.add(Signatures.HEADER, Signatures.mac(secret, key, value));
        snapshots.pipeInput(new TestRecord<>(key, value, headers, TestSnapshot.DEFAULT_TIMESTAMP));
    }

    /** Sends raw bytes with {@code mac} as their MAC header, right or not. */
    void sendRawSigned(byte[] key, byte[] value, byte[] mac) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(Signatures.HEADER, mac);
        snapshots.pipeInput(new TestRecord<>(key, value, headers, TestSnapshot.DEFAULT_TIMESTAMP));
    }

    /** Sends the snapshot's records as a rebuild of request {@code requestId} publishes them again: with its header. */
    void publishAgain(TestSnapshot snapshot, String requestId) {
        for (SpecificRecordBase r : snapshot.records()) {
            RecordHeaders headers = new RecordHeaders();
            headers.add(Rebuilds.HEADER, utf8(requestId));
            snapshots.pipeInput(new TestRecord<>(utf8(runOf(r)), WireCodec.encode(r), headers, snapshot.timestamp()));
        }
    }

    void sendRaw(byte[] key, byte[] value) {
        sendRaw(key, value, TestSnapshot.DEFAULT_TIMESTAMP);
    }

    void sendRaw(byte[] key, byte[] value, long timestamp) {
        snapshots.pipeInput(new TestRecord<>(key, value, new RecordHeaders(), timestamp));
    }

    /** Every checkpoint record emitted since the last call, decoded, in order. */
    List<SpecificRecordBase> checkpoints() {
        return checkpoints.readRecordsToList().stream()
                .map(r -> {
                    SpecificRecordBase decoded = WireCodec.decode(r.value());
                    if (!r.key().equals(runOf(decoded))) {
                        throw new AssertionError("checkpoint record of run " + runOf(decoded) + " keyed " + r.key());
                    }
                    return decoded;
                })
                .toList();
    }

    /** The commits among the checkpoint records emitted since the last read. */
    List<CheckpointCommit> checkpointCommits() {
        return checkpoints().stream()
                .filter(CheckpointCommit.class::isInstance)
                .map(CheckpointCommit.class::cast)
                .toList();
    }

    /** The answers to rewind requests since the last read of run-events, in order, checked to be keyed by their run. */
    List<RewindAnswer> rewindAnswers() {
        return runEvents().stream().filter(RewindAnswer.class::isInstance).map(RewindAnswer.class::cast).toList();
    }

    /** The records on run-events since the last read, answers and rebuild requests, decoded, in order. */
    List<SpecificRecordBase> runEvents() {
        return runEvents.readRecordsToList().stream().map(r -> {
            SpecificRecordBase decoded = WireCodec.decode(r.value());
            if (!r.key().equals(runOf(decoded))) {
                throw new AssertionError("run event of run " + runOf(decoded) + " keyed " + r.key());
            }
            return decoded;
        }).toList();
    }

    /** Every dead letter since the last call, in order. */
    List<DeadLetterRecord> deadLetters() {
        return deadLetters.readRecordsToList().stream()
                .map(r -> {
                    Header error = r.headers().lastHeader(ERROR_HEADER);
                    String reason = error == null ? null : new String(error.value(), StandardCharsets.UTF_8);
                    return new DeadLetterRecord(r.key(), r.value(), reason);
                })
                .toList();
    }

    /** The stored EMA entry, or null. */
    EmaEntry entry(String run, String profile, String tensor, long offset) {
        return EmaEntry.wrap(ema.get(EmaKey.of(run, profile, tensor, offset)));
    }

    /** A copy of the stored entry's bytes, or null: to show that nothing touched it. */
    byte[] entryBytes(String run, String profile, String tensor, long offset) {
        byte[] stored = ema.get(EmaKey.of(run, profile, tensor, offset));
        return stored == null ? null : stored.clone();
    }

    float[] emaF32(String run, String profile, String tensor, long offset) {
        return TensorData.readF32(entry(run, profile, tensor, offset).data());
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String runOf(SpecificRecordBase record) {
        if (record instanceof SnapshotHeader h) {
            return h.getRun();
        }
        if (record instanceof SnapshotChunk c) {
            return c.getRun();
        }
        if (record instanceof SnapshotCommit c) {
            return c.getRun();
        }
        return record.get("run").toString();
    }

    @Override
    public void close() {
        driver.close();
    }
}
