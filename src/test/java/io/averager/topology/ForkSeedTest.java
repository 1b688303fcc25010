package io.averager.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.ema.Profile;
import io.averager.wire.avro.CheckpointChunk;
import io.averager.wire.avro.Dtype;
import io.averager.wire.avro.ForkAnswer;
import io.averager.wire.avro.ForkRequest;
import io.averager.wire.avro.RebuildPhase;
import io.averager.wire.avro.SeedChunk;
import io.averager.wire.avro.SeedMark;
import io.averager.wire.avro.SeedRequest;
import io.averager.wire.avro.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecordBase;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fork, with the rebuilder's seed records piped by hand as it writes them (the parent's EMA
 * entries at the step, here read from the parent's own state): the new run's checkpoints after
 * its own snapshots equal bitwise those of a run that averaged the parent's snapshots and then
 * the same ones; what does not fit is refused.
 */
class ForkSeedTest {

    private static final Profile EMA = Profile.builder("ema").decay(0.9).warmup(Profile.Warmup.POWER).build();
    private static final Profile SLOW = Profile.builder("slow").halfLifeSteps(20).unit(Profile.Unit.STEP).build();
    private static final List<TensorInfo> EMA_TENSORS = List.of(new TensorInfo("w", Dtype.F32, List.of(10L)),
            new TensorInfo("b", Dtype.F32, List.of(3L)));

    @TempDir
    Path stateDir;

    private AveragerDriver driver;

    @AfterEach
    void stop() {
        driver.close();
    }

    @Test
    void aForkedRunGoesOnFromItsSeedAsTheParentsTwinDoes() {
        driver = new AveragerDriver(stateDir, 0, 0, EMA, SLOW);
        for (long step = 3; step <= 12; step += 3) {
            driver.publish(snapshot("parent", step, 0));
            driver.publish(snapshot("twin", step, 0));
        }
        driver.send(new ForkRequest("child", "parent", 12L, 4L, "f-1"));
        assertThat(driver.runEvents()).singleElement().isEqualTo(new SeedRequest("child", "f-1", "parent", 12L, 4L, 0));
        driver.send(new SeedMark("child", "f-1", RebuildPhase.BEGIN, "parent", 12L, 4L, EMA_TENSORS, 4L, ""));
        driver.publish(snapshot("child", 15, 1)); // too early: the fork is not answered yet
        assertThat(driver.deadLetters()).as("header, 4 chunks, commit").hasSize(6).allSatisfy(r -> assertThat(r.reason())
                .contains("the run is being forked from run parent at step 12 (request f-1)"));
        for (String profile : List.of("ema", "slow")) {
            for (long[] t : new long[][] {{0, 10}, {1, 3}}) {
                String tensor = t[0] == 0 ? "w" : "b";
                for (long offset = 0; offset < t[1]; offset += 4) {
                    ByteBuffer data = driver.entry("parent", profile, tensor, offset).data();
                    driver.send(new SeedChunk("child", "f-1", profile, tensor, offset, data));
                }
            }
        }
        driver.send(new SeedMark("child", "f-1", RebuildPhase.END, "parent", 12L, 4L, List.of(), 4L, ""));
        assertThat(driver.runEvents()).singleElement().isEqualTo(new ForkAnswer("child", "f-1", "parent", 12L, true,
                "Run child forked from run parent at step 12 (request f-1): every profile's EMA is the parent's there,"
                        + " 4 snapshots averaged"));
        for (long step = 15; step <= 21; step += 3) {
            driver.publish(snapshot("child", step, 1).checkpoint());
            driver.publish(snapshot("twin", step, 1).checkpoint());
        }

        Map<String, String> child = new LinkedHashMap<>();
        Map<String, String> twin = new LinkedHashMap<>();
        for (SpecificRecordBase r : driver.checkpoints()) {
            if (r instanceof CheckpointChunk c) {
                (c.getRun().equals("child") ? child : twin).put(c.getStep() + "/" + c.getProfile() + "/" + c.getTensor()
                        + "@" + c.getOffset(), hex(c.getData()));
            }
        }
        assertThat(child).hasSize(3 * 2 * 4).isEqualTo(twin);
        assertThat(driver.deadLetters()).isEmpty();
    }

    @Test
    void forksThatDoNotFitAreRefusedAndChangeNothing() {
        driver = new AveragerDriver(stateDir, 0, 0, EMA);
        driver.publish(snapshot("exists", 3, 0));
        driver.send(new ForkRequest("exists", "parent", 12L, 4L, "f-1"));
        assertThat(driver.runEvents()).singleElement().satisfies(e -> {
            assertThat(((ForkAnswer) e).getForked()).isFalse();
            assertThat(((ForkAnswer) e).getMessage()).endsWith("run exists has snapshots already; a fork starts a new run");
        });
        driver.send(new SeedMark("gone", "f-2", RebuildPhase.ABORT, "parent", 11L, 0L, List.of(), 4L,
                "Run parent profile ema has no live checkpoint at step 11; live steps: 12"));
        assertThat(driver.runEvents()).singleElement().satisfies(e -> assertThat(((ForkAnswer) e).getMessage())
                .isEqualTo("Fork of run gone from run parent at step 11 (request f-2): Run parent profile ema has no live"
                        + " checkpoint at step 11; live steps: 12"));
        // Seeded with tensors the new run's snapshots do not have: its first header is refused.
        driver.deadLetters();
        driver.send(new SeedMark("odd", "f-3", RebuildPhase.BEGIN, "parent", 12L, 4L,
                List.of(new TensorInfo("w", Dtype.F32, List.of(12L)), new TensorInfo("b", Dtype.F32, List.of(3L))), 4L, ""));
        driver.send(new SeedMark("odd", "f-3", RebuildPhase.END, "parent", 12L, 4L, List.of(), 4L, ""));
        driver.send(snapshot("odd", 15, 0).header());
        assertThat(driver.deadLetters()).singleElement().satisfies(r -> assertThat(r.reason()).contains(
                "the run was forked from run parent at step 12, whose EMA holds tensor w as F32[12], which F32[10]"
                        + " does not average into"));
    }

    private static TestSnapshot snapshot(String run, long step, int branch) {
        return RewindTest.snapshot(run, step, branch, false);
    }

    private static String hex(ByteBuffer data) {
        return RewindTest.hex(data);
    }
}
