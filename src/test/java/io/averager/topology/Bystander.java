package io.averager.topology;

import static io.averager.topology.TensorData.emaF32;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.wire.avro.CheckpointCommit;

/**
 * A well-behaved run that shares the topology with a misbehaving one: whatever the other run
 * sends, this run's EMA must not move, and its next snapshot must still be applied and
 * checkpointed.
 */
final class Bystander {

    static final String RUN = "bystander";
    static final String PROFILE = "ema";
    static final double DECAY = 0.9;

    private static final float[] FIRST = {1, 2, 3};
    private static final float[] NEXT = {4, -5, 0.5f};

    private final AveragerDriver driver;
    private final byte[] before;

    /** Publishes the bystander's first snapshot (step 10) and remembers its EMA entry. */
    Bystander(AveragerDriver driver) {
        this.driver = driver;
        driver.publish(TestSnapshot.of(RUN, 10).f32("w", FIRST));
        this.before = driver.entryBytes(RUN, PROFILE, "w", 0);
        assertThat(before).isNotNull();
        assertThat(driver.deadLetters()).isEmpty();
        driver.checkpoints();
    }

    /**
     * Checks that the bystander's EMA is as its first snapshot left it, then that its next
     * snapshot is applied and checkpointed. Reads (and so drains) the checkpoint and dead-letter
     * topics: check the other run's records first.
     */
    void assertUntouchedAndStillServed() {
        assertThat(driver.entryBytes(RUN, PROFILE, "w", 0)).as("bystander's EMA entry").isEqualTo(before);
        driver.checkpoints();
        driver.deadLetters();

        driver.publish(TestSnapshot.of(RUN, 20).endOfRun().f32("w", NEXT));

        assertThat(driver.deadLetters()).as("dead letters of the bystander's next snapshot").isEmpty();
        assertThat(driver.checkpointCommits()).containsExactly(new CheckpointCommit(RUN, PROFILE, 20L, 1, null));
        assertThat(driver.emaF32(RUN, PROFILE, "w", 0)).containsExactly(emaF32(DECAY, FIRST, NEXT));
    }
}
