package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.AveragerConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Python client in {@code clients/python}, run by Debian's Python against the service on the
 * shared broker: its wire encoding against the schemas, a PyTorch training loop whose EMA loaded
 * back must equal timm's {@code ModelEmaV2}, and a snapshot published by three processes at once
 * that must average bit for bit like one published whole, uneven FSDP2 and ZeRO shards of 2, 3
 * and 4 gloo ranks that must too, and subscribers of a run's checkpoints,
 * one of them killed. The scripts say what they check.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class PythonClientTest {

    private static final String TESTS = "clients/python/tests/";
    private static final double DECAY = 0.9;
    /** Runs whose ids start with this take records signed with {@link #SIGNING_KEY} only. */
    private static final String SIGNED_PREFIX = "py-signed-";
    private static final String SIGNING_KEY = "5a1c9e0b7d3f24681357924680ace1bd5a1c9e0b7d3f24681357924680ace1bd";

    @TempDir
    Path dir;

    @Test
    void encoderMatchesTheAvroSchemasAndRoundTrips() throws Exception {
        String output = PythonCheck.run(TESTS + "test_wire.py");
        assertThat(output).contains("OK");
    }

    @Test
    void shardHelpersSplitPartitionsAndNameWhatNoRankHolds() throws Exception {
        String output = PythonCheck.run(TESTS + "test_shards.py");
        assertThat(output).contains("OK");
    }

    @Test
    void nameRulesStripWrapperPrefixesAndSortOutExcludedAndCopiedTensors() throws Exception {
        String output = PythonCheck.run(TESTS + "test_names.py");
        assertThat(output).contains("OK");
    }

    @Test
    void cudaTensorsAreStagedInPinnedBuffersOrTheCheckSaysItWasSkipped() throws Exception {
        String output = PythonCheck.run(TESTS + "test_cuda_staging.py");
        assertThat(output).contains("OK").containsAnyOf("CUDA staging: skipped, no CUDA device", "the copy was done after");
    }

    @Test
    void emaOfATrainingLoopEqualsModelEmaV2AndLoadsStrictly() throws Exception {
        try (ServiceUnderTest service = started()) {
            List<String> args = new ArrayList<>(List.of(arguments(service)));
            args.addAll(List.of("--signing-key", SIGNING_KEY, "--signed-run", SIGNED_PREFIX + SharedKafka.unique("run")));
            String output = PythonCheck.run(TESTS + "it_training_loop.py", args.toArray(String[]::new));
            assertThat(output).contains("EMA matches ModelEmaV2", "checkpointed on request", "averaged as expected",
                    "resumed:", "wrapped names:", "signed: the EMA of steps 1, 2, 3 and 5", "failure surfaces");
        }
    }

    @Test
    void snapshotPublishedByThreeRanksAveragesLikeOnePublishedWhole() throws Exception {
        try (ServiceUnderTest service = started()) {
            String output = PythonCheck.run(TESTS + "it_sharded.py", arguments(service));
            assertThat(output).contains("bit for bit");
        }
    }

    @Test
    void unevenShardsOfTwoThreeAndFourGlooRanksAverageBitwiseLikeWholeTensors() throws Exception {
        try (ServiceUnderTest service = started()) {
            String output = PythonCheck.run(TESTS + "it_fsdp.py", arguments(service));
            assertThat(output).contains("refused on every rank",
                    "fsdp shards of 2 ranks: EMA bitwise equal", "fsdp shards of 3 ranks: EMA bitwise equal",
                    "fsdp shards of 4 ranks: EMA bitwise equal", "zero shards of 3 ranks: EMA bitwise equal");
            assertThat(output).containsAnyOf("DTensor: skipped", "dtensor shards of 3 ranks: EMA bitwise equal");
        }
    }

    @Test
    void subscribersSeeEveryCheckpointOnceAndOneKilledInItsGroupMissesNone() throws Exception {
        try (ServiceUnderTest service = started()) {
            String output = PythonCheck.run(TESTS + "it_subscribe.py", arguments(service));
            assertThat(output).contains("subscribers saw every checkpoint once in step order: [2, 4, 6, 8, 10, 12]",
                    "restarted in its group: [6, 8, 10, 12]");
        }
    }

    /** A service averaging with one profile of decay {@link #DECAY}, checkpointing at end of run only. */
    private ServiceUnderTest started() {
        ServiceUnderTest service = new ServiceUnderTest(dir);
        service.settings.put(AveragerConfig.PROFILES_CONFIG, "ema");
        service.settings.put("averager.profile.ema.decay", Double.toString(DECAY));
        service.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "0");
        try {
            Path keys = Files.writeString(dir.resolve("signing.keys"), SIGNED_PREFIX + " " + SIGNING_KEY + "\n");
            service.settings.put(AveragerConfig.SNAPSHOT_SIGNING_KEYS_CONFIG, keys.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return service.start();
    }

    private static String[] arguments(ServiceUnderTest service) {
        return new String[] {"--bootstrap-servers", SharedKafka.bootstrapServers(),
                "--snapshots-topic", service.snapshotsTopic(),
                "--manifests-topic", service.settings.get(AveragerConfig.TOPIC_MANIFESTS_CONFIG),
                "--run-events-topic", service.runEventsTopic(),
                "--run", SharedKafka.unique("py-run"), "--decay", Double.toString(DECAY)};
    }
}
