package io.averager.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Per-run meters reach the instance's registry, and go away once their run is idle. */
class RunMetersTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final RunMeters meters = new RunMeters(registry);

    @Test
    void removesTheMetersOfIdleRunsOnlyAndBringsThemBack() {
        meters.snapshotApplied("idle-run", List.of("ema"), 5, "0_0");
        meters.chunkApplied("idle-run", "ema", 100);
        meters.checkpointPublished("idle-run", "ema", System.currentTimeMillis() - 250);
        long between = System.nanoTime();
        meters.snapshotApplied("busy-run", List.of("ema"), 7, "0_1");

        meters.removeIdle(between);

        assertThat(registry.find(RunMeters.LAST_STEP).tag("run", "idle-run").meters()).isEmpty();
        assertThat(registry.find(RunMeters.BYTES).tag("run", "idle-run").meters()).isEmpty();
        assertThat(registry.find(RunMeters.CHECKPOINT_LATENCY).tag("run", "idle-run").meters()).isEmpty();
        assertThat(registry.get(RunMeters.LAST_STEP).tag("run", "busy-run").gauge().value()).isEqualTo(7.0);

        meters.snapshotApplied("idle-run", List.of("ema"), 6, "0_0");
        assertThat(registry.get(RunMeters.LAST_STEP).tag("run", "idle-run").gauge().value()).isEqualTo(6.0);
        assertThat(registry.get(RunMeters.SNAPSHOTS).tag("run", "idle-run").counter().count()).isEqualTo(1.0);
    }

    @Test
    void removesTheMetersOfTheRunsOfAClosedTask() {
        meters.snapshotApplied("moved-run", List.of("ema"), 3, "0_5");
        meters.snapshotApplied("kept-run", List.of("ema"), 4, "0_6");

        meters.taskClosed("0_5");

        assertThat(registry.find(RunMeters.LAST_STEP).tag("run", "moved-run").meters()).isEmpty();
        assertThat(registry.find(RunMeters.SNAPSHOTS).tag("run", "moved-run").meters()).isEmpty();
        assertThat(registry.get(RunMeters.LAST_STEP).tag("run", "kept-run").gauge().value()).isEqualTo(4.0);
    }

    @Test
    void timesCheckpointsFromTheSnapshotCommit() {
        meters.checkpointPublished("timed-run", "ema", System.currentTimeMillis() - 1500);
        assertThat(registry.get(RunMeters.CHECKPOINT_LATENCY).tags("run", "timed-run", "profile", "ema").timer()
                .totalTime(java.util.concurrent.TimeUnit.MILLISECONDS)).isBetween(1500.0, 60_000.0);
    }
}
