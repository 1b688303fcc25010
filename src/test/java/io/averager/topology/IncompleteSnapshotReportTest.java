package io.averager.topology;

import static io.averager.topology.AveragerDriver.profile;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.wire.avro.SnapshotCommit;
import io.averager.metrics.RunMeters;
import io.micrometer.core.instrument.Counter;
import java.nio.file.Path;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How snapshots that close without being averaged whole are reported: the dead letter names the
 * chunks that never arrived, in the header's order, and the {@code averager.snapshots.incomplete}
 * counter counts them by reason.
 */
class IncompleteSnapshotReportTest {

    private static final String RUN = "torn";

    @TempDir
    Path stateDir;

    private AveragerDriver driver;

    @BeforeEach
    void start() {
        driver = new AveragerDriver(stateDir, 0, 0, profile("ema", 0.9));
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    @Test
    void aSnapshotWithoutCommitNamesTheFirstFiveMissingChunksThenCountsTheRest() {
        TestSnapshot torn = TestSnapshot.of(RUN, 7).f32("w", floats(40)).f32("b", 1, 2);
        driver.send(torn.header());
        driver.send(torn.chunk("w", 0));
        driver.send(torn.chunk("w", 8));

        driver.publish(TestSnapshot.of(RUN, 8).f32("w", floats(40)).f32("b", 1, 2));

        assertThat(driver.deadLetters()).singleElement().satisfies(d -> assertThat(d.reason()).contains(
                "Snapshot of run torn step 7 is incomplete (2 of 11 chunks)",
                "missing w@4, w@12, w@16, w@20, w@24 and 4 more."));
        assertThat(incomplete("no_commit")).isEqualTo(1);
    }

    @Test
    void aCommitShortOfChunksNamesTheMissingOnes() {
        TestSnapshot s = TestSnapshot.of(RUN, 7).f32("w", floats(6)).f32("b", 1, 2);
        driver.send(s.header());
        driver.send(s.chunk("b", 0));
        driver.send(s.chunk("w", 4));
        driver.send(s.commit());

        assertThat(driver.deadLetters()).singleElement().satisfies(d -> assertThat(d.reason())
                .contains("Commit for run torn step 7: 2 chunks received, commit says 3, header declared 3; missing w@0"));
        assertThat(incomplete("missing_chunks")).isEqualTo(1);
    }

    @Test
    void aChunkDeliveredTwiceIsNotCountedAsAnother() {
        TestSnapshot s = TestSnapshot.of(RUN, 7).f32("w", floats(6)).f32("b", 1, 2);
        driver.send(s.header());
        driver.send(s.chunk("w", 0));
        driver.send(s.chunk("w", 0));
        driver.send(s.chunk("b", 0));
        driver.send(new SnapshotCommit(RUN, 7L, 3, s.commit().getDigest()));

        assertThat(driver.deadLetters()).singleElement().satisfies(d -> assertThat(d.reason())
                .contains("2 chunks received", "; missing w@4"));
    }

    @Test
    void everyReasonHasItsOwnCount() {
        TestSnapshot digest = TestSnapshot.of(RUN, 7).f32("w", 1, 2);
        driver.send(digest.header());
        digest.chunks().forEach(driver::send);
        driver.send(new SnapshotCommit(RUN, 7L, 1, digest.commit().getDigest() + 1));
        driver.publish(TestSnapshot.of(RUN, 8).f32("w", 1, Float.NaN));
        driver.publish(TestSnapshot.of(RUN, 9).f32("w", 1, 2));

        assertThat(driver.deadLetters()).hasSize(3);
        assertThat(incomplete("digest_mismatch")).isEqualTo(1);
        assertThat(incomplete("nonfinite")).isEqualTo(1);
        assertThat(incomplete("no_commit")).isZero();
    }

    private double incomplete(String reason) {
        Counter counter = driver.meters().find(RunMeters.INCOMPLETE).tag("reason", reason).counter();
        return counter == null ? 0 : counter.count();
    }

    private static float[] floats(int n) {
        float[] values = new float[n];
        IntStream.range(0, n).forEach(i -> values[i] = i);
        return values;
    }
}
