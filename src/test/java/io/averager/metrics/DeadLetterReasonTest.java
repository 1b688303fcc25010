package io.averager.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Dead-letter reasons, as the topology words them, fall into a few fixed categories. */
class DeadLetterReasonTest {

    @Test
    void categorizesTheTopologysReasons() {
        assertThat(DeadLetterReason.of("record has no key: expected the run id")).isEqualTo(DeadLetterReason.MALFORMED);
        assertThat(DeadLetterReason.of("Record for run r: not an averager message")).isEqualTo(DeadLetterReason.MALFORMED);
        assertThat(DeadLetterReason.of("Snapshot header for run r step 5: step is not newer than the run's last step 9"))
                .isEqualTo(DeadLetterReason.STALE_STEP);
        assertThat(DeadLetterReason.of("Chunk for run r step 5 tensor w: step already applied (the run's last step is 9)"))
                .isEqualTo(DeadLetterReason.STALE_STEP);
        assertThat(DeadLetterReason.of("Chunk for run r step 5 tensor w: no open snapshot of that step (its header is missing)"))
                .isEqualTo(DeadLetterReason.NO_OPEN_SNAPSHOT);
        assertThat(DeadLetterReason.of("Snapshot header for run r step 5: tensor layout differs from the run's (grid 4)"))
                .isEqualTo(DeadLetterReason.LAYOUT_MISMATCH);
        assertThat(DeadLetterReason.of("Chunk for run r step 5: tensor w offset 3 is not on the chunk grid of 4 elements"))
                .isEqualTo(DeadLetterReason.LAYOUT_MISMATCH);
        assertThat(DeadLetterReason.of("Chunk for run r step 5: tensor w at offset 0 holds NaN at element 2 (index 2 of the"
                + " chunk); not applied (averager.nonfinite=reject)")).isEqualTo(DeadLetterReason.NONFINITE);
        assertThat(DeadLetterReason.of("Commit for run r step 5: not averaged whole, a chunk was rejected: Chunk for run r"
                + " ... (averager.nonfinite=reject)")).isEqualTo(DeadLetterReason.INCOMPLETE_SNAPSHOT);
        assertThat(DeadLetterReason.of("Commit for run r step 5: 1 chunks received, commit says 2, header declared 2"))
                .isEqualTo(DeadLetterReason.INCOMPLETE_SNAPSHOT);
        assertThat(DeadLetterReason.of("Snapshot of run r step 5 is incomplete (1 of 2 chunks): its commit never arrived"))
                .isEqualTo(DeadLetterReason.INCOMPLETE_SNAPSHOT);
        assertThat(DeadLetterReason.INCOMPLETE_SNAPSHOT.tag()).isEqualTo("incomplete_snapshot");
    }
}
