package io.averager.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.ema.Profile;
import io.averager.store.DistanceHistory;
import io.averager.wire.avro.CheckpointChunk;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.CheckpointHeader;
import io.averager.wire.avro.RewindRequest;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.avro.specific.SpecificRecordBase;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A trainer preempted and resumed from its own checkpoint: the run is rewound to a step it
 * checkpointed, and the steps after it are published again with other weights. Every profile's
 * checkpoints after the rewind, and the distance history, must equal bitwise those of a run that
 * never saw the abandoned steps; a rewind the run cannot take changes nothing.
 */
class RewindTest {

    private static final Profile EMA = Profile.builder("ema").decay(0.9).warmup(Profile.Warmup.POWER)
            .warmupGamma(1).warmupPower(0.75).build();
    private static final Profile SLOW = Profile.builder("slow").halfLifeSteps(20).unit(Profile.Unit.STEP).build();
    private static final Profile POWER = Profile.builder("power").powerSigmaRel(0.2).build();

    @TempDir
    Path stateDir;

    private AveragerDriver driver;

    @AfterEach
    void stop() {
        driver.close();
    }

    @Test
    void aRunRewoundToACheckpointedStepEndsBitwiseAsARunThatNeverSawTheAbandonedSteps() {
        driver = new AveragerDriver(stateDir, 30, 0, EMA, SLOW, POWER);
        // The trainer saves its own checkpoint at 24 and asks for the EMA's; it dies after 36.
        for (long step = 3; step <= 36; step += 3) {
            driver.publish(snapshot("live", step, 0, step == 24));
        }
        driver.send(new RewindRequest("live", 24L, "resume-1"));
        for (long step = 27; step <= 48; step += 3) {
            driver.publish(last(snapshot("live", step, 1, false), step == 48));
        }
        Map<String, String> live = checkpoints(driver.checkpoints(), 24);

        for (long step = 3; step <= 24; step += 3) {
            driver.publish(snapshot("reference", step, 0, step == 24));
        }
        for (long step = 27; step <= 48; step += 3) {
            driver.publish(last(snapshot("reference", step, 1, false), step == 48));
        }
        Map<String, String> reference = checkpoints(driver.checkpoints(), 24);

        assertThat(reference).as("the reference's checkpoints after step 24").containsKeys("30/ema/w@0", "48/power/b@0");
        assertThat(live).as("checkpoints after the rewind, bitwise").isEqualTo(reference);
        assertThat(driver.deadLetters()).as("dead letters").isEmpty();
        assertThat(driver.rewindAnswers()).singleElement().satisfies(a -> {
            assertThat(a.getRequestId()).isEqualTo("resume-1");
            assertThat(a.getRewound()).isTrue();
            assertThat(a.getRewinds()).isEqualTo(1);
            assertThat(a.getMessage()).isEqualTo("Run live rewound to step 24 (request resume-1); its rewinds so far: 1");
        });
        assertThat(points(driver.distances("live"))).as("distance history").isEqualTo(points(driver.distances("reference")));
    }

    @Test
    void aRunCanBeRewoundAgainAndToARestorePointOfItsNewBranch() {
        driver = new AveragerDriver(stateDir, 0, 0, EMA, SLOW, POWER);
        for (long step = 1; step <= 9; step++) {
            driver.publish(snapshot("live", step, 0, step == 4));
        }
        driver.send(new RewindRequest("live", 4L, "first"));
        for (long step = 5; step <= 8; step++) {
            driver.publish(snapshot("live", step, 1, step == 7));
        }
        driver.send(new RewindRequest("live", 4L, "second"));
        for (long step = 5; step <= 9; step++) {
            driver.publish(snapshot("live", step, 2, step == 7));
        }
        driver.send(new RewindRequest("live", 7L, "third"));
        for (long step = 8; step <= 12; step++) {
            driver.publish(snapshot("live", step, 3, step == 12));
        }
        Map<String, String> live = checkpoints(driver.checkpoints(), 11);

        for (long step = 1; step <= 12; step++) {
            int branch = step <= 4 ? 0 : step <= 7 ? 2 : 3;
            driver.publish(snapshot("reference", step, branch, step == 4 || step == 7 || step == 12));
        }
        Map<String, String> reference = checkpoints(driver.checkpoints(), 11);

        assertThat(reference).containsKey("12/slow/w@4");
        assertThat(live).isEqualTo(reference);
        assertThat(driver.deadLetters()).isEmpty();
    }

    @Test
    void aRewindToAStepWithoutARestorePointIsRefusedNamingTheNearestAndChangesNothing() {
        driver = new AveragerDriver(stateDir, 0, 0, EMA, SLOW, POWER);
        for (long step = 3; step <= 30; step += 3) {
            driver.publish(snapshot("live", step, 0, step == 12 || step == 24));
            driver.publish(snapshot("reference", step, 0, step == 12 || step == 24));
        }
        driver.send(new RewindRequest("live", 9L, "resume-1"));
        driver.send(new RewindRequest("live", 33L, "ahead"));
        driver.publish(snapshot("live", 33, 0, true));
        driver.publish(snapshot("reference", 33, 0, true));

        List<AveragerDriver.DeadLetterRecord> refused = driver.deadLetters();
        assertThat(refused).hasSize(2);
        assertThat(refusals()).isEqualTo(2);
        assertThat(driver.rewindAnswers()).as("the answers say what the dead letters say").satisfiesExactly(
                a -> assertThat(a.getRewound()).isFalse(), a -> assertThat(a.getRewound()).isFalse())
                .extracting(io.averager.wire.avro.RewindAnswer::getMessage)
                .containsExactly(message(refused.get(0)), message(refused.get(1)));
        assertThat(message(refused.get(0))).contains("Rewind of run live to step 9 (request resume-1)",
                "no restore point at or below that step can rebuild it",
                "no step below it can be restored; the nearest above it is 12", "restore points: 12, 24; last step: 30");
        assertThat(message(refused.get(1))).contains("step 33", "the run's last step is 30",
                "the nearest step below it the run can be rewound to is 30");
        Map<String, String> live = new LinkedHashMap<>();
        Map<String, String> reference = new LinkedHashMap<>();
        checkpoints(driver.checkpoints(), 0).forEach((k, v) ->
                (k.startsWith("live ") ? live : reference).put(k.substring(k.indexOf(' ') + 1), v));
        assertThat(live).as("checkpoints").hasSize(3 * 5 * 3 + 3).isEqualTo(reference);
        for (String profile : List.of("ema", "slow", "power")) {
            for (long offset : new long[] {0, 4, 8}) {
                assertThat(driver.emaF32("live", profile, "w", offset)).as("%s w@%d", profile, offset)
                        .isEqualTo(driver.emaF32("reference", profile, "w", offset));
            }
        }
    }

    @Test
    void onlyTheLatestRestorePointsAreKept() {
        driver = new AveragerDriver(stateDir, 0, 0, EMA);
        for (long step = 1; step <= 4; step++) {
            driver.publish(snapshot("live", step, 0, true));
        }
        driver.send(new RewindRequest("live", 2L, "too-old"));
        driver.send(new RewindRequest("live", 3L, "kept"));

        List<AveragerDriver.DeadLetterRecord> refused = driver.deadLetters();
        assertThat(refused).hasSize(1);
        assertThat(refusals()).isEqualTo(1);
        assertThat(message(refused.get(0))).contains("step 2", "no restore point at or below that step",
                "no step below it can be restored; the nearest above it is 3", "restore points: 3, 4");
    }

    @Test
    void aRewindToTheLastStepClosesTheSnapshotTheDeadTrainerLeftOpen() {
        driver = new AveragerDriver(stateDir, 0, 0, EMA, SLOW, POWER);
        for (long step = 1; step <= 5; step++) {
            driver.publish(snapshot("live", step, 0, step == 5));
            driver.publish(snapshot("reference", step, 0, step == 5));
        }
        // Its header only: nothing of it applied, the run is still at step 5.
        driver.send(snapshot("live", 6, 0, false).header());
        driver.send(new RewindRequest("live", 5L, "resume-1"));
        // Half of it: some entries hold step 6, so only the restore point of step 5 brings the run back.
        snapshot("live", 6, 1, false).records().subList(0, 3).forEach(driver::send);
        driver.send(new RewindRequest("live", 5L, "resume-2"));
        driver.publish(snapshot("live", 6, 2, true));
        driver.publish(snapshot("reference", 6, 2, true));

        assertThat(driver.deadLetters()).extracting(AveragerDriver.DeadLetterRecord::reason).satisfiesExactly(
                r -> assertThat(r).contains("Snapshot of run live step 6 is incomplete (0 of 4 chunks)",
                        "the run was rewound to its last step 5"),
                r -> assertThat(r).contains("Snapshot of run live step 6 is incomplete (2 of 4 chunks)",
                        "the run was rewound to step 5"));
        Map<String, String> checkpoints = checkpoints(driver.checkpoints(), 0);
        Map<String, String> live = new LinkedHashMap<>();
        Map<String, String> reference = new LinkedHashMap<>();
        checkpoints.forEach((k, v) -> (k.startsWith("live ") ? live : reference).put(k.substring(k.indexOf(' ') + 1), v));
        assertThat(live).isNotEmpty().isEqualTo(reference);
    }

    /**
     * The trainer resumes from its own checkpoint at 27, which the EMA did not checkpoint: the
     * service asks its rebuilder for the history after the restore point at 24, and what the
     * rebuilder publishes again (here by hand, as it does: the same records, with the header)
     * brings the run to 27. Until the rebuild ends the run takes nothing else.
     */
    @Test
    void aRewindBetweenCheckpointsIsRebuiltFromTheRestorePointBelowAndEndsBitwiseAsAnUninterruptedRun() {
        driver = new AveragerDriver(stateDir, 30, 0, EMA, SLOW, POWER);
        for (long step = 3; step <= 36; step += 3) {
            driver.publish(snapshot("live", step, 0, step == 24));
        }
        driver.runEvents();
        driver.send(new RewindRequest("live", 27L, "resume-1"));

        assertThat(driver.runEvents()).as("the rebuild asked for").singleElement().satisfies(e -> {
            io.averager.wire.avro.RebuildRequest r = (io.averager.wire.avro.RebuildRequest) e;
            assertThat(r.getRequestId()).isEqualTo("resume-1");
            assertThat(r.getFromStep()).isEqualTo(24);
            assertThat(r.getToStep()).isEqualTo(27);
            assertThat(r.getStartOffset()).as("the commit of step 24").isEqualTo(8 * 6 - 1);
            assertThat(r.getEndOffset()).as("the request").isEqualTo(12 * 6);
        });
        driver.publish(snapshot("live", 30, 1, false)); // too early: the rewind is not answered yet
        assertThat(driver.deadLetters()).extracting(AveragerDriver.DeadLetterRecord::reason).hasSize(6)
                .allSatisfy(r -> assertThat(r).contains("the run is being rewound to step 27 (request resume-1),"
                        + " rebuilt from its restore point at step 24; publish once the rewind is answered"));
        driver.send(new io.averager.wire.avro.RebuildMark("live", "resume-1", io.averager.wire.avro.RebuildPhase.BEGIN,
                24L, 27L, ""));
        driver.publishAgain(snapshot("live", 27, 0, false), "resume-1");
        driver.send(new io.averager.wire.avro.RebuildMark("live", "resume-1", io.averager.wire.avro.RebuildPhase.END,
                24L, 27L, ""));
        for (long step = 30; step <= 48; step += 3) {
            driver.publish(last(snapshot("live", step, 1, false), step == 48));
        }
        Map<String, String> live = checkpoints(driver.checkpoints(), 27);

        for (long step = 3; step <= 27; step += 3) {
            driver.publish(snapshot("reference", step, 0, step == 24));
        }
        for (long step = 30; step <= 48; step += 3) {
            driver.publish(last(snapshot("reference", step, 1, false), step == 48));
        }
        Map<String, String> reference = checkpoints(driver.checkpoints(), 27);

        assertThat(reference).containsKeys("30/ema/w@0", "48/power/b@0");
        assertThat(live).as("checkpoints after the rewind, bitwise").isEqualTo(reference);
        assertThat(driver.deadLetters()).isEmpty();
        assertThat(driver.rewindAnswers()).singleElement().satisfies(a -> {
            assertThat(a.getRewound()).isTrue();
            assertThat(a.getRewinds()).isEqualTo(1);
            assertThat(a.getMessage()).isEqualTo("Run live rewound to step 27, rebuilt from its restore point at step 24"
                    + " and the snapshots after it (request resume-1); its rewinds so far: 1");
        });
        assertThat(points(driver.distances("live"))).isEqualTo(points(driver.distances("reference")));
    }

    /** The rebuilder found the history gone: the rewind is refused naming the restore point, and nothing changed. */
    @Test
    void aRebuildWhoseHistoryIsGoneIsRefusedAndTheRunGoesOnAsIfNeverAsked() {
        driver = new AveragerDriver(stateDir, 0, 0, EMA, SLOW, POWER);
        for (long step = 3; step <= 36; step += 3) {
            driver.publish(snapshot("live", step, 0, step == 24));
            driver.publish(snapshot("reference", step, 0, step == 24));
        }
        driver.send(new RewindRequest("live", 30L, "resume-1"));
        driver.send(new io.averager.wire.avro.RebuildMark("live", "resume-1", io.averager.wire.avro.RebuildPhase.ABORT,
                24L, 30L, "the snapshots after step 24 are no longer retained"));
        driver.send(new io.averager.wire.avro.RebuildMark("live", "resume-1", io.averager.wire.avro.RebuildPhase.END,
                24L, 30L, ""));
        for (long step = 39; step <= 45; step += 3) {
            driver.publish(last(snapshot("live", step, 0, false), step == 45));
            driver.publish(last(snapshot("reference", step, 0, false), step == 45));
        }

        assertThat(driver.rewindAnswers()).singleElement().satisfies(a -> {
            assertThat(a.getRewound()).isFalse();
            assertThat(a.getMessage()).isEqualTo("Rewind of run live to step 30 (request resume-1): the snapshots after"
                    + " step 24 are no longer retained; the nearest step below it the run can be rewound to is 24"
                    + " (restore points: 24; last step: 36)");
        });
        assertThat(driver.deadLetters()).extracting(AveragerDriver.DeadLetterRecord::reason).satisfiesExactly(
                r -> assertThat(r).startsWith("Rewind of run live to step 30 (request resume-1): the snapshots after"),
                r -> assertThat(r).contains("Rebuild END of run live (request resume-1): no rebuild is in progress"));
        Map<String, String> live = new LinkedHashMap<>();
        Map<String, String> reference = new LinkedHashMap<>();
        checkpoints(driver.checkpoints(), 0).forEach((k, v) ->
                (k.startsWith("live ") ? live : reference).put(k.substring(k.indexOf(' ') + 1), v));
        assertThat(live).containsKey("45/power/w@8").isEqualTo(reference);
    }

    private static TestSnapshot last(TestSnapshot snapshot, boolean endOfRun) {
        return endOfRun ? snapshot.endOfRun() : snapshot;
    }

    /** Two tensors on a grid of 4: w of 10 elements (3 chunks), b of 3; weights drawn from the step and branch. */
    static TestSnapshot snapshot(String run, long step, int branch, boolean checkpoint) {
        Random random = new Random(step * 1000 + branch);
        float[] w = new float[10];
        float[] b = new float[3];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) random.nextGaussian();
        }
        TestSnapshot s = TestSnapshot.of(run, step).grid(4).f32("w", w).f32("b", b).at(1_000_000L + step * 100);
        return checkpoint ? s.checkpoint() : s;
    }

    /**
     * The checkpoint records after {@code afterStep}: "step/profile/tensor@offset" to the data's
     * hex, and "step/profile/header" to the file's metadata but the run's name; keys prefixed with the run when
     * runs are mixed in {@code afterStep} 0.
     */
    private static Map<String, String> checkpoints(List<SpecificRecordBase> records, long afterStep) {
        Map<String, String> out = new LinkedHashMap<>();
        for (SpecificRecordBase r : records) {
            String run = AveragerDriver.runOf(r);
            String prefix = afterStep == 0 ? run + " " : "";
            if (r instanceof CheckpointHeader h && h.getStep() > afterStep) {
                Map<String, String> metadata = new java.util.TreeMap<>(h.getMetadata());
                metadata.remove("run");
                out.put(prefix + h.getStep() + "/" + h.getProfile() + "/header", metadata.toString());
            } else if (r instanceof CheckpointChunk c && c.getStep() > afterStep) {
                out.put(prefix + c.getStep() + "/" + c.getProfile() + "/" + c.getTensor() + "@" + c.getOffset(), hex(c.getData()));
            } else if (r instanceof CheckpointCommit c && c.getStep() > afterStep) {
                out.put(prefix + c.getStep() + "/commit", String.valueOf(c.getAbortReason()));
            }
        }
        return out;
    }

    static String hex(ByteBuffer data) {
        byte[] bytes = new byte[data.remaining()];
        data.duplicate().get(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    private static List<String> points(DistanceHistory history) {
        List<String> points = new ArrayList<>();
        for (DistanceHistory.Point p : history.points()) {
            points.add(p.step() + " " + p.time() + " " + p.checkpoint() + " " + java.util.Arrays.toString(p.relative()));
        }
        return points;
    }

    private static String message(AveragerDriver.DeadLetterRecord r) {
        return r.reason();
    }

    private double refusals() {
        var counter = driver.meters().find(io.averager.metrics.RunMeters.DEAD_LETTERS).tag("reason", "rewind_refused").counter();
        return counter == null ? 0 : counter.count();
    }
}
