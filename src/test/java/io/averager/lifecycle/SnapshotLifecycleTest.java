package io.averager.lifecycle;

import static io.averager.lifecycle.InMemoryRuns.profile;
import static io.averager.topology.TensorData.emaF32;
import static io.averager.topology.TensorData.emaF64;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.ema.Profile;
import io.averager.store.EmaEntry;
import io.averager.store.Run;
import io.averager.topology.TensorData;
import io.averager.topology.TestSnapshot;
import io.averager.wire.avro.Dtype;
import io.averager.wire.avro.SnapshotChunk;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The EMA rule of each entry, decided by the lifecycle alone: the first snapshot and a SET set
 * the EMA, later ones average with each profile's decay, a chunk delivered twice is applied once,
 * in any order. Mirrors, without the topology, {@code EmaUpdateTest} (first snapshot, blend,
 * tail chunk, order, duplicate chunk of an open step) and {@code ProfilesAndDtypesTest} (every
 * profile, bfloat16, float64, integers), and the SET of {@code SnapshotSequenceTest}.
 */
class SnapshotLifecycleTest {

    private static final double DECAY = 0.9;
    private static final float[] W10 = {1, 2, 3, 4, 5, 6};
    private static final float[] B10 = {0.5f, -0.5f};
    private static final float[] W20 = {3, -2, 0.25f, 8, 1e-3f, 6};
    private static final float[] B20 = {1.5f, 100};

    private final InMemoryRuns runs = new InMemoryRuns(20, 0, profile("ema", DECAY));

    @Test
    void firstSnapshotOpensTheRunAndSetsTheEmaToTheWeights() {
        TestSnapshot s = TestSnapshot.of("run-a", 10).f32("w", W10).f32("b", B10);

        Decision header = runs.header(s.header());
        assertThat(header.rejections()).isEmpty();
        assertThat(header.opened()).isTrue();
        assertThat(header.progressChanged()).isTrue();
        assertThat(header.layoutChanged()).as("the first snapshot sets the layout").isTrue();
        assertThat(header.run().layout().getTensors()).isEqualTo(s.header().getTensors());
        assertThat(header.run().layout().getGrid()).isEqualTo(4);
        assertThat(header.run().layout().getChunkCount()).isEqualTo(3);
        assertThat(header.run().progress().getLayoutStep()).isEqualTo(10);
        assertThat(header.run().progress().getPending().getSet()).isTrue();
        assertThat(header.checkpoint()).as("the first snapshot is not a cadence step").isEmpty();

        for (SnapshotChunk c : s.chunks()) {
            Decision d = runs.chunk(c);
            assertThat(d.rejections()).isEmpty();
            assertThat(d.entries()).singleElement().satisfies(e -> {
                assertThat(e.profile()).isEqualTo("ema");
                assertThat(e.tensor()).isEqualTo(c.getTensor());
                assertThat(e.offset()).isEqualTo(c.getOffset());
                assertThat(e.bytes()).isEqualTo(c.getData().remaining());
                assertThat(e.entry().lastStep()).isEqualTo(10);
                assertThat(e.entry().updates()).isEqualTo(1);
            });
        }

        Decision commit = runs.commit(s.commit());
        assertThat(commit.rejections()).isEmpty();
        assertThat(commit.committed()).isTrue();
        assertThat(commit.incomplete()).isNull();
        assertThat(commit.run().progress().getLastStep()).isEqualTo(10);
        assertThat(commit.run().progress().getSnapshots()).isEqualTo(1);
        assertThat(commit.run().progress().getPending()).isNull();
        assertThat(runs.emaF32("run-a", "ema", "w", 0)).containsExactly(1, 2, 3, 4);
        assertThat(runs.emaF32("run-a", "ema", "w", 4)).containsExactly(5, 6);
        assertThat(runs.emaF32("run-a", "ema", "b", 0)).containsExactly(0.5f, -0.5f);
        assertThat(runs.checkpoints()).isEmpty();
    }

    @Test
    void secondSnapshotBlendsWithTheProfileDecay() {
        runs.publish(TestSnapshot.of("run-a", 10).f32("w", W10).f32("b", B10));
        List<Decision> second = runs.publish(TestSnapshot.of("run-a", 13).f32("w", W20).f32("b", B20));

        assertThat(second).allSatisfy(d -> assertThat(d.rejections()).isEmpty());
        assertThat(second.get(0).layoutChanged()).as("an UPDATE keeps the layout").isFalse();
        assertThat(second.get(0).run().progress().getPending().getSet()).isFalse();
        assertThat(runs.emaF32("run-a", "ema", "w", 0)).containsExactly(emaF32(DECAY, range(W10, 0, 4), range(W20, 0, 4)));
        assertThat(runs.emaF32("run-a", "ema", "w", 4)).containsExactly(emaF32(DECAY, range(W10, 4, 6), range(W20, 4, 6)));
        assertThat(runs.emaF32("run-a", "ema", "b", 0)).containsExactly(emaF32(DECAY, B10, B20));
        EmaEntry entry = runs.entry("run-a", "ema", "b", 0);
        assertThat(entry.lastStep()).isEqualTo(13);
        assertThat(entry.updates()).isEqualTo(2);
        assertThat(second.get(4).run().progress().getSnapshots()).isEqualTo(2);
    }

    @Test
    void setRestartsTheEmaAtTheSnapshot() {
        runs.publish(TestSnapshot.of("run-a", 10).f32("w", W10));
        List<Decision> set = runs.publish(TestSnapshot.of("run-a", 13).set().f32("w", W20));

        assertThat(set).allSatisfy(d -> assertThat(d.rejections()).isEmpty());
        assertThat(set.get(0).layoutChanged()).isTrue();
        assertThat(set.get(0).run().progress().getLayoutStep()).isEqualTo(13);
        assertThat(runs.emaF32("run-a", "ema", "w", 0)).containsExactly(range(W20, 0, 4));
        assertThat(runs.emaF32("run-a", "ema", "w", 4)).containsExactly(range(W20, 4, 6));
        assertThat(runs.entry("run-a", "ema", "w", 0).updates()).isEqualTo(1);
        assertThat(set.get(3).run().progress().getSnapshots()).as("counted since the SET").isEqualTo(1);
    }

    @Test
    void tensorLargerThanTheGridIsAveragedChunkByChunkWithATail() {
        float[] first = new float[11];
        float[] second = new float[11];
        for (int i = 0; i < first.length; i++) {
            first[i] = i;
            second[i] = 10 * i - 3;
        }
        runs.publish(TestSnapshot.of("run-a", 10).f32("w", first));
        List<Decision> decisions = runs.publish(TestSnapshot.of("run-a", 20).f32("w", second));

        assertThat(decisions.subList(1, 4)).extracting(d -> d.entries().get(0).offset() + ":" + d.entries().get(0).bytes())
                .containsExactly("0:16", "4:16", "8:12");
        assertThat(runs.emaF32("run-a", "ema", "w", 0)).containsExactly(emaF32(DECAY, range(first, 0, 4), range(second, 0, 4)));
        assertThat(runs.emaF32("run-a", "ema", "w", 4)).containsExactly(emaF32(DECAY, range(first, 4, 8), range(second, 4, 8)));
        assertThat(runs.emaF32("run-a", "ema", "w", 8)).containsExactly(emaF32(DECAY, range(first, 8, 11), range(second, 8, 11)));
        assertThat(decisions.get(4).committed()).isTrue();
    }

    @Test
    void chunksOutOfOrderAndInterleavedWithAnotherRunGiveTheSameEma() {
        float[] w = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        float[] v = {-1, -2, -3, -4, -5};
        float[] w2 = {2, 4, 6, 8, 10, 12, 14, 16, 18, 20};
        float[] v2 = {1, 1, 1, 1, 1};
        runs.publish(TestSnapshot.of("in-order", 10).f32("w", w).f32("v", v));
        runs.publish(TestSnapshot.of("in-order", 11).f32("w", w2).f32("v", v2));
        runs.publish(TestSnapshot.of("shuffled", 10).f32("w", w).f32("v", v));

        TestSnapshot shuffled = TestSnapshot.of("shuffled", 11).f32("w", w2).f32("v", v2);
        TestSnapshot other = TestSnapshot.of("other", 5).f32("w", 9, 9, 9);
        runs.send(other.header());
        runs.send(shuffled.header());
        runs.send(shuffled.chunk("w", 8));
        runs.send(shuffled.chunk("v", 4));
        runs.send(other.chunk("w", 0));
        runs.send(shuffled.chunk("w", 0));
        runs.send(shuffled.chunk("v", 0));
        runs.send(other.commit());
        runs.send(shuffled.chunk("w", 4));
        Decision commit = runs.send(shuffled.commit());

        assertThat(runs.rejections()).isEmpty();
        assertThat(commit.committed()).isTrue();
        for (String tensor : List.of("w", "v")) {
            for (long offset : tensor.equals("w") ? new long[] {0, 4, 8} : new long[] {0, 4}) {
                assertThat(runs.entryBytes("shuffled", "ema", tensor, offset)).as("%s at %d", tensor, offset)
                        .isEqualTo(runs.entryBytes("in-order", "ema", tensor, offset));
            }
        }
        assertThat(runs.emaF32("shuffled", "ema", "w", 8)).containsExactly(emaF32(DECAY, range(w, 8, 10), range(w2, 8, 10)));
        assertThat(runs.emaF32("shuffled", "ema", "v", 4)).containsExactly(emaF32(DECAY, range(v, 4, 5), range(v2, 4, 5)));
        assertThat(runs.emaF32("other", "ema", "w", 0)).containsExactly(9, 9, 9);
    }

    @Test
    void skipsDuplicateChunkOfAnOpenStep() {
        runs.publish(TestSnapshot.of("run-a", 10).f32("w", W10));
        TestSnapshot second = TestSnapshot.of("run-a", 20).f32("w", W20);
        runs.send(second.header());
        Decision first = runs.send(second.chunk("w", 0));
        Run before = runs.run("run-a");

        Decision again = runs.send(second.chunk("w", 0));

        assertThat(first.duplicate()).isFalse();
        assertThat(again.duplicate()).isTrue();
        assertThat(again.entries()).isEmpty();
        assertThat(again.rejections()).isEmpty();
        assertThat(again.progressChanged()).isFalse();
        assertThat(again.distances()).isInstanceOf(Decision.DistanceChange.Keep.class);
        assertThat(again.checkpoint()).as("no second checkpoint chunk").isEmpty();
        assertThat(runs.run("run-a")).isEqualTo(before);

        runs.send(second.chunk("w", 4));
        assertThat(runs.send(second.chunk("w", 0)).duplicate()).isTrue();
        Decision commit = runs.send(second.commit());

        assertThat(commit.committed()).as("the duplicates counted for nothing").isTrue();
        assertThat(runs.rejections()).isEmpty();
        assertThat(runs.emaF32("run-a", "ema", "w", 0)).containsExactly(emaF32(DECAY, range(W10, 0, 4), range(W20, 0, 4)));
        assertThat(runs.entry("run-a", "ema", "w", 0).updates()).isEqualTo(2);
        assertThat(runs.checkpoints()).as("one checkpoint chunk per entry").extracting(e -> e.getClass().getSimpleName())
                .containsExactly("Begin", "Data", "Data", "End");
    }

    @Test
    void everyProfileIsUpdatedWithItsOwnDecay() {
        Profile perSnapshot = profile("fast", 0.5);
        Profile perStep = Profile.builder("slow").decay(0.99).unit(Profile.Unit.STEP).build();
        InMemoryRuns two = new InMemoryRuns(20, 0, perSnapshot, perStep);
        float[] x10 = {1, 2, 3};
        float[] x20 = {5, -7, 0.125f};

        two.publish(TestSnapshot.of("run-a", 10).f32("w", x10));
        Decision chunk = two.publish(TestSnapshot.of("run-a", 20).f32("w", x20)).get(1);

        float[] fast = emaF32(0.5, x10, x20);
        float[] slow = emaF32(Math.pow(0.99, 20 - 10), x10, x20);
        assertThat(chunk.entries()).extracting(Decision.EntryUpdate::profile).containsExactly("fast", "slow");
        assertThat(two.emaF32("run-a", "fast", "w", 0)).containsExactly(fast);
        assertThat(two.emaF32("run-a", "slow", "w", 0)).containsExactly(slow);
    }

    @Test
    void bf16WeightsAreAveragedInF32() {
        InMemoryRuns bf16 = new InMemoryRuns(0, 0, profile("ema", 0.99));
        float[] x10 = {1, 2.5f, -3};
        // 1 + 2^-7 moves a unit EMA by 7.8e-5 at decay 0.99: lost in bfloat16, kept in float32.
        float[] x20 = {1.0078125f, 0, 100};

        bf16.publish(TestSnapshot.of("run-a", 10).tensor("w", Dtype.BF16, new long[] {3}, TensorData.bf16(x10)));
        Decision chunk = bf16.publish(TestSnapshot.of("run-a", 20)
                .tensor("w", Dtype.BF16, new long[] {3}, TensorData.bf16(x20))).get(1);

        float[] expected = emaF32(0.99, x10, x20);
        assertThat(expected[0]).isNotEqualTo(1.0f);
        assertThat(chunk.entries().get(0).bytes()).as("the chunk's size, in bfloat16").isEqualTo(6);
        assertThat(chunk.entries().get(0).entry().dataBytes()).as("the EMA's, in float32").isEqualTo(12);
        assertThat(bf16.emaF32("run-a", "ema", "w", 0)).containsExactly(expected);
    }

    @Test
    void f64WeightsAreAveragedInF64() {
        InMemoryRuns f64 = new InMemoryRuns(0, 0, profile("ema", 0.9));
        double[] x10 = {0.1, 1.0 / 3, -2e300};
        double[] x20 = {0.7, Math.PI, 1e-300};

        f64.publish(TestSnapshot.of("run-a", 10).tensor("w", Dtype.F64, new long[] {3}, TensorData.f64(x10)));
        f64.publish(TestSnapshot.of("run-a", 20).tensor("w", Dtype.F64, new long[] {3}, TensorData.f64(x20)));

        double[] expected = emaF64(0.9, x10, x20);
        assertThat(TensorData.readF64(f64.entry("run-a", "ema", "w", 0).data())).containsExactly(expected);
        assertThat(expected[1]).as("more precision than float32 holds").isNotEqualTo((double) (float) expected[1]);
    }

    @Test
    void integerTensorIsCopiedNotAveraged() {
        InMemoryRuns ints = new InMemoryRuns(0, 0, profile("ema", 0.9));

        ints.publish(TestSnapshot.of("run-a", 10).f32("w", 1, 1)
                .tensor("num_batches_tracked", Dtype.I64, new long[] {}, TensorData.i64(7)));
        ints.publish(TestSnapshot.of("run-a", 20).f32("w", 3, 3)
                .tensor("num_batches_tracked", Dtype.I64, new long[] {}, TensorData.i64(1L << 40)));

        assertThat(TensorData.readI64(ints.entry("run-a", "ema", "num_batches_tracked", 0).data()))
                .containsExactly(1L << 40);
        assertThat(ints.emaF32("run-a", "ema", "w", 0)).containsExactly(emaF32(0.9, new float[] {1, 1}, new float[] {3, 3}));
        assertThat(ints.rejections()).isEmpty();
    }

    static float[] range(float[] a, int from, int to) {
        return Arrays.copyOfRange(a, from, to);
    }
}
