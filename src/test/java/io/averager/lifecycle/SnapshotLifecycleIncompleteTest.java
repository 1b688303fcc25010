package io.averager.lifecycle;

import static io.averager.lifecycle.InMemoryRuns.profile;
import static io.averager.topology.TensorData.emaF32;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.lifecycle.Decision.DistanceChange;
import io.averager.topology.TestSnapshot;
import io.averager.wire.avro.SnapshotCommit;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Snapshots that close without being averaged whole: the commit finds chunks missing or the
 * digest wrong, or the next header comes first. Each is rejected with its {@link Incomplete}
 * reason and a message naming the missing chunks, aborts its checkpoint, drops its distances and
 * closes its step. Mirrors, without the topology, {@code IncompleteSnapshotReportTest} and the
 * bad commits and torn snapshot of {@code SnapshotSequenceTest}.
 */
class SnapshotLifecycleIncompleteTest {

    private static final String RUN = "torn";
    private static final float[] W = {1, 2, 3, 4, 5, 6};
    private static final float[] B = {7, 8};

    private final InMemoryRuns runs = new InMemoryRuns(0, 0, profile("ema", 0.9));

    @Test
    void commitWithAWrongDigestIsRejectedAndAbortsItsCheckpoint() {
        TestSnapshot s = snapshot(7).endOfRun();
        runs.send(s.header());
        s.chunks().forEach(runs::send);
        SnapshotCommit commit = s.commit();
        commit.setDigest(commit.getDigest() + 1);

        Decision d = runs.send(commit);

        assertIncomplete(d, Incomplete.DIGEST_MISMATCH, "Commit for run torn step 7", "digest",
                "does not match the chunks received");
        assertThat(d.checkpoint()).singleElement().isInstanceOfSatisfying(CheckpointEvent.End.class, e -> {
            assertThat(e.step()).isEqualTo(7);
            assertThat(e.chunkCount()).isEqualTo(3);
            assertThat(e.abortReason()).contains("Commit for run torn step 7", "digest");
        });
    }

    @Test
    void commitWithAWrongChunkCountIsRejectedAndAbortsItsCheckpoint() {
        TestSnapshot s = snapshot(7).endOfRun();
        runs.send(s.header());
        s.chunks().forEach(runs::send);
        SnapshotCommit commit = s.commit();
        commit.setChunkCount(4);

        Decision d = runs.send(commit);

        assertIncomplete(d, Incomplete.MISSING_CHUNKS, "Commit for run torn step 7",
                "3 chunks received, commit says 4, header declared 3");
        assertThat(d.checkpoint()).singleElement().isInstanceOfSatisfying(CheckpointEvent.End.class,
                e -> assertThat(e.abortReason()).contains("commit says 4"));
    }

    @Test
    void commitShortOfChunksNamesTheMissingOnes() {
        TestSnapshot s = snapshot(7);
        runs.send(s.header());
        runs.send(s.chunk("b", 0));
        runs.send(s.chunk("w", 4));

        Decision d = runs.send(s.commit());

        assertIncomplete(d, Incomplete.MISSING_CHUNKS,
                "Commit for run torn step 7: 2 chunks received, commit says 3, header declared 3; missing w@0");
        assertThat(d.checkpoint()).as("not a checkpoint").isEmpty();
    }

    @Test
    void aChunkDeliveredTwiceIsNotCountedAsAnother() {
        TestSnapshot s = snapshot(7);
        runs.send(s.header());
        runs.send(s.chunk("w", 0));
        runs.send(s.chunk("w", 0));
        runs.send(s.chunk("b", 0));

        Decision d = runs.send(new SnapshotCommit(RUN, 7L, 3, s.commit().getDigest()));

        assertIncomplete(d, Incomplete.MISSING_CHUNKS, "2 chunks received", "; missing w@4");
    }

    @Test
    void newHeaderWhileASnapshotIsOpenClosesThePreviousOneIncomplete() {
        TestSnapshot open = snapshot(7).endOfRun();
        runs.send(open.header());
        runs.send(open.chunk("w", 0));
        TestSnapshot next = TestSnapshot.of(RUN, 8).f32("w", -1, -2, -3, -4, -5, -6).f32("b", B);

        Decision header = runs.send(next.header());

        assertThat(header.rejections()).singleElement().satisfies(r -> {
            assertThat(r.reason()).isEqualTo(DeadLetterReason.INCOMPLETE_SNAPSHOT);
            assertThat(r.message()).contains("Snapshot of run torn step 7 is incomplete (1 of 3 chunks)",
                    "header of step 8 came first", "missing w@4, b@0");
            assertThat(r.carriesRecord()).as("the header at hand is not to blame").isFalse();
        });
        assertThat(header.incomplete()).isEqualTo(Incomplete.NO_COMMIT);
        assertThat(header.distances()).isInstanceOf(DistanceChange.Discard.class);
        assertThat(header.checkpoint()).singleElement().isInstanceOfSatisfying(CheckpointEvent.End.class, e -> {
            assertThat(e.step()).isEqualTo(7);
            assertThat(e.abortReason()).contains("incomplete");
        });
        assertThat(header.opened()).as("the new header opens its own snapshot").isTrue();
        assertThat(header.run().progress().getLastStep()).isEqualTo(7);
        assertThat(header.run().progress().getPending().getStep()).isEqualTo(8);

        next.chunks().forEach(runs::send);
        assertThat(runs.send(next.commit()).committed()).isTrue();
        // The entry that received step 7's chunk includes it; the others start at step 8.
        assertThat(runs.emaF32(RUN, "ema", "w", 0))
                .containsExactly(emaF32(0.9, new float[] {1, 2, 3, 4}, new float[] {-1, -2, -3, -4}));
        assertThat(runs.emaF32(RUN, "ema", "w", 4)).containsExactly(-5, -6);
        assertThat(runs.entry(RUN, "ema", "w", 4).lastStep()).isEqualTo(8);
    }

    @Test
    void aSnapshotWithoutCommitNamesTheFirstFiveMissingChunksThenCountsTheRest() {
        TestSnapshot torn = TestSnapshot.of(RUN, 7).f32("w", floats(40)).f32("b", 1, 2);
        runs.send(torn.header());
        runs.send(torn.chunk("w", 0));
        runs.send(torn.chunk("w", 8));

        List<Decision> next = runs.publish(TestSnapshot.of(RUN, 8).f32("w", floats(40)).f32("b", 1, 2));

        assertThat(next.get(0).incomplete()).isEqualTo(Incomplete.NO_COMMIT);
        assertThat(runs.rejections()).singleElement().satisfies(r -> assertThat(r.message()).contains(
                "Snapshot of run torn step 7 is incomplete (2 of 11 chunks)",
                "missing w@4, w@12, w@16, w@20, w@24 and 4 more."));
        assertThat(next.get(next.size() - 1).committed()).isTrue();
    }

    @Test
    void everyReasonIsTold() {
        TestSnapshot digest = TestSnapshot.of(RUN, 7).f32("w", 1, 2);
        runs.send(digest.header());
        digest.chunks().forEach(runs::send);
        Decision wrongDigest = runs.send(new SnapshotCommit(RUN, 7L, 1, digest.commit().getDigest() + 1));
        List<Decision> nan = runs.publish(TestSnapshot.of(RUN, 8).f32("w", 1, Float.NaN));
        List<Decision> clean = runs.publish(TestSnapshot.of(RUN, 9).f32("w", 1, 2));

        assertThat(wrongDigest.incomplete()).isEqualTo(Incomplete.DIGEST_MISMATCH);
        assertThat(nan).extracting(Decision::incomplete).containsExactly(null, null, Incomplete.NONFINITE);
        assertThat(clean).extracting(Decision::incomplete).containsOnlyNulls();
        assertThat(runs.rejections()).extracting(Rejection::reason).containsExactly(DeadLetterReason.INCOMPLETE_SNAPSHOT,
                DeadLetterReason.NONFINITE, DeadLetterReason.INCOMPLETE_SNAPSHOT);
    }

    /**
     * The commit closes its snapshot unfinished: it is rejected for this reason with a message
     * holding every fragment, its distances are dropped and its step is the run's last.
     */
    private static void assertIncomplete(Decision d, Incomplete reason, String... fragments) {
        assertThat(d.rejections()).singleElement().satisfies(r -> {
            assertThat(r.reason()).isEqualTo(DeadLetterReason.INCOMPLETE_SNAPSHOT);
            assertThat(r.message()).contains(fragments);
        });
        assertThat(d.incomplete()).isEqualTo(reason);
        assertThat(d.committed()).isFalse();
        assertThat(d.distances()).isInstanceOf(DistanceChange.Discard.class);
        assertThat(d.progressChanged()).isTrue();
        assertThat(d.run().progress().getPending()).isNull();
        assertThat(d.run().progress().getLastStep()).isEqualTo(7);
        assertThat(d.run().progress().getSnapshots()).as("not averaged whole").isZero();
    }

    private static TestSnapshot snapshot(long step) {
        return TestSnapshot.of(RUN, step).f32("w", W).f32("b", B);
    }

    private static float[] floats(int n) {
        float[] values = new float[n];
        IntStream.range(0, n).forEach(i -> values[i] = i);
        return values;
    }
}
