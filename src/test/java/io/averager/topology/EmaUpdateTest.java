package io.averager.topology;

import static io.averager.topology.AveragerDriver.profile;
import static io.averager.topology.TensorData.emaF32;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.store.EmaEntry;
import io.averager.wire.avro.CheckpointChunk;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.CheckpointHeader;
import io.averager.wire.avro.Dtype;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.TensorInfo;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.apache.avro.specific.SpecificRecordBase;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmaUpdateTest {

    private static final double DECAY = 0.9;
    private static final float[] W10 = {1, 2, 3, 4, 5, 6};
    private static final float[] B10 = {0.5f, -0.5f};
    private static final float[] W20 = {3, -2, 0.25f, 8, 1e-3f, 6};
    private static final float[] B20 = {1.5f, 100};

    @TempDir
    Path stateDir;

    private AveragerDriver driver;

    @BeforeEach
    void start() {
        driver = new AveragerDriver(stateDir, 20, 0, profile("ema", DECAY));
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    @Test
    void firstSnapshotSetsTheEmaToTheWeights() {
        driver.publish(TestSnapshot.of("run-a", 10).f32("w", W10).f32("b", B10));

        assertThat(driver.emaF32("run-a", "ema", "w", 0)).containsExactly(1, 2, 3, 4);
        assertThat(driver.emaF32("run-a", "ema", "w", 4)).containsExactly(5, 6);
        assertThat(driver.emaF32("run-a", "ema", "b", 0)).containsExactly(0.5f, -0.5f);
        EmaEntry entry = driver.entry("run-a", "ema", "w", 4);
        assertThat(entry.lastStep()).isEqualTo(10);
        assertThat(entry.updates()).isEqualTo(1);
        assertThat(driver.checkpoints()).as("the first snapshot is not a cadence step").isEmpty();
        assertThat(driver.deadLetters()).isEmpty();
    }

    @Test
    void secondSnapshotBlendsWithTheProfileDecay() {
        driver.publish(TestSnapshot.of("run-a", 10).f32("w", W10).f32("b", B10));
        driver.publish(TestSnapshot.of("run-a", 13).f32("w", W20).f32("b", B20));

        assertThat(driver.emaF32("run-a", "ema", "w", 0))
                .containsExactly(emaF32(DECAY, head(W10, 4), head(W20, 4)));
        assertThat(driver.emaF32("run-a", "ema", "w", 4))
                .containsExactly(emaF32(DECAY, tail(W10, 4), tail(W20, 4)));
        assertThat(driver.emaF32("run-a", "ema", "b", 0)).containsExactly(emaF32(DECAY, B10, B20));
        EmaEntry entry = driver.entry("run-a", "ema", "b", 0);
        assertThat(entry.lastStep()).isEqualTo(13);
        assertThat(entry.updates()).isEqualTo(2);
        assertThat(driver.deadLetters()).isEmpty();
    }

    @Test
    void checkpointAtACadenceStepHoldsHeaderEveryChunkAndCommitInOrder() {
        driver.publish(TestSnapshot.of("run-a", 10).f32("w", W10).f32("b", B10));
        driver.publish(TestSnapshot.of("run-a", 20).f32("w", W20).f32("b", B20).metadata("epoch", "3"));

        List<SpecificRecordBase> out = driver.checkpoints();
        assertThat(out).hasSize(5);
        assertThat(out).extracting(r -> r.getClass().getSimpleName()).containsExactly(
                "CheckpointHeader", "CheckpointChunk", "CheckpointChunk", "CheckpointChunk", "CheckpointCommit");

        CheckpointHeader header = (CheckpointHeader) out.get(0);
        assertThat(header.getRun()).isEqualTo("run-a");
        assertThat(header.getProfile()).isEqualTo("ema");
        assertThat(header.getStep()).isEqualTo(20);
        assertThat(header.getGrid()).isEqualTo(4);
        assertThat(header.getChunkCount()).isEqualTo(3);
        assertThat(header.getTensors()).containsExactly(
                new TensorInfo("w", Dtype.F32, List.of(6L)), new TensorInfo("b", Dtype.F32, List.of(2L)));
        assertThat(header.getMetadata())
                .containsEntry("epoch", "3")
                .containsEntry("run", "run-a")
                .containsEntry("profile", "ema")
                .containsEntry("step", "20")
                .containsEntry("snapshots_averaged", "2")
                .containsEntry("ema.decay", "0.9")
                .containsEntry("format", "averager-ema");

        assertChunk(out.get(1), "w", 0, emaF32(DECAY, head(W10, 4), head(W20, 4)));
        assertChunk(out.get(2), "w", 4, emaF32(DECAY, tail(W10, 4), tail(W20, 4)));
        assertChunk(out.get(3), "b", 0, emaF32(DECAY, B10, B20));

        assertThat(out.get(4)).isEqualTo(new CheckpointCommit("run-a", "ema", 20L, 3, null));
        assertThat(driver.deadLetters()).isEmpty();
    }

    @Test
    void tensorLargerThanTheGridIsAveragedChunkByChunkWithATail() {
        float[] first = new float[11];
        float[] second = new float[11];
        for (int i = 0; i < first.length; i++) {
            first[i] = i;
            second[i] = 10 * i - 3;
        }
        driver.publish(TestSnapshot.of("run-a", 10).f32("w", first));
        TestSnapshot snapshot = TestSnapshot.of("run-a", 20).f32("w", second);
        assertThat(snapshot.chunks()).extracting(SnapshotChunk::getOffset).containsExactly(0L, 4L, 8L);
        driver.publish(snapshot);

        List<SpecificRecordBase> out = driver.checkpoints();
        assertThat(((CheckpointHeader) out.get(0)).getChunkCount()).isEqualTo(3);
        assertChunk(out.get(1), "w", 0, emaF32(DECAY, range(first, 0, 4), range(second, 0, 4)));
        assertChunk(out.get(2), "w", 4, emaF32(DECAY, range(first, 4, 8), range(second, 4, 8)));
        assertChunk(out.get(3), "w", 8, emaF32(DECAY, range(first, 8, 11), range(second, 8, 11)));
        assertThat(((CheckpointCommit) out.get(4)).getAbortReason()).isNull();
    }

    @Test
    void chunksOutOfOrderAndInterleavedWithAnotherRunGiveTheSameEma() {
        float[] w = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        float[] v = {-1, -2, -3, -4, -5};
        float[] w2 = {2, 4, 6, 8, 10, 12, 14, 16, 18, 20};
        float[] v2 = {1, 1, 1, 1, 1};
        driver.publish(TestSnapshot.of("in-order", 10).f32("w", w).f32("v", v));
        driver.publish(TestSnapshot.of("in-order", 11).f32("w", w2).f32("v", v2));
        driver.publish(TestSnapshot.of("shuffled", 10).f32("w", w).f32("v", v));

        TestSnapshot shuffled = TestSnapshot.of("shuffled", 11).f32("w", w2).f32("v", v2);
        TestSnapshot other = TestSnapshot.of("other", 5).f32("w", 9, 9, 9);
        driver.send(other.header());
        driver.send(shuffled.header());
        driver.send(shuffled.chunk("w", 8));
        driver.send(shuffled.chunk("v", 4));
        driver.send(other.chunk("w", 0));
        driver.send(shuffled.chunk("w", 0));
        driver.send(shuffled.chunk("v", 0));
        driver.send(other.commit());
        driver.send(shuffled.chunk("w", 4));
        driver.send(shuffled.commit());

        assertThat(driver.deadLetters()).isEmpty();
        for (String tensor : List.of("w", "v")) {
            for (long offset : tensor.equals("w") ? new long[] {0, 4, 8} : new long[] {0, 4}) {
                assertThat(driver.emaF32("shuffled", "ema", tensor, offset))
                        .as("%s at %d", tensor, offset)
                        .containsExactly(driver.emaF32("in-order", "ema", tensor, offset));
            }
        }
        assertThat(driver.emaF32("shuffled", "ema", "w", 8))
                .containsExactly(emaF32(DECAY, range(w, 8, 10), range(w2, 8, 10)));
        assertThat(driver.emaF32("shuffled", "ema", "v", 4))
                .containsExactly(emaF32(DECAY, range(v, 4, 5), range(v2, 4, 5)));
        assertThat(driver.emaF32("other", "ema", "w", 0)).containsExactly(9, 9, 9);
    }

    @Test
    void skipsDuplicateChunkOfAnOpenStep() {
        driver.publish(TestSnapshot.of("run-a", 10).f32("w", W10));
        TestSnapshot second = TestSnapshot.of("run-a", 20).f32("w", W20);
        driver.send(second.header());
        driver.send(second.chunk("w", 0));
        driver.send(second.chunk("w", 0));
        driver.send(second.chunk("w", 4));
        driver.send(second.chunk("w", 0));
        driver.send(second.commit());

        assertThat(driver.deadLetters()).isEmpty();
        assertThat(driver.emaF32("run-a", "ema", "w", 0)).containsExactly(emaF32(DECAY, head(W10, 4), head(W20, 4)));
        assertThat(driver.entry("run-a", "ema", "w", 0).updates()).isEqualTo(2);
        List<SpecificRecordBase> out = driver.checkpoints();
        assertThat(out).as("one checkpoint chunk per entry").hasSize(4);
        assertThat(((CheckpointCommit) out.get(3)).getAbortReason()).isNull();
    }

    @Test
    void skipsDuplicateChunkOfAnAppliedStepAndDeadLettersIt() {
        TestSnapshot first = TestSnapshot.of("run-a", 10).f32("w", W10);
        driver.publish(first);
        TestSnapshot second = TestSnapshot.of("run-a", 13).f32("w", W20);
        driver.publish(second);
        byte[] before = driver.entryBytes("run-a", "ema", "w", 0);

        driver.send(second.chunk("w", 0));
        driver.send(first.chunk("w", 0));

        assertThat(driver.entryBytes("run-a", "ema", "w", 0)).isEqualTo(before);
        assertThat(driver.deadLetters()).extracting(AveragerDriver.DeadLetterRecord::reason).satisfiesExactly(
                r -> assertThat(r).contains("run run-a", "step 13", "tensor w", "already applied"),
                r -> assertThat(r).contains("run run-a", "step 10", "tensor w", "already applied"));
    }

    @Test
    void republishedHeaderOfAnAppliedStepIsDeadLettered() {
        TestSnapshot first = TestSnapshot.of("run-a", 10).f32("w", W10);
        driver.publish(first);
        byte[] before = driver.entryBytes("run-a", "ema", "w", 0);

        driver.publish(first);

        assertThat(driver.entryBytes("run-a", "ema", "w", 0)).isEqualTo(before);
        List<AveragerDriver.DeadLetterRecord> dead = driver.deadLetters();
        assertThat(dead).hasSize(4);
        assertThat(dead.get(0).reason()).contains("Snapshot header for run run-a step 10", "not newer");
        assertThat(dead.get(3).reason()).contains("Commit for run run-a step 10");
        driver.publish(TestSnapshot.of("run-a", 20).f32("w", W20));
        assertThat(driver.deadLetters()).isEmpty();
        assertThat(driver.emaF32("run-a", "ema", "w", 0)).containsExactly(emaF32(DECAY, head(W10, 4), head(W20, 4)));
    }

    static void assertChunk(SpecificRecordBase record, String tensor, long offset, float[] expected) {
        assertThat(record).isInstanceOf(CheckpointChunk.class);
        CheckpointChunk chunk = (CheckpointChunk) record;
        assertThat(chunk.getTensor()).isEqualTo(tensor);
        assertThat(chunk.getOffset()).isEqualTo(offset);
        assertThat(TensorData.readF32(chunk.getData())).as("%s at %d", tensor, offset).containsExactly(expected);
    }

    static float[] head(float[] a, int n) {
        return Arrays.copyOfRange(a, 0, n);
    }

    static float[] tail(float[] a, int from) {
        return Arrays.copyOfRange(a, from, a.length);
    }

    static float[] range(float[] a, int from, int to) {
        return Arrays.copyOfRange(a, from, to);
    }
}
