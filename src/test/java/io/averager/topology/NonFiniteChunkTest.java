package io.averager.topology;

import io.averager.lifecycle.NonFinitePolicy;
import static io.averager.topology.AveragerDriver.profile;
import static io.averager.topology.TensorData.emaF32;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.topology.AveragerDriver.DeadLetterRecord;
import io.averager.wire.avro.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Chunks holding NaN or infinities under both settings of {@code averager.nonfinite}: rejected
 * (the default) they are dead-lettered with the first bad element, are not applied, and their
 * snapshot's commit aborts its checkpoint; allowed they are applied as they are.
 */
class NonFiniteChunkTest {

    private static final String RUN = "bad";
    private static final float[] W = {1, 2, 3, 4, 5, 6};

    @TempDir
    Path stateDir;

    private AveragerDriver driver;

    @AfterEach
    void stop() {
        driver.close();
    }

    @Test
    void rejectsAChunkHoldingNaNAndAbortsTheCheckpointOfItsSnapshot() {
        driver = new AveragerDriver(stateDir, 0, 0, profile(Bystander.PROFILE, Bystander.DECAY));
        Bystander bystander = new Bystander(driver);
        driver.publish(TestSnapshot.of(RUN, 7).endOfRun().f32("w", 1, 2, 3, 4, 5, Float.NaN));

        List<DeadLetterRecord> dead = driver.deadLetters();
        assertThat(dead).extracting(DeadLetterRecord::reason).satisfiesExactly(
                r -> assertThat(r).contains("Chunk for run bad step 7: tensor w at offset 4 holds NaN at element 5",
                        "(index 1 of the chunk)", "not applied", "averager.nonfinite=reject"),
                r -> assertThat(r).contains("Commit for run bad step 7", "not averaged whole",
                        "tensor w at offset 4 holds NaN"));
        assertThat(dead.get(0).value()).as("the chunk as it arrived").isNotNull();
        assertThat(driver.checkpointCommits()).singleElement().satisfies(c -> {
            assertThat(c.getStep()).isEqualTo(7);
            assertThat(c.getAbortReason()).contains("holds NaN at element 5");
        });
        assertThat(driver.entry(RUN, "ema", "w", 4)).as("the rejected chunk's entry").isNull();
        assertThat(driver.emaF32(RUN, "ema", "w", 0)).as("the snapshot's other chunk").containsExactly(1, 2, 3, 4);
        bystander.assertUntouchedAndStillServed();
    }

    static Stream<Arguments> nonFiniteElements() {
        return Stream.of(
                Arguments.of(Dtype.F32, le(4, 0x3F80_0000, 0x7F80_0000), "+Inf"),
                Arguments.of(Dtype.F16, le(2, 0x3C00, 0xFC00), "-Inf"),
                Arguments.of(Dtype.BF16, le(2, 0x3F80, 0x7FC1), "NaN"),
                Arguments.of(Dtype.F64, le(8, Double.doubleToRawLongBits(1.0), 0x7FF8_0000_0000_0000L), "NaN"));
    }

    @ParameterizedTest
    @MethodSource("nonFiniteElements")
    void namesTheFirstNonFiniteElementOfEveryFloatingDtype(Dtype dtype, byte[] tail, String what) {
        driver = new AveragerDriver(stateDir, 0, 0, profile("ema", 0.9));
        int size = tail.length / 2;
        byte[] data = new byte[4 * size + tail.length];
        System.arraycopy(tail, 0, data, 4 * size, tail.length);
        driver.publish(TestSnapshot.of(RUN, 7).tensor("t", dtype, new long[] {6}, data));

        assertThat(driver.deadLetters()).extracting(DeadLetterRecord::reason).satisfiesExactly(
                r -> assertThat(r).contains("tensor t at offset 4 holds " + what + " at element 5 (index 1 of the chunk)"),
                r -> assertThat(r).contains("Commit for run bad step 7", "not averaged whole"));
        assertThat(driver.entry(RUN, "ema", "t", 4)).isNull();
        assertThat(driver.entry(RUN, "ema", "t", 0)).isNotNull();
    }

    @Test
    void integerTensorsAreNeverScanned() {
        driver = new AveragerDriver(stateDir, 0, 0, profile("ema", 0.9));
        byte[] infinityBits = le(4, 0x7F80_0000, 0xFFFF_FFFFL, 0x7FC0_0000);
        driver.publish(TestSnapshot.of(RUN, 7).tensor("count", Dtype.I32, new long[] {3}, infinityBits));

        assertThat(driver.deadLetters()).isEmpty();
        assertThat(driver.entry(RUN, "ema", "count", 0).data()).isEqualTo(ByteBuffer.wrap(infinityBits));
    }

    @Test
    void theNextCleanSnapshotAveragesAsAfterAnIncompleteOne() {
        driver = new AveragerDriver(stateDir, 0, 0, profile("ema", 0.9));
        driver.publish(TestSnapshot.of(RUN, 6).f32("w", W));
        driver.publish(TestSnapshot.of(RUN, 7).f32("w", 0, Float.NEGATIVE_INFINITY, 0, 0, 8, 8));
        assertThat(driver.deadLetters()).hasSize(2);

        driver.publish(TestSnapshot.of(RUN, 8).f32("w", 10, 10, 10, 10, 10, 10));

        assertThat(driver.deadLetters()).isEmpty();
        float[] afterSix = {1, 2, 3, 4};
        assertThat(driver.emaF32(RUN, "ema", "w", 0)).as("skipped step 7")
                .containsExactly(emaF32(0.9, afterSix, new float[] {10, 10, 10, 10}));
        float[] afterSeven = emaF32(0.9, new float[] {5, 6}, new float[] {8, 8});
        assertThat(driver.emaF32(RUN, "ema", "w", 4)).as("received step 7")
                .containsExactly(emaF32(0.9, afterSeven, new float[] {10, 10}));
    }

    @Test
    void allowAppliesNonFiniteValuesAsTheyAre() {
        driver = new AveragerDriver(stateDir, NonFinitePolicy.ALLOW, 0, 0, profile("ema", 0.9));
        driver.publish(TestSnapshot.of(RUN, 7).endOfRun().f32("w", 1, Float.NaN, 3, Float.POSITIVE_INFINITY, 5, 6));

        assertThat(driver.deadLetters()).isEmpty();
        assertThat(driver.checkpointCommits()).singleElement()
                .satisfies(c -> assertThat(c.getAbortReason()).isNull());
        float[] w = driver.emaF32(RUN, "ema", "w", 0);
        assertThat(w[1]).isNaN();
        assertThat(w[3]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(driver.emaF32(RUN, "ema", "w", 4)).containsExactly(5, 6);
    }

    /** Little-endian elements of {@code size} bytes with the given bits. */
    private static byte[] le(int size, long... bits) {
        ByteBuffer b = ByteBuffer.allocate(bits.length * size).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : bits) {
            switch (size) {
                case 8 -> b.putLong(v);
                case 4 -> b.putInt((int) v);
                default -> b.putShort((short) v);
            }
        }
        return b.array();
    }
}
