package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.cli.Main;
import io.averager.config.AveragerConfig;
import io.averager.ema.TensorSpec;
import io.averager.format.SafetensorsReader;
import io.averager.publish.SnapshotOptions;
import io.averager.publish.SnapshotPublisher;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SnapshotMode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * End to end on a real broker: 20 snapshots of a mixed-dtype model published through the
 * publisher library, averaged by the service with two profiles, checkpointed to files; the final
 * checkpoint is compared with an EMA computed here independently, and with one computed by
 * PyTorch from the same snapshots.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class PipelineTest {

    private static final int SNAPSHOTS = 20;
    private static final long STEP_GAP = 10;
    private static final long LAST_STEP = SNAPSHOTS * STEP_GAP;
    private static final double DECAY = 0.9;
    private static final double HALF_LIFE_STEPS = 25;
    /** Between two multiples of the cadence (50): the trainer saves its own checkpoint here. */
    private static final long SAVED_AT = 70;

    @TempDir
    Path dir;

    @Test
    void finalCheckpointEqualsAnIndependentEmaOfEverySnapshot() throws Exception {
        String run = SharedKafka.unique("run");
        Path snapshotFiles = Files.createDirectories(dir.resolve("snapshots"));
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            service.settings.put(AveragerConfig.PROFILES_CONFIG, "ema,halflife");
            service.settings.put("averager.profile.ema.decay", Double.toString(DECAY));
            service.settings.put("averager.profile.halflife.halflife.steps", Double.toString(HALF_LIFE_STEPS));
            service.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "50");
            service.start();

            ExpectedEma ema = new ExpectedEma(DECAY, 0);
            ExpectedEma halflife = new ExpectedEma(0, HALF_LIFE_STEPS);
            Map<String, Object> producer = Map.of("bootstrap.servers", SharedKafka.bootstrapServers());
            try (SnapshotPublisher publisher = new SnapshotPublisher(producer, service.snapshotsTopic(), 1024)) {
                for (long step = STEP_GAP; step <= LAST_STEP; step += STEP_GAP) {
                    Map<String, ByteBuffer> weights = TestModel.weights(step);
                    TestModel.write(weights, snapshotFiles.resolve(String.format("step-%06d.safetensors", step)));
                    publisher.publish(run, step, new SnapshotOptions(SnapshotMode.UPDATE, step == LAST_STEP,
                            step == SAVED_AT, Map.of("arch", "test-model")), TestModel.sources(weights));
                    ema.add(weights, step);
                    halflife.add(weights, step);
                }
            }

            assertThat(service.awaitCheckpoints(run, SAVED_AT, List.of("ema", "halflife"), Duration.ofSeconds(60)))
                    .as("the checkpoint asked for at step %d", SAVED_AT).containsKeys("ema", "halflife");
            Map<String, CheckpointManifest> halfway = service.awaitCheckpoints(run, 100, List.of("ema", "halflife"), Duration.ofSeconds(60));
            assertThat(halfway).containsKeys("ema", "halflife");
            Map<String, CheckpointManifest> last = service.awaitCheckpoints(run, LAST_STEP, List.of("ema", "halflife"), Duration.ofSeconds(60));

            Path emaFile = verifiedFile(last.get("ema"));
            assertMatches(emaFile, ema, 0.0);
            assertMatches(verifiedFile(last.get("halflife")), halflife, 1e-6);
            try (SafetensorsReader r = SafetensorsReader.open(emaFile)) {
                assertThat(r.metadata()).containsEntry("run", run).containsEntry("profile", "ema")
                        .containsEntry("step", Long.toString(LAST_STEP))
                        .containsEntry("snapshots_averaged", Integer.toString(SNAPSHOTS))
                        .containsEntry("ema.decay", Double.toString(DECAY))
                        .containsEntry("arch", "test-model");
            }
            PythonCheck.run("src/test/python/check_ema.py", "--snapshots", snapshotFiles.toString(),
                    "--checkpoint", emaFile.toString(), "--decay", Double.toString(DECAY),
                    "--run", run, "--profile", "ema", "--step", Long.toString(LAST_STEP));

            String[] verify = {"verify", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                    "--topic", service.name + "-manifests", emaFile.toString()};
            assertThat(Main.commandLine().execute(verify)).as("verify of the stored file").isZero();
            Path copy = Files.copy(emaFile, dir.resolve("downloaded.safetensors"));
            verify[verify.length - 1] = "file:" + copy.toAbsolutePath();
            assertThat(Main.commandLine().execute(verify)).as("verify of a copy, found by its content").isZero();
            for (Path tampered : List.of(emaFile, copy)) {
                try (FileChannel f = FileChannel.open(tampered, StandardOpenOption.WRITE)) {
                    f.write(ByteBuffer.wrap(new byte[] {42}), Files.size(tampered) - 1);
                }
            }
            verify[verify.length - 1] = emaFile.toString();
            assertThat(Main.commandLine().execute(verify)).as("verify of a tampered file").isEqualTo(1);
            verify[verify.length - 1] = copy.toString();
            assertThat(Main.commandLine().execute(verify)).as("verify of a tampered copy, found by its metadata").isEqualTo(1);
            verify[verify.length - 1] = snapshotFiles.resolve("step-000010.safetensors").toString();
            assertThat(Main.commandLine().execute(verify)).as("verify of a file no manifest names").isEqualTo(2);
        }
    }

    /**
     * {@code averager publish --checkpoint} sends a safetensors file as a snapshot that is
     * checkpointed at its own step, between two multiples of the cadence; the snapshot before it,
     * published without the flag, is not.
     */
    @Test
    void publishCommandAsksForACheckpointAtItsStep() throws Exception {
        String run = SharedKafka.unique("cli-run");
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            service.settings.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "1000");
            service.start();
            for (long step : new long[] {3, 7}) {
                Path file = dir.resolve("step-" + step + ".safetensors");
                TestModel.write(TestModel.weights(step), file);
                List<String> args = new ArrayList<>(List.of("publish", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                        "--topic", service.snapshotsTopic(), "--run", run, "--step", Long.toString(step)));
                if (step == 7) {
                    args.add("--checkpoint");
                }
                args.add(file.toString());
                assertThat(Main.commandLine().execute(args.toArray(String[]::new))).as("publish of step %d", step).isZero();
            }

            CheckpointManifest at7 = service.awaitCheckpoints(run, 7, List.of("ema"), Duration.ofSeconds(60)).get("ema");
            assertThat(verifiedFile(at7)).exists();
            // Step 3's checkpoint, had there been one, would have been stored before step 7's.
            assertThat(service.manifestsWaiting()).as("manifests other than step 7's").isZero();
        }
    }

    /**
     * {@code averager publish --signing-key-file} into a run of a signed prefix: its snapshots
     * are averaged, while the same command without the key is refused with reason unsigned and
     * leaves the run's checkpoint as it would be without it.
     */
    @Test
    void publishCommandSignsForARunOfASignedPrefix() throws Exception {
        String key = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
        String run = "signed-" + SharedKafka.unique("cli-run");
        Path keyFile = Files.writeString(dir.resolve("team.key"), key + "\n");
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            service.settings.put(AveragerConfig.SNAPSHOT_SIGNING_KEYS_CONFIG,
                    Files.writeString(dir.resolve("signing.keys"), "signed- " + key + "\n").toString());
            service.settings.put(AveragerConfig.PROFILES_CONFIG, "ema");
            service.settings.put("averager.profile.ema.decay", Double.toString(DECAY));
            service.start();
            ExpectedEma expected = new ExpectedEma(DECAY, 0);
            for (long step : new long[] {3, 5, 7}) {
                Path file = dir.resolve("step-" + step + ".safetensors");
                TestModel.write(TestModel.weights(step), file);
                List<String> args = new ArrayList<>(List.of("publish", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                        "--topic", service.snapshotsTopic(), "--run", run, "--step", Long.toString(step)));
                if (step != 5) {
                    args.addAll(List.of("--signing-key-file", keyFile.toString()));
                    expected.add(TestModel.weights(step), step);
                }
                if (step == 7) {
                    args.add("--end-of-run");
                }
                args.add(file.toString());
                assertThat(Main.commandLine().execute(args.toArray(String[]::new))).as("publish of step %d", step).isZero();
            }
            CheckpointManifest at7 = service.awaitCheckpoints(run, 7, List.of("ema"), Duration.ofSeconds(60)).get("ema");
            assertMatches(verifiedFile(at7), expected, 0);
            // A rewind of a signed run is signed too: unsigned, it would be dead-lettered and never answered.
            StringWriter out = new StringWriter();
            CommandLine rewind = Main.commandLine();
            rewind.setOut(new PrintWriter(out));
            assertThat(rewind.execute("rewind", "--bootstrap-servers", SharedKafka.bootstrapServers(), "--topic",
                    service.snapshotsTopic(), "-D", AveragerConfig.TOPIC_RUN_EVENTS_CONFIG + "=" + service.runEventsTopic(),
                    "--run", run, "--to-step", "7", "--timeout", "60", "--signing-key-file", keyFile.toString())).isZero();
            assertThat(out.toString()).contains("Run " + run + " rewound to step 7");
        }
    }

    /** The manifest's file, after checking its size and SHA-256. */
    static Path verifiedFile(CheckpointManifest m) throws Exception {
        Path file = Path.of(URI.create(m.getUri()));
        assertThat(Files.size(file)).isEqualTo(m.getSize());
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        assertThat(sha).isEqualTo(m.getSha256());
        return file;
    }

    static void assertMatches(Path file, ExpectedEma expected, double relative) throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertThat(r.tensors()).extracting(TensorSpec::name)
                    .containsExactlyElementsOf(TestModel.TENSORS.stream().map(TensorSpec::name).toList());
            for (TensorSpec t : r.tensors()) {
                TensorSpec input = TestModel.TENSORS.stream().filter(s -> s.name().equals(t.name())).findFirst().orElseThrow();
                assertThat(t.dtype()).as(t.name()).isEqualTo(input.dtype().accumulator());
                ByteBuffer actual = r.read(t.name(), 0, Math.toIntExact(t.numel()));
                double[] want = expected.state.get(t.name());
                for (int i = 0; i < want.length; i++) {
                    double got = TestModel.value(actual, t.dtype(), i);
                    assertThat(got).as("%s[%d]", t.name(), i)
                            .isCloseTo(want[i], org.assertj.core.data.Offset.offset(relative * Math.max(1, Math.abs(want[i]))));
                }
            }
        }
    }
}
