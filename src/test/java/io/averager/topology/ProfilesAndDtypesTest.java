package io.averager.topology;

import static io.averager.topology.AveragerDriver.profile;
import static io.averager.topology.EmaUpdateTest.assertChunk;
import static io.averager.topology.TensorData.emaF32;
import static io.averager.topology.TensorData.emaF64;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.ema.Profile;
import io.averager.wire.avro.CheckpointChunk;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.CheckpointHeader;
import io.averager.wire.avro.Dtype;
import io.averager.wire.avro.TensorInfo;
import java.nio.file.Path;
import java.util.List;
import org.apache.avro.specific.SpecificRecordBase;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProfilesAndDtypesTest {

    @TempDir
    Path stateDir;

    private AveragerDriver driver;

    @AfterEach
    void stop() {
        if (driver != null) {
            driver.close();
        }
    }

    @Test
    void everyProfileIsUpdatedAndCheckpointed() {
        Profile perSnapshot = profile("fast", 0.5);
        Profile perStep = Profile.builder("slow").decay(0.99).unit(Profile.Unit.STEP).build();
        driver = new AveragerDriver(stateDir, 20, 0, perSnapshot, perStep);
        float[] x10 = {1, 2, 3};
        float[] x20 = {5, -7, 0.125f};

        driver.publish(TestSnapshot.of("run-a", 10).f32("w", x10));
        driver.publish(TestSnapshot.of("run-a", 20).f32("w", x20));

        float[] fast = emaF32(0.5, x10, x20);
        float[] slow = emaF32(Math.pow(0.99, 20 - 10), x10, x20);
        assertThat(driver.emaF32("run-a", "fast", "w", 0)).containsExactly(fast);
        assertThat(driver.emaF32("run-a", "slow", "w", 0)).containsExactly(slow);

        List<SpecificRecordBase> out = driver.checkpoints();
        assertThat(out).extracting(r -> r.getClass().getSimpleName() + ":" + r.get("profile")).containsExactly(
                "CheckpointHeader:fast", "CheckpointHeader:slow",
                "CheckpointChunk:fast", "CheckpointChunk:slow",
                "CheckpointCommit:fast", "CheckpointCommit:slow");
        assertThat(((CheckpointHeader) out.get(1)).getMetadata())
                .containsEntry("ema.decay", "0.99")
                .containsEntry("ema.unit", "step");
        assertChunk(out.get(2), "w", 0, fast);
        assertChunk(out.get(3), "w", 0, slow);
        assertThat(out.subList(4, 6)).containsExactly(
                new CheckpointCommit("run-a", "fast", 20L, 1, null),
                new CheckpointCommit("run-a", "slow", 20L, 1, null));
    }

    @Test
    void bf16WeightsAreAveragedInF32() {
        driver = new AveragerDriver(stateDir, 0, 0, profile("ema", 0.99));
        float[] x10 = {1, 2.5f, -3};
        // 1 + 2^-7 moves a unit EMA by 7.8e-5 at decay 0.99: lost in bfloat16, kept in float32.
        float[] x20 = {1.0078125f, 0, 100};

        driver.publish(TestSnapshot.of("run-a", 10).tensor("w", Dtype.BF16, new long[] {3}, TensorData.bf16(x10)));
        driver.publish(TestSnapshot.of("run-a", 20).endOfRun()
                .tensor("w", Dtype.BF16, new long[] {3}, TensorData.bf16(x20)));

        float[] expected = emaF32(0.99, x10, x20);
        assertThat(expected[0]).isNotEqualTo(1.0f);
        assertThat(driver.emaF32("run-a", "ema", "w", 0)).containsExactly(expected);
        List<SpecificRecordBase> out = driver.checkpoints();
        assertThat(((CheckpointHeader) out.get(0)).getTensors())
                .containsExactly(new TensorInfo("w", Dtype.F32, List.of(3L)));
        assertChunk(out.get(1), "w", 0, expected);
    }

    @Test
    void f64WeightsAreAveragedInF64() {
        driver = new AveragerDriver(stateDir, 0, 0, profile("ema", 0.9));
        double[] x10 = {0.1, 1.0 / 3, -2e300};
        double[] x20 = {0.7, Math.PI, 1e-300};

        driver.publish(TestSnapshot.of("run-a", 10).tensor("w", Dtype.F64, new long[] {3}, TensorData.f64(x10)));
        driver.publish(TestSnapshot.of("run-a", 20).endOfRun()
                .tensor("w", Dtype.F64, new long[] {3}, TensorData.f64(x20)));

        double[] expected = emaF64(0.9, x10, x20);
        assertThat(TensorData.readF64(driver.entry("run-a", "ema", "w", 0).data())).containsExactly(expected);
        List<SpecificRecordBase> out = driver.checkpoints();
        assertThat(((CheckpointHeader) out.get(0)).getTensors())
                .containsExactly(new TensorInfo("w", Dtype.F64, List.of(3L)));
        CheckpointChunk chunk = (CheckpointChunk) out.get(1);
        assertThat(TensorData.readF64(chunk.getData())).containsExactly(expected);
        assertThat(expected[1]).as("more precision than float32 holds").isNotEqualTo((double) (float) expected[1]);
    }

    @Test
    void integerTensorIsCopiedNotAveraged() {
        driver = new AveragerDriver(stateDir, 0, 0, profile("ema", 0.9));

        driver.publish(TestSnapshot.of("run-a", 10).f32("w", 1, 1)
                .tensor("num_batches_tracked", Dtype.I64, new long[] {}, TensorData.i64(7)));
        driver.publish(TestSnapshot.of("run-a", 20).endOfRun().f32("w", 3, 3)
                .tensor("num_batches_tracked", Dtype.I64, new long[] {}, TensorData.i64(1L << 40)));

        assertThat(TensorData.readI64(driver.entry("run-a", "ema", "num_batches_tracked", 0).data()))
                .containsExactly(1L << 40);
        List<SpecificRecordBase> out = driver.checkpoints();
        assertThat(((CheckpointHeader) out.get(0)).getTensors()).containsExactly(
                new TensorInfo("w", Dtype.F32, List.of(2L)), new TensorInfo("num_batches_tracked", Dtype.I64, List.of()));
        CheckpointChunk counter = (CheckpointChunk) out.get(2);
        assertThat(counter.getTensor()).isEqualTo("num_batches_tracked");
        assertThat(TensorData.readI64(counter.getData())).containsExactly(1L << 40);
        assertChunk(out.get(1), "w", 0, emaF32(0.9, new float[] {1, 1}, new float[] {3, 3}));
    }

    @Test
    void tensorsTheHeaderNamesAreCopiedUntilAHeaderNoLongerNamesThem() {
        driver = new AveragerDriver(stateDir, 0, 0, profile("ema", 0.9));

        driver.publish(TestSnapshot.of("run-a", 10).f32("w", 1, 1).f32("bn.running_mean", 1, 1).copy("bn.running_mean"));
        driver.publish(TestSnapshot.of("run-a", 20).f32("w", 3, 3).f32("bn.running_mean", 3, -3).copy("bn.running_mean"));

        float[] w = emaF32(0.9, new float[] {1, 1}, new float[] {3, 3});
        assertThat(driver.emaF32("run-a", "ema", "w", 0)).containsExactly(w);
        assertThat(driver.emaF32("run-a", "ema", "bn.running_mean", 0)).containsExactly(3, -3);

        driver.publish(TestSnapshot.of("run-a", 30).endOfRun().f32("w", 5, 5).f32("bn.running_mean", 5, 5));

        assertThat(driver.emaF32("run-a", "ema", "bn.running_mean", 0))
                .as("averaged again from the copy").containsExactly(emaF32(0.9, new float[] {3, -3}, new float[] {5, 5}));
        assertThat(driver.deadLetters()).isEmpty();
    }

    @Test
    void aProfileCopiesTheTensorsItsExpressionFinds() {
        Profile copying = Profile.builder("bn").decay(0.9).copy("running_(mean|var)$").build();
        driver = new AveragerDriver(stateDir, 0, 0, copying, profile("plain", 0.9));

        driver.publish(TestSnapshot.of("run-a", 10).f32("layer.running_var", 1).f32("layer.running_var.w", 1));
        driver.publish(TestSnapshot.of("run-a", 20).endOfRun().f32("layer.running_var", 3).f32("layer.running_var.w", 3));

        float[] averaged = emaF32(0.9, new float[] {1}, new float[] {3});
        assertThat(driver.emaF32("run-a", "bn", "layer.running_var", 0)).containsExactly(3);
        assertThat(driver.emaF32("run-a", "bn", "layer.running_var.w", 0)).containsExactly(averaged);
        assertThat(driver.emaF32("run-a", "plain", "layer.running_var", 0)).containsExactly(averaged);
        assertThat(((CheckpointHeader) driver.checkpoints().get(0)).getMetadata())
                .containsEntry("ema.copy", "running_(mean|var)$");
    }

    @Test
    void aHeaderThatCopiesATensorItDoesNotHoldIsDeadLettered() {
        driver = new AveragerDriver(stateDir, 0, 0, profile("ema", 0.9));

        driver.publish(TestSnapshot.of("run-a", 10).f32("w", 1).copy("bn.running_mean"));

        assertThat(driver.deadLetters()).first().satisfies(d -> assertThat(d.reason())
                .contains("run run-a step 10", "copy names tensor bn.running_mean, which the snapshot does not hold"));
        assertThat(driver.checkpoints()).isEmpty();
    }
}
