package io.averager.topology;

import static io.averager.topology.AveragerDriver.profile;
import static io.averager.topology.TensorData.emaF32;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.topology.AveragerDriver.DeadLetterRecord;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Records that do not fit their run's state: chunks and commits out of place, layout changes. */
class SnapshotSequenceTest {

    private static final String RUN = "bad";
    private static final float[] W = {1, 2, 3, 4, 5, 6};
    private static final float[] B = {7, 8};

    @TempDir
    Path stateDir;

    private AveragerDriver driver;
    private Bystander bystander;

    @BeforeEach
    void start() {
        driver = new AveragerDriver(stateDir, 0, 0, profile(Bystander.PROFILE, Bystander.DECAY));
        bystander = new Bystander(driver);
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    @Test
    void deadLettersAChunkBeforeItsHeader() {
        TestSnapshot s = snapshot(7);
        driver.send(s.chunk("w", 0));

        assertDeadLettered("Chunk for run bad step 7 tensor w", "no open snapshot of that step", "header is missing");
        assertThat(driver.entry(RUN, "ema", "w", 0)).isNull();
        assertSnapshotStillApplies(s);
        bystander.assertUntouchedAndStillServed();
    }

    @Test
    void deadLettersAChunkOfAnotherStepThanTheOpenOne() {
        TestSnapshot s = snapshot(7);
        driver.send(s.header());
        driver.send(snapshot(8).chunk("w", 0));

        assertDeadLettered("Chunk for run bad step 8 tensor w", "no open snapshot of that step", "open step is 7");
        completeAndCheck(s);
    }

    @Test
    void deadLettersAChunkForAnUndeclaredTensor() {
        TestSnapshot s = snapshot(7);
        driver.send(s.header());
        driver.send(chunk(7, "ghost", 0, 1, 2, 3, 4));

        assertDeadLettered("Chunk for run bad step 7", "tensor ghost is not declared in the snapshot header");
        assertThat(driver.entry(RUN, "ema", "ghost", 0)).isNull();
        completeAndCheck(s);
    }

    @Test
    void deadLettersAChunkOffTheGrid() {
        TestSnapshot s = snapshot(7);
        driver.send(s.header());
        driver.send(chunk(7, "w", 2, 3, 4, 5, 6));

        assertDeadLettered("Chunk for run bad step 7", "tensor w", "offset 2 is not on the chunk grid of 4 elements");
        assertThat(driver.entry(RUN, "ema", "w", 2)).isNull();
        completeAndCheck(s);
    }

    @Test
    void deadLettersAChunkPastTheTensorsEnd() {
        TestSnapshot s = snapshot(7);
        driver.send(s.header());
        driver.send(chunk(7, "w", 8, 9));

        assertDeadLettered("Chunk for run bad step 7", "tensor w", "offset 8 is past the tensor's end (6 elements)");
        completeAndCheck(s);
    }

    @Test
    void deadLettersAChunkOfTheWrongLength() {
        TestSnapshot s = snapshot(7);
        driver.send(s.header());
        driver.send(chunk(7, "w", 0, 1, 2, 3));
        driver.send(chunk(7, "w", 4, 5, 6, 7, 8));

        List<DeadLetterRecord> dead = driver.deadLetters();
        assertThat(dead).extracting(DeadLetterRecord::reason).satisfiesExactly(
                r -> assertThat(r).contains("Chunk for run bad step 7", "tensor w at offset 0",
                        "has 12 bytes, expected 16 (4 F32 elements)"),
                r -> assertThat(r).contains("Chunk for run bad step 7", "tensor w at offset 4",
                        "has 16 bytes, expected 8 (2 F32 elements)"));
        completeAndCheck(s);
    }

    @Test
    void commitWithAWrongDigestIsDeadLetteredAndAbortsItsCheckpoint() {
        TestSnapshot s = snapshot(7).endOfRun();
        driver.send(s.header());
        s.chunks().forEach(driver::send);
        SnapshotCommit commit = s.commit();
        commit.setDigest(commit.getDigest() + 1);
        driver.send(commit);

        assertDeadLettered("Commit for run bad step 7", "digest", "does not match the chunks received");
        List<CheckpointCommit> commits = driver.checkpointCommits();
        assertThat(commits).singleElement().satisfies(c -> {
            assertThat(c.getRun()).isEqualTo(RUN);
            assertThat(c.getStep()).isEqualTo(7);
            assertThat(c.getAbortReason()).contains("Commit for run bad step 7", "digest");
        });
        bystander.assertUntouchedAndStillServed();
    }

    @Test
    void commitWithAWrongChunkCountIsDeadLetteredAndAbortsItsCheckpoint() {
        TestSnapshot s = snapshot(7).endOfRun();
        driver.send(s.header());
        s.chunks().forEach(driver::send);
        SnapshotCommit commit = s.commit();
        commit.setChunkCount(4);
        driver.send(commit);

        assertDeadLettered("Commit for run bad step 7", "3 chunks received, commit says 4, header declared 3");
        assertThat(driver.checkpointCommits()).singleElement()
                .satisfies(c -> assertThat(c.getAbortReason()).contains("commit says 4"));
        bystander.assertUntouchedAndStillServed();
    }

    @Test
    void commitAfterAMissingChunkIsDeadLettered() {
        TestSnapshot s = snapshot(7);
        driver.send(s.header());
        driver.send(s.chunk("w", 0));
        driver.send(s.chunk("b", 0));
        driver.send(s.commit());

        assertDeadLettered("Commit for run bad step 7", "2 chunks received, commit says 3, header declared 3");
        bystander.assertUntouchedAndStillServed();
    }

    @Test
    void commitWithoutAnOpenSnapshotIsDeadLettered() {
        driver.send(snapshot(7).commit());

        assertDeadLettered("Commit for run bad step 7", "no open snapshot of that step");
        bystander.assertUntouchedAndStillServed();
    }

    @Test
    void layoutChangeWithoutSetIsDeadLetteredAndSetWithTheNewLayoutIsAccepted() {
        driver.publish(snapshot(7));
        byte[] before = driver.entryBytes(RUN, "ema", "w", 4);
        float[] longer = {10, 20, 30, 40, 50, 60, 70, 80};

        driver.send(TestSnapshot.of(RUN, 8).f32("w", longer).f32("b", B).header());
        assertDeadLettered("Snapshot header for run bad step 8", "tensor layout differs",
                "tensor w is F32[8], run has F32[6]", "publish with mode SET");
        driver.send(TestSnapshot.of(RUN, 8).grid(8).f32("w", W).f32("b", B).header());
        assertDeadLettered("Snapshot header for run bad step 8", "grid 8, run has 4");
        assertThat(driver.entryBytes(RUN, "ema", "w", 4)).isEqualTo(before);

        driver.publish(TestSnapshot.of(RUN, 9).set().f32("w", longer).f32("b", B));
        assertThat(driver.deadLetters()).isEmpty();
        assertThat(driver.emaF32(RUN, "ema", "w", 0)).containsExactly(10, 20, 30, 40);
        assertThat(driver.emaF32(RUN, "ema", "w", 4)).containsExactly(50, 60, 70, 80);

        float[] after = {0, 0, 0, 0, 0, 0, 0, 0};
        driver.publish(TestSnapshot.of(RUN, 10).f32("w", after).f32("b", B));
        assertThat(driver.deadLetters()).as("an UPDATE in the new layout").isEmpty();
        assertThat(driver.emaF32(RUN, "ema", "w", 4))
                .containsExactly(emaF32(Bystander.DECAY, new float[] {50, 60, 70, 80}, new float[4]));
        bystander.assertUntouchedAndStillServed();
    }

    @Test
    void newHeaderWhileASnapshotIsOpenReportsThePreviousOneIncomplete() {
        TestSnapshot open = snapshot(7).endOfRun();
        driver.send(open.header());
        driver.send(open.chunk("w", 0));
        float[] w8 = {-1, -2, -3, -4, -5, -6};
        TestSnapshot next = TestSnapshot.of(RUN, 8).f32("w", w8).f32("b", B);
        driver.publish(next);

        DeadLetterRecord dead = assertDeadLettered("Snapshot of run bad step 7 is incomplete (1 of 3 chunks)",
                "header of step 8 came first");
        assertThat(dead.key()).isEqualTo(AveragerDriver.utf8(RUN));
        assertThat(driver.checkpointCommits()).singleElement().satisfies(c -> {
            assertThat(c.getStep()).isEqualTo(7);
            assertThat(c.getAbortReason()).contains("incomplete");
        });
        // The entry that received step 7's chunk includes it; the others start at step 8.
        assertThat(driver.emaF32(RUN, "ema", "w", 0))
                .containsExactly(emaF32(Bystander.DECAY, new float[] {1, 2, 3, 4}, new float[] {-1, -2, -3, -4}));
        assertThat(driver.emaF32(RUN, "ema", "w", 4)).containsExactly(-5, -6);
        assertThat(driver.entry(RUN, "ema", "w", 4).lastStep()).isEqualTo(8);
        bystander.assertUntouchedAndStillServed();
    }

    private static TestSnapshot snapshot(long step) {
        return TestSnapshot.of(RUN, step).f32("w", W).f32("b", B);
    }

    private static SnapshotChunk chunk(long step, String tensor, long offset, float... values) {
        return new SnapshotChunk(RUN, step, tensor, offset, ByteBuffer.wrap(TensorData.f32(values)));
    }

    /** Exactly one dead letter, whose reason holds every fragment. */
    private DeadLetterRecord assertDeadLettered(String... fragments) {
        List<DeadLetterRecord> dead = driver.deadLetters();
        assertThat(dead).hasSize(1);
        assertThat(dead.get(0).reason()).contains(fragments);
        return dead.get(0);
    }

    /**
     * Sends the rest of the open snapshot {@code s}: the bad record must have counted for
     * nothing, so the good chunks and commit close it cleanly. Then checks the bystander.
     */
    private void completeAndCheck(TestSnapshot s) {
        s.chunks().forEach(driver::send);
        driver.send(s.commit());
        assertThat(driver.deadLetters()).isEmpty();
        assertThat(driver.emaF32(RUN, "ema", "w", 0)).containsExactly(1, 2, 3, 4);
        assertThat(driver.emaF32(RUN, "ema", "w", 4)).containsExactly(5, 6);
        bystander.assertUntouchedAndStillServed();
    }

    private void assertSnapshotStillApplies(TestSnapshot s) {
        driver.publish(s);
        assertThat(driver.deadLetters()).isEmpty();
        assertThat(driver.emaF32(RUN, "ema", "w", 0)).containsExactly(1, 2, 3, 4);
    }
}
