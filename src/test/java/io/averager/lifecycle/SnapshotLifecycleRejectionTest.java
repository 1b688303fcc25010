package io.averager.lifecycle;

import static io.averager.lifecycle.InMemoryRuns.profile;
import static io.averager.lifecycle.SnapshotLifecycleTest.range;
import static io.averager.topology.TensorData.emaF32;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.store.Run;
import io.averager.topology.TensorData;
import io.averager.topology.TestSnapshot;
import io.averager.wire.avro.SnapshotChunk;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Records that do not fit their run's state: rejected with their reason and a message naming the
 * run, step and tensor, they change no entry and leave the open snapshot to complete cleanly.
 * Mirrors, without the topology, {@code SnapshotSequenceTest} (chunks and commits out of place,
 * layout changes) and the stale records of {@code EmaUpdateTest} (a chunk or header of an applied
 * step).
 */
class SnapshotLifecycleRejectionTest {

    private static final String RUN = "bad";
    private static final float[] W = {1, 2, 3, 4, 5, 6};
    private static final float[] B = {7, 8};

    private final InMemoryRuns runs = new InMemoryRuns(0, 0, profile("ema", 0.9));

    @Test
    void rejectsAChunkBeforeItsHeader() {
        TestSnapshot s = snapshot(7);

        Decision d = runs.send(s.chunk("w", 0));

        assertRejected(d, DeadLetterReason.NO_OPEN_SNAPSHOT, "Chunk for run bad step 7 tensor w",
                "no open snapshot of that step", "header is missing");
        assertThat(d.run()).isNull();
        assertThat(runs.run(RUN)).isNull();
        assertThat(runs.entry(RUN, "ema", "w", 0)).isNull();
        assertThat(runs.publish(s).get(4).committed()).as("the snapshot still applies").isTrue();
        assertThat(runs.emaF32(RUN, "ema", "w", 0)).containsExactly(1, 2, 3, 4);
    }

    @Test
    void rejectsAChunkOfAnotherStepThanTheOpenOne() {
        TestSnapshot s = snapshot(7);
        runs.send(s.header());

        assertRejected(runs.send(snapshot(8).chunk("w", 0)), DeadLetterReason.NO_OPEN_SNAPSHOT,
                "Chunk for run bad step 8 tensor w", "no open snapshot of that step", "open step is 7");
        completeAndCheck(s);
    }

    @Test
    void rejectsAChunkForAnUndeclaredTensor() {
        TestSnapshot s = snapshot(7);
        runs.send(s.header());

        assertRejected(runs.send(chunk(7, "ghost", 0, 1, 2, 3, 4)), DeadLetterReason.LAYOUT_MISMATCH,
                "Chunk for run bad step 7", "tensor ghost is not declared in the snapshot header");
        assertThat(runs.entry(RUN, "ema", "ghost", 0)).isNull();
        completeAndCheck(s);
    }

    @Test
    void rejectsAChunkOffTheGrid() {
        TestSnapshot s = snapshot(7);
        runs.send(s.header());

        assertRejected(runs.send(chunk(7, "w", 2, 3, 4, 5, 6)), DeadLetterReason.LAYOUT_MISMATCH,
                "Chunk for run bad step 7", "tensor w", "offset 2 is not on the chunk grid of 4 elements");
        assertThat(runs.entry(RUN, "ema", "w", 2)).isNull();
        completeAndCheck(s);
    }

    @Test
    void rejectsAChunkPastTheTensorsEnd() {
        TestSnapshot s = snapshot(7);
        runs.send(s.header());

        assertRejected(runs.send(chunk(7, "w", 8, 9)), DeadLetterReason.LAYOUT_MISMATCH,
                "Chunk for run bad step 7", "tensor w", "offset 8 is past the tensor's end (6 elements)");
        completeAndCheck(s);
    }

    @Test
    void rejectsAChunkOfTheWrongLength() {
        TestSnapshot s = snapshot(7);
        runs.send(s.header());

        assertRejected(runs.send(chunk(7, "w", 0, 1, 2, 3)), DeadLetterReason.LAYOUT_MISMATCH,
                "Chunk for run bad step 7", "tensor w at offset 0", "has 12 bytes, expected 16 (4 F32 elements)");
        assertRejected(runs.send(chunk(7, "w", 4, 5, 6, 7, 8)), DeadLetterReason.LAYOUT_MISMATCH,
                "Chunk for run bad step 7", "tensor w at offset 4", "has 16 bytes, expected 8 (2 F32 elements)");
        completeAndCheck(s);
    }

    @Test
    void rejectsACommitWithoutAnOpenSnapshot() {
        Decision d = runs.send(snapshot(7).commit());

        assertRejected(d, DeadLetterReason.NO_OPEN_SNAPSHOT, "Commit for run bad step 7", "no open snapshot of that step");
        assertThat(d.incomplete()).isNull();
        assertThat(runs.run(RUN)).isNull();
    }

    @Test
    void rejectsALayoutChangeWithoutSetAndAcceptsASetWithTheNewLayout() {
        runs.publish(snapshot(7));
        byte[] before = runs.entryBytes(RUN, "ema", "w", 4);
        Run state = runs.run(RUN);
        float[] longer = {10, 20, 30, 40, 50, 60, 70, 80};

        assertRejected(runs.send(TestSnapshot.of(RUN, 8).f32("w", longer).f32("b", B).header()),
                DeadLetterReason.LAYOUT_MISMATCH, "Snapshot header for run bad step 8", "tensor layout differs",
                "tensor w is F32[8], run has F32[6]", "publish with mode SET");
        assertRejected(runs.send(TestSnapshot.of(RUN, 8).grid(8).f32("w", W).f32("b", B).header()),
                DeadLetterReason.LAYOUT_MISMATCH, "Snapshot header for run bad step 8", "grid 8, run has 4");
        assertThat(runs.run(RUN)).isEqualTo(state);
        assertThat(runs.entryBytes(RUN, "ema", "w", 4)).isEqualTo(before);

        Decision set = runs.send(TestSnapshot.of(RUN, 9).set().f32("w", longer).f32("b", B).header());
        assertThat(set.rejections()).isEmpty();
        assertThat(set.layoutChanged()).isTrue();
        assertThat(set.run().layout().getStep()).isEqualTo(9);
        assertThat(set.run().layout().getChunkCount()).isEqualTo(3);
        TestSnapshot nine = TestSnapshot.of(RUN, 9).set().f32("w", longer).f32("b", B);
        nine.chunks().forEach(runs::send);
        assertThat(runs.send(nine.commit()).committed()).isTrue();
        assertThat(runs.emaF32(RUN, "ema", "w", 0)).containsExactly(10, 20, 30, 40);
        assertThat(runs.emaF32(RUN, "ema", "w", 4)).containsExactly(50, 60, 70, 80);

        runs.rejections();
        runs.publish(TestSnapshot.of(RUN, 10).f32("w", new float[8]).f32("b", B));
        assertThat(runs.rejections()).as("an UPDATE in the new layout").isEmpty();
        assertThat(runs.emaF32(RUN, "ema", "w", 4)).containsExactly(emaF32(0.9, new float[] {50, 60, 70, 80}, new float[4]));
    }

    @Test
    void rejectsADuplicateChunkOfAnAppliedStepAsStale() {
        TestSnapshot first = TestSnapshot.of("run-a", 10).f32("w", W);
        runs.publish(first);
        TestSnapshot second = TestSnapshot.of("run-a", 13).f32("w", B[0], B[1], 3, 4, 5, 6);
        runs.publish(second);
        byte[] before = runs.entryBytes("run-a", "ema", "w", 0);
        Run state = runs.run("run-a");

        Decision again = runs.send(second.chunk("w", 0));
        Decision older = runs.send(first.chunk("w", 0));

        assertRejected(again, DeadLetterReason.STALE_STEP, "run run-a", "step 13", "tensor w", "already applied");
        assertRejected(older, DeadLetterReason.STALE_STEP, "run run-a", "step 10", "tensor w", "already applied");
        assertThat(again.entries()).isEmpty();
        assertThat(runs.entryBytes("run-a", "ema", "w", 0)).isEqualTo(before);
        assertThat(runs.run("run-a")).isEqualTo(state);
    }

    @Test
    void rejectsARepublishedSnapshotOfAnAppliedStep() {
        TestSnapshot first = TestSnapshot.of("run-a", 10).f32("w", W);
        runs.publish(first);
        byte[] before = runs.entryBytes("run-a", "ema", "w", 0);

        List<Decision> again = runs.publish(first);

        assertRejected(again.get(0), DeadLetterReason.STALE_STEP, "Snapshot header for run run-a step 10",
                "not newer than the run's last step 10");
        assertThat(again.get(0).opened()).isFalse();
        assertRejected(again.get(1), DeadLetterReason.STALE_STEP, "Chunk for run run-a step 10 tensor w", "already applied");
        assertRejected(again.get(2), DeadLetterReason.STALE_STEP, "Chunk for run run-a step 10 tensor w", "already applied");
        assertRejected(again.get(3), DeadLetterReason.NO_OPEN_SNAPSHOT, "Commit for run run-a step 10");
        assertThat(runs.entryBytes("run-a", "ema", "w", 0)).isEqualTo(before);

        runs.rejections();
        runs.publish(TestSnapshot.of("run-a", 20).f32("w", B[0], B[1], 0, 0, 0, 0));
        assertThat(runs.rejections()).isEmpty();
        assertThat(runs.emaF32("run-a", "ema", "w", 0))
                .containsExactly(emaF32(0.9, range(W, 0, 4), new float[] {B[0], B[1], 0, 0}));
    }

    @Test
    void rejectsARepeatedHeaderOfTheOpenSnapshotAndLeavesItOpen() {
        TestSnapshot s = snapshot(7);
        runs.send(s.header());
        runs.send(s.chunk("w", 0));
        Run open = runs.run(RUN);

        // A producer retry without transactions sends the header again.
        assertRejected(runs.send(s.header()), DeadLetterReason.STALE_STEP, "Snapshot header for run bad step 7",
                "not newer than the open snapshot's step 7");
        assertThat(runs.run(RUN)).isEqualTo(open);
        completeAndCheck(s);
    }

    @Test
    void rejectsAHeaderOfAnOlderStepThanTheOpenOneAndLeavesItOpen() {
        runs.publish(snapshot(5));
        TestSnapshot s = snapshot(7);
        runs.send(s.header());
        runs.send(s.chunk("w", 0));
        Run open = runs.run(RUN);

        assertRejected(runs.send(snapshot(6).header()), DeadLetterReason.STALE_STEP, "Snapshot header for run bad step 6",
                "not newer than the open snapshot's step 7");
        assertThat(runs.run(RUN)).isEqualTo(open);
        runs.send(s.chunk("w", 4));
        runs.send(s.chunk("b", 0));
        Decision commit = runs.send(s.commit());
        assertThat(commit.committed()).isTrue();
        assertThat(commit.run().progress().getSnapshots()).isEqualTo(2);
    }

    private static TestSnapshot snapshot(long step) {
        return TestSnapshot.of(RUN, step).f32("w", W).f32("b", B);
    }

    private static SnapshotChunk chunk(long step, String tensor, long offset, float... values) {
        return new SnapshotChunk(RUN, step, tensor, offset, ByteBuffer.wrap(TensorData.f32(values)));
    }

    /**
     * The decision rejects its record alone, for this reason, with a message holding every
     * fragment, and changes nothing.
     */
    static void assertRejected(Decision d, DeadLetterReason reason, String... fragments) {
        assertThat(d.rejections()).singleElement().satisfies(r -> {
            assertThat(r.reason()).isEqualTo(reason);
            assertThat(r.message()).contains(fragments);
            assertThat(r.carriesRecord()).isTrue();
        });
        assertThat(d.progressChanged()).as("the run's state is not to be written").isFalse();
        assertThat(d.entries()).isEmpty();
        assertThat(d.checkpoint()).isEmpty();
        assertThat(d.opened()).isFalse();
        assertThat(d.committed()).isFalse();
    }

    /**
     * Sends the rest of the open snapshot {@code s}: the rejected record must have counted for
     * nothing, so the good chunks and commit close it cleanly.
     */
    private void completeAndCheck(TestSnapshot s) {
        runs.rejections();
        s.chunks().forEach(runs::send);
        Decision commit = runs.send(s.commit());
        assertThat(runs.rejections()).isEmpty();
        assertThat(commit.committed()).isTrue();
        assertThat(runs.emaF32(RUN, "ema", "w", 0)).containsExactly(1, 2, 3, 4);
        assertThat(runs.emaF32(RUN, "ema", "w", 4)).containsExactly(5, 6);
        assertThat(runs.emaF32(RUN, "ema", "b", 0)).containsExactly(7, 8);
    }
}
