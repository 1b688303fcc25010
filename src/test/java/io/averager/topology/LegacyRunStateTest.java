package io.averager.topology;

import static io.averager.topology.AveragerDriver.profile;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.store.Run;
import io.averager.store.RunStore;
import io.averager.store.Stores;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.RunProgress;
import io.averager.wire.avro.RunState;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A service upgraded while a run is in flight finds the run's state as the single
 * {@link RunState} record earlier versions wrote, and carries on: the EMA, checkpoints and
 * stored state end bitwise as those of a service that never changed, also when the upgrade falls
 * in the middle of a snapshot.
 */
class LegacyRunStateTest {

    private static final String RUN = "legacy";

    @TempDir
    Path dir;

    @Test
    void theLegacySchemaKeepsItsFingerprint() {
        // Stores written by earlier versions carry this fingerprint: the schema must still decode them.
        assertThat(String.format("%016X", SchemaNormalization.parsingFingerprint64(RunState.SCHEMA$)))
                .isEqualTo("40AB0EB82890549B");
    }

    @Test
    void aRunStateWrittenByAnEarlierVersionCarriesOnBitwise() {
        List<SpecificRecordBase> records = new ArrayList<>();
        for (long step = 10; step <= 50; step += 10) {
            TestSnapshot snapshot = TestSnapshot.of(RUN, step).f32("w", step, 2, 3, step, 5, 6).f32("b", -step, 1);
            records.addAll((step == 50 ? snapshot.endOfRun() : snapshot).records());
        }
        // Five records a snapshot (header, three chunks, commit): the upgrade comes after the
        // header and first chunk of step 30.
        int upgradeAt = 5 + 5 + 2;

        try (AveragerDriver reference = new AveragerDriver(dir.resolve("reference"), 20, 0, profile("ema", 0.9));
             AveragerDriver upgraded = new AveragerDriver(dir.resolve("upgraded"), 20, 0, profile("ema", 0.9))) {
            records.forEach(reference::send);
            for (int i = 0; i < records.size(); i++) {
                if (i == upgradeAt) {
                    rewriteAsLegacy(upgraded);
                }
                upgraded.send(records.get(i));
            }

            assertThat(upgraded.deadLetters()).isEmpty();
            assertThat(reference.deadLetters()).isEmpty();
            assertThat(encoded(upgraded.checkpoints())).isEqualTo(encoded(reference.checkpoints()));
            for (String[] entry : new String[][] {{"w", "0"}, {"w", "4"}, {"b", "0"}}) {
                long offset = Long.parseLong(entry[1]);
                assertThat(upgraded.entryBytes(RUN, "ema", entry[0], offset))
                        .isEqualTo(reference.entryBytes(RUN, "ema", entry[0], offset));
            }
            Run after = RunStore.writable(upgraded.store(Stores.RUNS), upgraded.store(Stores.LAYOUTS)).get(RUN);
            Run expected = RunStore.writable(reference.store(Stores.RUNS), reference.store(Stores.LAYOUTS)).get(RUN);
            assertThat(WireCodec.decode(upgraded.<String>store(Stores.RUNS).get(RUN))).as("rewritten in the new form")
                    .isInstanceOf(RunProgress.class);
            assertThat(after.layout().getTensors()).isEqualTo(expected.layout().getTensors());
            assertThat(after.progress().getLastStep()).isEqualTo(50);
            // Progress is the reference's but for the step its layout was set at and the offset the run started at,
            // which the legacy record did not keep.
            after.progress().setLayoutStep(expected.progress().getLayoutStep());
            after.progress().setStartOffset(expected.progress().getStartOffset());
            assertThat(after.progress()).isEqualTo(expected.progress());
        }
    }

    /** Replaces the run's layout and progress with the one record an earlier version kept. */
    private static void rewriteAsLegacy(AveragerDriver driver) {
        KeyValueStore<String, byte[]> runs = driver.store(Stores.RUNS);
        KeyValueStore<String, byte[]> layouts = driver.store(Stores.LAYOUTS);
        Run run = RunStore.writable(runs, layouts).get(RUN);
        assertThat(run.progress().getPending()).as("the upgrade falls mid-snapshot").isNotNull();
        runs.put(RUN, WireCodec.encode(new RunState(run.layout().getTensors(), run.layout().getGrid(),
                run.layout().getChunkCount(), run.progress().getLastStep(), run.progress().getSnapshots(),
                run.progress().getLastCheckpointStep(), run.progress().getLastCheckpointTime(),
                run.progress().getPending())));
        layouts.delete(RUN);
    }

    private static List<String> encoded(List<SpecificRecordBase> records) {
        assertThat(records).isNotEmpty();
        return records.stream().map(r -> HexFormat.of().formatHex(WireCodec.encode(r))).toList();
    }
}
