package io.averager.lifecycle;

import static io.averager.lifecycle.InMemoryRuns.profile;
import static io.averager.topology.TensorData.emaF32;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.topology.TestSnapshot;
import io.averager.wire.avro.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Chunks holding NaN or infinities under both {@link NonFinitePolicy} settings: rejected, they
 * are not applied, name the first bad element, and mark their snapshot so that its commit aborts
 * its checkpoint; allowed, they are applied as they are. Mirrors, without the topology,
 * {@code NonFiniteChunkTest}.
 */
class SnapshotLifecycleNonFiniteTest {

    private static final String RUN = "bad";

    private final InMemoryRuns runs = new InMemoryRuns(0, 0, profile("ema", 0.9));

    @Test
    void rejectsAChunkHoldingNaNAndAbortsTheCheckpointOfItsSnapshot() {
        TestSnapshot s = TestSnapshot.of(RUN, 7).endOfRun().f32("w", 1, 2, 3, 4, 5, Float.NaN);
        runs.send(s.header());
        runs.send(s.chunk("w", 0));
        runs.checkpoints();

        Decision chunk = runs.send(s.chunk("w", 4));

        assertThat(chunk.rejections()).singleElement().satisfies(r -> {
            assertThat(r.reason()).isEqualTo(DeadLetterReason.NONFINITE);
            assertThat(r.message()).contains("Chunk for run bad step 7: tensor w at offset 4 holds NaN at element 5",
                    "(index 1 of the chunk)", "not applied", "averager.nonfinite=reject");
            assertThat(r.carriesRecord()).as("the chunk as it arrived").isTrue();
        });
        assertThat(chunk.entries()).isEmpty();
        assertThat(chunk.checkpoint()).isEmpty();
        assertThat(chunk.distances()).isInstanceOf(Decision.DistanceChange.Keep.class);
        assertThat(chunk.progressChanged()).as("the snapshot is marked").isTrue();
        assertThat(chunk.run().progress().getPending().getAbortReason()).contains("holds NaN at element 5");
        assertThat(chunk.run().progress().getPending().getChunksSeen()).isEqualTo(1);

        Decision commit = runs.send(s.commit());

        assertThat(commit.rejections()).singleElement().satisfies(r -> {
            assertThat(r.reason()).isEqualTo(DeadLetterReason.INCOMPLETE_SNAPSHOT);
            assertThat(r.message()).contains("Commit for run bad step 7", "not averaged whole",
                    "tensor w at offset 4 holds NaN");
        });
        assertThat(commit.incomplete()).isEqualTo(Incomplete.NONFINITE);
        assertThat(commit.checkpoint()).singleElement().isInstanceOfSatisfying(CheckpointEvent.End.class, e -> {
            assertThat(e.step()).isEqualTo(7);
            assertThat(e.abortReason()).contains("holds NaN at element 5");
        });
        assertThat(runs.entry(RUN, "ema", "w", 4)).as("the rejected chunk's entry").isNull();
        assertThat(runs.emaF32(RUN, "ema", "w", 0)).as("the snapshot's other chunk").containsExactly(1, 2, 3, 4);
    }

    @Test
    void onlyTheFirstNonFiniteChunkMarksItsSnapshot() {
        TestSnapshot s = TestSnapshot.of(RUN, 7).f32("w", Float.NaN, 2, 3, 4, 5, Float.NEGATIVE_INFINITY);
        runs.send(s.header());
        Decision first = runs.send(s.chunk("w", 0));

        Decision second = runs.send(s.chunk("w", 4));

        assertThat(second.rejections()).extracting(Rejection::reason).containsExactly(DeadLetterReason.NONFINITE);
        assertThat(second.progressChanged()).isFalse();
        assertThat(runs.run(RUN).progress().getPending().getAbortReason())
                .isEqualTo(first.rejections().get(0).message());
    }

    static Stream<Arguments> nonFiniteElements() {
        return Stream.of(
                Arguments.of(Dtype.F32, le(4, 0x3F80_0000, 0x7F80_0000), "+Inf"),
                Arguments.of(Dtype.F16, le(2, 0x3C00, 0xFC00), "-Inf"),
                Arguments.of(Dtype.BF16, le(2, 0x3F80, 0x7FC1), "NaN"),
                Arguments.of(Dtype.F64, le(8, Double.doubleToRawLongBits(1.0), 0x7FF8_0000_0000_0000L), "NaN"));
    }

    @ParameterizedTest
    @MethodSource("nonFiniteElements")
    void namesTheFirstNonFiniteElementOfEveryFloatingDtype(Dtype dtype, byte[] tail, String what) {
        int size = tail.length / 2;
        byte[] data = new byte[4 * size + tail.length];
        System.arraycopy(tail, 0, data, 4 * size, tail.length);

        List<Decision> decisions = runs.publish(TestSnapshot.of(RUN, 7).tensor("t", dtype, new long[] {6}, data));

        assertThat(runs.rejections()).extracting(Rejection::message).satisfiesExactly(
                m -> assertThat(m).contains("tensor t at offset 4 holds " + what + " at element 5 (index 1 of the chunk)"),
                m -> assertThat(m).contains("Commit for run bad step 7", "not averaged whole"));
        assertThat(decisions.get(3).incomplete()).isEqualTo(Incomplete.NONFINITE);
        assertThat(runs.entry(RUN, "ema", "t", 4)).isNull();
        assertThat(runs.entry(RUN, "ema", "t", 0)).isNotNull();
    }

    @Test
    void integerTensorsAreNeverScanned() {
        byte[] infinityBits = le(4, 0x7F80_0000, 0xFFFF_FFFFL, 0x7FC0_0000);

        List<Decision> decisions = runs.publish(TestSnapshot.of(RUN, 7).tensor("count", Dtype.I32, new long[] {3}, infinityBits));

        assertThat(runs.rejections()).isEmpty();
        assertThat(decisions.get(2).committed()).isTrue();
        assertThat(runs.entry(RUN, "ema", "count", 0).data()).isEqualTo(ByteBuffer.wrap(infinityBits));
    }

    @Test
    void theNextCleanSnapshotAveragesAsAfterAnIncompleteOne() {
        runs.publish(TestSnapshot.of(RUN, 6).f32("w", 1, 2, 3, 4, 5, 6));
        runs.publish(TestSnapshot.of(RUN, 7).f32("w", 0, Float.NEGATIVE_INFINITY, 0, 0, 8, 8));
        assertThat(runs.rejections()).hasSize(2);

        runs.publish(TestSnapshot.of(RUN, 8).f32("w", 10, 10, 10, 10, 10, 10));

        assertThat(runs.rejections()).isEmpty();
        assertThat(runs.emaF32(RUN, "ema", "w", 0)).as("skipped step 7")
                .containsExactly(emaF32(0.9, new float[] {1, 2, 3, 4}, new float[] {10, 10, 10, 10}));
        float[] afterSeven = emaF32(0.9, new float[] {5, 6}, new float[] {8, 8});
        assertThat(runs.emaF32(RUN, "ema", "w", 4)).as("received step 7")
                .containsExactly(emaF32(0.9, afterSeven, new float[] {10, 10}));
    }

    @Test
    void allowAppliesNonFiniteValuesAsTheyAre() {
        InMemoryRuns allow = new InMemoryRuns(NonFinitePolicy.ALLOW, 0, 0, profile("ema", 0.9));

        List<Decision> decisions = allow.publish(
                TestSnapshot.of(RUN, 7).endOfRun().f32("w", 1, Float.NaN, 3, Float.POSITIVE_INFINITY, 5, 6));

        assertThat(allow.rejections()).isEmpty();
        assertThat(decisions.get(3).committed()).isTrue();
        assertThat(allow.checkpoints()).last().isInstanceOfSatisfying(CheckpointEvent.End.class,
                e -> assertThat(e.abortReason()).isNull());
        float[] w = allow.emaF32(RUN, "ema", "w", 0);
        assertThat(w[1]).isNaN();
        assertThat(w[3]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(allow.emaF32(RUN, "ema", "w", 4)).containsExactly(5, 6);
    }

    /** Little-endian elements of {@code size} bytes with the given bits. */
    private static byte[] le(int size, long... bits) {
        ByteBuffer b = ByteBuffer.allocate(bits.length * size).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : bits) {
            switch (size) {
                case 8 -> b.putLong(v);
                case 4 -> b.putInt((int) v);
                default -> b.putShort((short) v);
            }
        }
        return b.array();
    }
}
