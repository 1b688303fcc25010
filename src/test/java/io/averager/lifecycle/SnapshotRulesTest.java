package io.averager.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.topology.TestSnapshot;
import io.averager.wire.avro.Dtype;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/**
 * The checks a snapshot record passes on its own, before any state is read, each answering with
 * what is wrong, naming the run, step and tensor. Mirrors, without the topology, the header,
 * chunk and commit field checks of {@code MalformedRecordTest}; its decoding and key checks are
 * the validate processor's and the wire codec's, not these rules.
 */
class SnapshotRulesTest {

    private static final String RUN = "bad";

    /** The limits the topology tests run with. */
    private final SnapshotRules rules = new SnapshotRules(16L << 20, 1L << 36);

    @Test
    void acceptsAWellFormedSnapshot() {
        TestSnapshot s = TestSnapshot.of(RUN, 7).f32("w", 1, 2, 3, 4, 5, 6).f32("b", 1);

        assertThat(rules.check(s.header())).isNull();
        assertThat(s.chunks()).allSatisfy(c -> assertThat(rules.check(c)).isNull());
        assertThat(rules.check(s.commit())).isNull();
    }

    @Test
    void rejectsANegativeDimension() {
        assertThat(rules.check(TestSnapshot.of(RUN, 7).tensor("w", Dtype.F32, new long[] {2, -3}, new byte[0]).header()))
                .contains("Snapshot header for run bad step 7", "tensor w", "negative dimension", "[2, -3]");
    }

    @Test
    void rejectsAShapeWhoseSizeOverflows() {
        assertThat(rules.check(TestSnapshot.of(RUN, 7)
                .tensor("w", Dtype.F32, new long[] {1L << 32, 1L << 32}, new byte[0]).header()))
                .contains("Snapshot header for run bad step 7", "tensor w", "overflows");
    }

    @Test
    void rejectsATensorAboveTheElementLimit() {
        assertThat(rules.check(TestSnapshot.of(RUN, 7)
                .tensor("w", Dtype.F32, new long[] {1L << 20, 1L << 17}, new byte[0]).header()))
                .contains("Snapshot header for run bad step 7", "tensor w", "averager.max.tensor.elements");
    }

    @Test
    void rejectsATensorNameOfTenThousandCharactersWithoutRepeatingIt() {
        String problem = rules.check(TestSnapshot.of(RUN, 7).f32("n".repeat(10_000), 1, 2).header());

        assertThat(problem).contains("Snapshot header for run bad step 7", "tensor name of 10000 characters",
                "expected 1 to 1024");
        assertThat(problem).hasSizeLessThan(1_000);
    }

    @Test
    void rejectsAChunkWithATensorNameOfTenThousandCharactersWithoutRepeatingIt() {
        String problem = rules.check(new SnapshotChunk(RUN, 7L, "n".repeat(10_000), 0L, ByteBuffer.wrap(new byte[4])));

        assertThat(problem).contains("Chunk for run bad step 7", "tensor name of 10000 characters");
        assertThat(problem).hasSizeLessThan(1_000);
    }

    @Test
    void rejectsATensorDeclaredTwice() {
        assertThat(rules.check(TestSnapshot.of(RUN, 7).f32("w", 1).f32("w", 2).header()))
                .contains("Snapshot header for run bad step 7", "tensor w is declared twice");
    }

    @Test
    void rejectsAHeaderWhoseChunkCountDisagreesWithItsTensors() {
        SnapshotHeader h = TestSnapshot.of(RUN, 7).f32("w", 1, 2, 3, 4, 5, 6).f32("b", 1).header();
        h.setChunkCount(5);

        assertThat(rules.check(h)).contains("Snapshot header for run bad step 7", "chunkCount is 5",
                "the tensors on grid 4 make 3 chunks");
    }

    @Test
    void rejectsAGridOfZero() {
        assertThat(rules.check(TestSnapshot.of(RUN, 7).grid(0).f32("w", 1).header()))
                .contains("Snapshot header for run bad step 7", "grid 0 is outside");
    }

    @Test
    void rejectsANegativeStep() {
        assertThat(rules.check(TestSnapshot.of(RUN, -7).f32("w", 1).header()))
                .contains("Snapshot header for run bad step -7", "step is negative");
    }

    @Test
    void rejectsAChunkWithANegativeOffset() {
        SnapshotChunk chunk = TestSnapshot.of(RUN, 7).f32("w", 1, 2, 3, 4, 5, 6).chunk("w", 0);
        chunk.setOffset(-4L);

        assertThat(rules.check(chunk)).contains("Chunk for run bad step 7", "tensor w", "negative offset -4");
    }

    @Test
    void rejectsACommitWithANegativeChunkCount() {
        assertThat(rules.check(new SnapshotCommit(RUN, 7L, -1, 0L))).contains("Commit for run bad step 7", "negative chunkCount");
    }
}
