package io.averager.topology;

import static io.averager.topology.AveragerDriver.profile;
import static io.averager.topology.AveragerDriver.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.topology.AveragerDriver.DeadLetterRecord;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.CheckpointCommit;
import io.averager.wire.avro.Dtype;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Records that fail the checks made before any state is read: decoding, key, header fields. */
class MalformedRecordTest {

    private static final String RUN = "bad";

    @TempDir
    Path stateDir;

    private AveragerDriver driver;
    private Bystander bystander;

    @BeforeEach
    void start() {
        driver = new AveragerDriver(stateDir, 0, 0, profile(Bystander.PROFILE, Bystander.DECAY));
        bystander = new Bystander(driver);
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    @Test
    void deadLettersBytesThatAreNotAvro() {
        byte[] json = utf8("{\"run\": \"bad\", \"step\": 7}");
        driver.sendRaw(utf8(RUN), json);

        DeadLetterRecord dead = assertDeadLetteredAlone("Record for run bad", "not Avro single-object encoding",
                "marker is 7B 22, expected C3 01");
        assertThat(dead.key()).isEqualTo(utf8(RUN));
        assertThat(dead.value()).isEqualTo(json);
    }

    @Test
    void deadLettersAValueShorterThanTheSingleObjectPrefix() {
        driver.sendRaw(utf8(RUN), new byte[] {(byte) 0xC3, 0x01, 7});

        assertDeadLetteredAlone("Record for run bad", "3 bytes", "shorter than the 10-byte single-object prefix");
    }

    @Test
    void deadLettersAWrongMarker() {
        byte[] value = WireCodec.encode(header().header());
        value[0] = (byte) 0xC2;
        driver.sendRaw(utf8(RUN), value);

        DeadLetterRecord dead = assertDeadLetteredAlone("Record for run bad", "marker is C2 01, expected C3 01");
        assertThat(dead.value()).isEqualTo(value);
    }

    @Test
    void deadLettersAnUnknownSchemaFingerprint() {
        byte[] value = WireCodec.encode(header().header());
        value[5] ^= 0x40;
        driver.sendRaw(utf8(RUN), value);

        assertDeadLetteredAlone("Record for run bad", "unknown schema fingerprint");
    }

    @Test
    void deadLettersATruncatedBody() {
        byte[] whole = WireCodec.encode(header().header());
        driver.sendRaw(utf8(RUN), Arrays.copyOf(whole, whole.length - 3));

        assertDeadLetteredAlone("Record for run bad", "malformed SnapshotHeader body");
    }

    @Test
    void deadLettersAnEmptyValue() {
        driver.sendRaw(utf8(RUN), new byte[0]);

        assertDeadLetteredAlone("Record for run bad", "empty message");
    }

    @Test
    void deadLettersANullValue() {
        driver.sendRaw(utf8(RUN), null);

        DeadLetterRecord dead = assertDeadLetteredAlone("Record for run bad", "empty message");
        assertThat(dead.value()).isNull();
    }

    @Test
    void deadLettersARecordWithoutKey() {
        byte[] value = WireCodec.encode(header().header());
        driver.sendRaw(null, value);

        DeadLetterRecord dead = assertDeadLetteredAlone("no key", "expected the run id");
        assertThat(dead.key()).isNull();
        assertThat(dead.value()).isEqualTo(value);
    }

    @Test
    void deadLettersAKeyThatIsNotUtf8() {
        driver.sendRaw(new byte[] {(byte) 0xFF, 'a'}, WireCodec.encode(header().header()));

        assertDeadLetteredAlone("not valid UTF-8", "expected the run id");
    }

    @Test
    void deadLettersAnEmptyRunId() {
        driver.send(TestSnapshot.of("", 7).f32("w", 1).header());

        assertDeadLetteredAlone("record key of 0 bytes", "expected a run id of 1 to 512 bytes");
    }

    @Test
    void deadLettersARunIdLongerThanTheLimitWithoutRepeatingIt() {
        String run = "r".repeat(513);
        driver.send(TestSnapshot.of(run, 7).f32("w", 1).header());

        DeadLetterRecord dead = assertDeadLetteredAlone("record key of 513 bytes", "expected a run id of 1 to 512 bytes");
        assertThat(dead.reason()).doesNotContain(run);
    }

    @Test
    void acceptsARunIdAtTheLimit() {
        String run = "é".repeat(256);
        driver.publish(TestSnapshot.of(run, 7).f32("w", 1));

        assertThat(driver.deadLetters()).isEmpty();
        assertThat(driver.emaF32(run, "ema", "w", 0)).containsExactly(1);
    }

    @Test
    void deadLettersARecordWhoseKeyIsNotItsRun() {
        driver.sendRaw(utf8("someone-else"), WireCodec.encode(header().header()));

        assertDeadLetteredAlone("SnapshotHeader for run bad", "published with key someone-else",
                "the key must be the run id");
    }

    @Test
    void deadLettersACheckpointRecordOnTheSnapshotsTopic() {
        driver.sendRaw(utf8(RUN), WireCodec.encode(new CheckpointCommit(RUN, "ema", 7L, 1, null)));

        assertDeadLetteredAlone("Record for run bad", "CheckpointCommit does not belong on the snapshots topic");
    }

    @Test
    void deadLettersANegativeDimension() {
        driver.send(TestSnapshot.of(RUN, 7).tensor("w", Dtype.F32, new long[] {2, -3}, new byte[0]).header());

        assertDeadLetteredAlone("Snapshot header for run bad step 7", "tensor w", "negative dimension", "[2, -3]");
    }

    @Test
    void deadLettersAShapeWhoseSizeOverflows() {
        driver.send(TestSnapshot.of(RUN, 7).tensor("w", Dtype.F32, new long[] {1L << 32, 1L << 32}, new byte[0])
                .header());

        assertDeadLetteredAlone("Snapshot header for run bad step 7", "tensor w", "overflows");
    }

    @Test
    void deadLettersATensorAboveTheElementLimit() {
        driver.send(TestSnapshot.of(RUN, 7).tensor("w", Dtype.F32, new long[] {1L << 20, 1L << 17}, new byte[0])
                .header());

        assertDeadLetteredAlone("Snapshot header for run bad step 7", "tensor w", "averager.max.tensor.elements");
    }

    @Test
    void deadLettersATensorNameOfTenThousandCharactersWithoutRepeatingIt() {
        String name = "n".repeat(10_000);
        driver.send(TestSnapshot.of(RUN, 7).f32(name, 1, 2).header());

        DeadLetterRecord dead = assertDeadLetteredAlone("Snapshot header for run bad step 7",
                "tensor name of 10000 characters", "expected 1 to 1024");
        assertThat(dead.reason()).hasSizeLessThan(1_000);
    }

    @Test
    void deadLettersAChunkWithATensorNameOfTenThousandCharactersWithoutRepeatingIt() {
        driver.send(new SnapshotChunk(RUN, 7L, "n".repeat(10_000), 0L, ByteBuffer.wrap(new byte[4])));

        DeadLetterRecord dead = assertDeadLetteredAlone("Chunk for run bad step 7", "tensor name of 10000 characters");
        assertThat(dead.reason()).hasSizeLessThan(1_000);
    }

    @Test
    void deadLettersATensorDeclaredTwice() {
        driver.send(TestSnapshot.of(RUN, 7).f32("w", 1).f32("w", 2).header());

        assertDeadLetteredAlone("Snapshot header for run bad step 7", "tensor w is declared twice");
    }

    @Test
    void deadLettersAHeaderWhoseChunkCountDisagreesWithItsTensors() {
        SnapshotHeader h = TestSnapshot.of(RUN, 7).f32("w", 1, 2, 3, 4, 5, 6).f32("b", 1).header();
        h.setChunkCount(5);
        driver.send(h);

        assertDeadLetteredAlone("Snapshot header for run bad step 7", "chunkCount is 5",
                "the tensors on grid 4 make 3 chunks");
    }

    @Test
    void deadLettersAGridOfZero() {
        driver.send(TestSnapshot.of(RUN, 7).grid(0).f32("w", 1).header());

        assertDeadLetteredAlone("Snapshot header for run bad step 7", "grid 0 is outside");
    }

    @Test
    void deadLettersANegativeStep() {
        driver.send(TestSnapshot.of(RUN, -7).f32("w", 1).header());

        assertDeadLetteredAlone("Snapshot header for run bad step -7", "step is negative");
    }

    @Test
    void deadLettersAChunkWithANegativeOffset() {
        TestSnapshot s = header();
        driver.send(s.header());
        SnapshotChunk chunk = s.chunk("w", 0);
        chunk.setOffset(-4L);
        driver.send(chunk);

        assertDeadLetteredAlone("Chunk for run bad step 7", "tensor w", "negative offset -4");
    }

    @Test
    void deadLettersACommitWithANegativeChunkCount() {
        driver.send(new SnapshotCommit(RUN, 7L, -1, 0L));

        assertDeadLetteredAlone("Commit for run bad step 7", "negative chunkCount");
    }

    private static TestSnapshot header() {
        return TestSnapshot.of(RUN, 7).f32("w", 1, 2, 3, 4, 5, 6);
    }

    /**
     * Exactly one dead letter, whose reason holds every fragment; then the bystander's EMA is
     * untouched and its next snapshot is served. Returns the dead letter.
     */
    private DeadLetterRecord assertDeadLetteredAlone(String... fragments) {
        List<DeadLetterRecord> dead = driver.deadLetters();
        assertThat(dead).hasSize(1);
        assertThat(dead.get(0).reason()).contains(fragments);
        assertThat(driver.checkpoints()).isEmpty();
        bystander.assertUntouchedAndStillServed();
        return dead.get(0);
    }
}
