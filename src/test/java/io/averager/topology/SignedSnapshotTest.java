package io.averager.topology;

import static io.averager.topology.AveragerDriver.profile;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.lifecycle.NonFinitePolicy;
import io.averager.wire.Signatures;
import io.averager.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.apache.avro.specific.SpecificRecordBase;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs of a signed prefix take only records with the MAC of its key: a team's signed run averages
 * as before, while unsigned and wrongly signed records into it, a SET among them, are
 * dead-lettered before they touch any state, so its checkpoints equal, byte for byte, those of a
 * run that never saw them. Runs of other prefixes need no signature.
 */
class SignedSnapshotTest {

    private static final byte[] TEAM_A = HexFormat.of().parseHex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    private static final byte[] OTHER = HexFormat.of().parseHex("ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
    private static final String RUN = "team-a/run-1";

    @TempDir
    Path dir;

    private AveragerDriver reference;
    private AveragerDriver attacked;

    @AfterEach
    void stop() {
        for (AveragerDriver d : new AveragerDriver[] {reference, attacked}) {
            if (d != null) {
                d.close();
            }
        }
    }

    private AveragerDriver driver(String name) throws Exception {
        Path keys = Files.writeString(dir.resolve(name + ".keys"), "# prefix key\nteam-a/ " + HexFormat.of().formatHex(TEAM_A) + "\n");
        return new AveragerDriver(Files.createDirectories(dir.resolve(name)), NonFinitePolicy.REJECT, Signatures.read(keys),
                20, 0, profile("ema", 0.9));
    }

    private static TestSnapshot snapshot(long step, float w) {
        TestSnapshot s = TestSnapshot.of(RUN, step).grid(2).f32("w", w, 2 * w, 3 * w).f32("b", -w);
        return step == 40 ? s.endOfRun() : s;
    }

    @Test
    void unsignedAndWronglySignedRecordsLeaveTheCheckpointsOfASignedRunAsTheyWere() throws Exception {
        reference = driver("reference");
        attacked = driver("attacked");
        for (long step = 10; step <= 40; step += 10) {
            snapshot(step, step).records().forEach(r -> reference.sendSigned(r, TEAM_A));
        }

        for (long step = 10; step <= 40; step += 10) {
            List<SpecificRecordBase> records = snapshot(step, step).records();
            attacked.sendSigned(records.get(0), TEAM_A);
            // Forgeries into the open snapshot: a chunk unsigned, a chunk signed with another key.
            attacked.send(snapshot(step, 1000).chunks().get(0));
            attacked.sendSigned(snapshot(step, 2000).chunks().get(1), OTHER);
            records.subList(1, records.size()).forEach(r -> attacked.sendSigned(r, TEAM_A));
            // And a whole SET snapshot, unsigned, at the next step.
            TestSnapshot set = TestSnapshot.of(RUN, step + 5).set().f32("x", 7);
            set.records().forEach(attacked::send);
        }
        // A record with a MAC of its own, whose value was changed after signing.
        byte[] key = RUN.getBytes(StandardCharsets.UTF_8);
        byte[] value = WireCodec.encode(snapshot(50, 50).header());
        byte[] mac = Signatures.mac(TEAM_A, key, value);
        value[value.length - 1] ^= 1;
        attacked.sendRawSigned(key, value, mac);

        List<AveragerDriver.DeadLetterRecord> dead = attacked.deadLetters();
        assertThat(dead).hasSize(4 * (2 + 3) + 1).allSatisfy(d -> assertThat(d.reason()).contains("Record for run " + RUN));
        assertThat(dead).filteredOn(d -> d.reason().contains("has no averager-mac header; runs of prefix team-a/ take signed"
                + " records only")).hasSize(4 * (1 + 3));
        assertThat(dead).filteredOn(d -> d.reason().contains("is not signed with the key of prefix team-a/")).hasSize(4 + 1);
        List<byte[]> expected = reference.checkpoints().stream().map(WireCodec::encode).toList();
        List<byte[]> got = attacked.checkpoints().stream().map(WireCodec::encode).toList();
        assertThat(got).hasSize(expected.size()).isNotEmpty();
        for (int i = 0; i < expected.size(); i++) {
            assertThat(got.get(i)).as("checkpoint record %d", i).isEqualTo(expected.get(i));
        }
        assertThat(attacked.meters().get("averager.dead.letters").tag("reason", "unsigned").counter().count())
                .isEqualTo(dead.size());
    }

    @Test
    void runsOfOtherPrefixesNeedNoSignature() throws Exception {
        attacked = driver("open");
        attacked.publish(TestSnapshot.of("team-b/run", 10).endOfRun().f32("w", 1, 2));

        assertThat(attacked.deadLetters()).isEmpty();
        assertThat(attacked.emaF32("team-b/run", "ema", "w", 0)).containsExactly(1, 2);
    }
}
