package io.averager.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.wire.avro.RunProgress;
import org.junit.jupiter.api.Test;

/** What the service logs about a run's next checkpoint after its first snapshot. */
class CheckpointCadenceTest {

    /** A run whose first snapshot, step 7, is averaged. */
    private static final RunProgress FIRST = new RunProgress(7L, 7L, 1L, 7L, 70_000L, null, 0, -1L, -1L, null, null, -1L, false, -1L, -1L);

    @Test
    void namesTheStepTheNextCheckpointIsDueAt() {
        assertThat(new CheckpointCadence(1000, 0).describeNext(FIRST))
                .isEqualTo("at its first snapshot of step 1000 or above (every 1000 steps), or at its end of run or a"
                        + " snapshot that asks for one");
        assertThat(new CheckpointCadence(5, 0).describeNext(FIRST)).startsWith("at its first snapshot of step 10 or above");
    }

    @Test
    void namesTheTimeCadenceAndSaysWhenThereIsNone() {
        assertThat(new CheckpointCadence(0, 600_000).describeNext(FIRST))
                .startsWith("once PT10M of snapshot time has passed since step 7, or at its end of run");
        assertThat(new CheckpointCadence(0, 0).describeNext(FIRST))
                .isEqualTo("only at its end of run or a snapshot that asks for one");
    }
}
