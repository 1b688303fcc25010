package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.AveragerConfig;
import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.format.SafetensorsReader;
import io.averager.publish.SnapshotPublisher;
import io.averager.publish.TensorSource;
import io.averager.sink.ObjectKeys;
import io.averager.wire.Tensors;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotHeader;
import io.averager.wire.avro.SnapshotMode;
import io.micrometer.core.instrument.Counter;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot torn by its producer's death: its header and some of its chunks are sent with kcat,
 * an independent non-transactional client, and its commit never is; the next snapshot comes
 * complete from the publisher. The service reports the torn one with the chunks that never came,
 * counts it, checkpoints nothing of it, and the next checkpoint is the EMA in which the entries
 * that received the torn chunks have one more update than the others.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TornSnapshotTest {

    private static final double DECAY = 0.9;
    private static final long GRID = 1024;
    private static final long FIRST = 10;
    private static final long TORN = 20;
    private static final long NEXT = 30;
    /** The torn snapshot's chunks that arrive, as tensor@offset; of 15. */
    private static final List<String> ARRIVED = List.of("fc.weight@0", "fc.weight@2048", "emb.weight@1024",
            "bn.num_batches_tracked@0", "big@0", "big@3072");

    @TempDir
    Path dir;

    @Test
    void aSnapshotWithoutCommitIsReportedWithItsMissingChunksAndTheNextCheckpointIncludesOnlyWhatArrived()
            throws Exception {
        String run = SharedKafka.unique("torn");
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            service.settings.put("averager.profile.ema.decay", Double.toString(DECAY));
            service.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "20");
            service.start();
            Map<String, Object> producer = Map.of("bootstrap.servers", SharedKafka.bootstrapServers());
            try (SnapshotPublisher publisher = new SnapshotPublisher(producer, service.snapshotsTopic(), GRID)) {
                publisher.publish(run, FIRST, SnapshotMode.UPDATE, false, Map.of(), sources(FIRST));
                sendWithKcat(service, run, tornRecords(run));
                publisher.publish(run, NEXT, SnapshotMode.UPDATE, true, Map.of(), sources(NEXT));
            }

            CheckpointManifest next = service.awaitCheckpoints(run, NEXT, List.of("ema"), Duration.ofSeconds(60)).get("ema");
            assertHoldsTheEmaWithTheArrivedChunks(Path.of(URI.create(next.getUri())));

            String reason = reasonOfTheDeadLetter(service, run);
            assertThat(reason).contains("Snapshot of run " + run + " step 20 is incomplete (6 of 15 chunks)",
                    "its commit never arrived; header of step 30 came first",
                    "; missing fc.weight@1024, fc.bias@0, emb.weight@0, emb.weight@2048, head.scale@0 and 4 more.");
            assertNoCheckpointOfTheTornStep(service, run);
            Counter incomplete = service.service().meters().find("averager.snapshots.incomplete").tag("reason", "no_commit").counter();
            assertThat(incomplete).isNotNull();
            assertThat(incomplete.count()).isEqualTo(1.0);
        }
    }

    /** Header and the {@link #ARRIVED} chunks of the torn snapshot, encoded as the publisher would. */
    private static List<SpecificRecordBase> tornRecords(String run) throws IOException {
        List<SpecificRecordBase> records = new ArrayList<>();
        records.add(new SnapshotHeader(run, TORN, SnapshotMode.UPDATE,
                TestModel.TENSORS.stream().map(Tensors::info).toList(), GRID, 15, false, false, Map.of(), List.of()));
        for (TensorSource t : sources(TORN)) {
            TensorSpec spec = t.spec();
            for (long offset = 0; offset < spec.numel(); offset += GRID) {
                if (ARRIVED.contains(spec.name() + "@" + offset)) {
                    ByteBuffer data = t.read(offset, (int) Math.min(GRID, spec.numel() - offset));
                    records.add(new SnapshotChunk(run, TORN, spec.name(), offset, data));
                }
            }
        }
        assertThat(records).hasSize(1 + ARRIVED.size());
        return records;
    }

    /**
     * Sends each record as one message with kcat, keyed by the run, to the partition Kafka's
     * Java partitioner picks for that key (kcat's own partitioner hashes differently).
     */
    private void sendWithKcat(ServiceUnderTest service, String run, List<SpecificRecordBase> records) throws Exception {
        List<String> command = new ArrayList<>(List.of("kcat", "-P", "-b", SharedKafka.bootstrapServers(),
                "-t", service.snapshotsTopic(), "-k", run, "-p", Integer.toString(partitionOf(service, run))));
        Path files = Files.createDirectories(dir.resolve("kcat"));
        for (int i = 0; i < records.size(); i++) {
            Path file = files.resolve(String.format("record-%02d.avro", i));
            Files.write(file, WireCodec.encode(records.get(i)));
            command.add(file.toString());
        }
        Process kcat;
        try {
            kcat = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError("Cannot run kcat (Debian package kcat): " + e.getMessage(), e);
        }
        boolean exited = kcat.waitFor(60, TimeUnit.SECONDS);
        String output = new String(kcat.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!exited) {
            kcat.destroyForcibly();
        }
        assertThat(exited).as("kcat exited within 60 s: %s", output).isTrue();
        assertThat(kcat.exitValue()).as("kcat's exit status; output: %s", output).isZero();
    }

    private static int partitionOf(ServiceUnderTest service, String run) {
        int partitions = Integer.parseInt(service.settings.get(AveragerConfig.TOPIC_PARTITIONS_CONFIG));
        return Utils.toPositive(Utils.murmur2(run.getBytes(StandardCharsets.UTF_8))) % partitions;
    }

    private static String reasonOfTheDeadLetter(ServiceUnderTest service, String run) throws InterruptedException {
        try (CommittedRecords deadLetters = new CommittedRecords(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()),
                service.settings.get(AveragerConfig.TOPIC_DEAD_LETTERS_CONFIG))) {
            List<ConsumerRecord<byte[], byte[]>> all = deadLetters.awaitUntil(r -> !r.isEmpty(), Duration.ofSeconds(30),
                    () -> "no dead letter");
            assertThat(all).as("dead letters").hasSize(1);
            assertThat(all.get(0).key()).isEqualTo(run.getBytes(StandardCharsets.UTF_8));
            Header error = all.get(0).headers().lastHeader("averager.error");
            return new String(error.value(), StandardCharsets.UTF_8);
        }
    }

    /** The torn step's checkpoint was begun (it was due) and aborted: no manifest, no file. */
    private void assertNoCheckpointOfTheTornStep(ServiceUnderTest service, String run) throws Exception {
        Map<String, Object> client = Map.of("bootstrap.servers", SharedKafka.bootstrapServers());
        try (CommittedRecords checkpoints = new CommittedRecords(client, service.settings.get(AveragerConfig.TOPIC_CHECKPOINTS_CONFIG));
             CommittedRecords manifests = new CommittedRecords(client, service.settings.get(AveragerConfig.TOPIC_MANIFESTS_CONFIG))) {
            List<CheckpointCommit> commits = checkpoints.awaitUntil(r -> commits(r).size() == 2, Duration.ofSeconds(30),
                    () -> "checkpoint commits: " + commits(checkpoints.records())).stream()
                    .map(r -> WireCodec.decode(r.value())).filter(CheckpointCommit.class::isInstance)
                    .map(CheckpointCommit.class::cast).toList();
            assertThat(commits).extracting(CheckpointCommit::getStep).containsExactly(TORN, NEXT);
            assertThat(commits.get(0).getAbortReason()).contains("step 20 is incomplete");
            assertThat(commits.get(1).getAbortReason()).isNull();
            List<ConsumerRecord<byte[], byte[]>> stored = manifests.awaitUntil(r -> !r.isEmpty(), Duration.ofSeconds(30), () -> "");
            assertThat(stored).extracting(r -> WireCodec.decode(r.value(), CheckpointManifest.class).getStep())
                    .containsExactly(NEXT);
        }
        Path store = Path.of(service.settings.get(AveragerConfig.CHECKPOINT_STORE_CONFIG));
        assertThat(store.resolve(ObjectKeys.checkpoint(run, "ema", TORN, 0, "safetensors"))).doesNotExist();
    }

    private static List<CheckpointCommit> commits(List<ConsumerRecord<byte[], byte[]>> records) {
        return records.stream().map(r -> WireCodec.decode(r.value())).filter(CheckpointCommit.class::isInstance)
                .map(CheckpointCommit.class::cast).toList();
    }

    /**
     * Every element of the file equals the EMA computed here: set by the first snapshot, updated
     * by the torn one where its chunk arrived, then by the next one; float32 arithmetic as timm's
     * for F32, F16 and BF16 inputs, double for F64, the latest value for integers.
     */
    private static void assertHoldsTheEmaWithTheArrivedChunks(Path file) throws IOException {
        Map<String, ByteBuffer> first = TestModel.weights(FIRST);
        Map<String, ByteBuffer> torn = TestModel.weights(TORN);
        Map<String, ByteBuffer> next = TestModel.weights(NEXT);
        int withTorn = 0;
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            for (TensorSpec input : TestModel.TENSORS) {
                TensorSpec stored = r.tensors().stream().filter(t -> t.name().equals(input.name())).findFirst().orElseThrow();
                ByteBuffer actual = r.read(input.name(), 0, Math.toIntExact(input.numel()));
                for (int i = 0; i < input.numel(); i++) {
                    boolean arrived = ARRIVED.contains(input.name() + "@" + (i / GRID) * GRID);
                    double want = value(first, input, i);
                    if (arrived) {
                        want = update(input.dtype(), want, value(torn, input, i));
                        withTorn++;
                    }
                    want = update(input.dtype(), want, value(next, input, i));
                    double got = TestModel.value(actual, stored.dtype(), i);
                    assertThat(got).as("%s[%d] (torn chunk %s)", input.name(), i, arrived ? "arrived" : "missing")
                            .isEqualTo(want);
                }
            }
        }
        assertThat(withTorn).as("elements whose torn chunk arrived").isEqualTo(1024 + 64 + 1024 + 1 + 1024 + 1024);
    }

    private static double value(Map<String, ByteBuffer> weights, TensorSpec t, int i) {
        return TestModel.value(weights.get(t.name()).duplicate().order(ByteOrder.LITTLE_ENDIAN), t.dtype(), i);
    }

    private static double update(Dtype input, double ema, double x) {
        if (!input.floating()) {
            return x;
        }
        if (input == Dtype.F64) {
            return DECAY * ema + (1 - DECAY) * x;
        }
        return (float) DECAY * (float) ema + (float) (1 - DECAY) * (float) x;
    }

    private static List<TensorSource> sources(long step) {
        return TestModel.sources(TestModel.weights(step));
    }
}
