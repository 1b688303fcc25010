package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.AveragerConfig;
import io.averager.it.Workload.CheckpointKey;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PyTorch training loop (clients/python/tests/it_preempted.py) that saves its own checkpoint
 * every few steps and publishes those steps with checkpoint=True is killed with SIGKILL at random
 * moments, {@value #KILLS} times, each time resumed from its own last checkpoint with
 * resume_from_step; the service (its own JVM) is killed once meanwhile too. A resumed attempt
 * trains the steps after its checkpoint on other data than the killed one did, so the EMA is
 * right only if the abandoned steps never count. Every profile's final checkpoint (exponential
 * with power warmup, per-step half-life, power) must hold bitwise the tensors of the same loop run
 * uninterrupted, with each step's data from the attempt whose training of it survived. One
 * attempt saves its checkpoints without asking for the EMA's, so the next resumes at a step
 * without an EMA checkpoint, which the service rebuilds from its restore point below.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class PreemptedTrainerTest {

    private static final Logger log = LoggerFactory.getLogger(PreemptedTrainerTest.class);

    private static final String SCRIPT = "clients/python/tests/it_preempted.py";
    private static final int KILLS = 5;
    private static final int STEPS = 200;
    private static final int SAVE_EVERY = 5;
    /** The attempt that saves its checkpoints without asking for the EMA's. */
    private static final int UNASKED = 1;
    private static final List<String> PROFILES = List.of("ema", "slow", "power");
    private static final Duration TIMEOUT = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    @Test
    void aTrainerKilledAndResumedFromItsCheckpointsEndsBitwiseAsOneNeverInterrupted() throws Exception {
        String name = SharedKafka.unique("preempted");
        Properties settings = ServiceProcess.settings(name, dir.resolve("checkpoints"), 2, Map.of(
                AveragerConfig.PROFILES_CONFIG, String.join(",", PROFILES),
                "averager.profile.ema.decay", "0.9",
                "averager.profile.ema.warmup", "power",
                "averager.profile.slow.halflife.steps", "10",
                "averager.profile.power.sigma.rel", "0.2",
                AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, "0"));
        settings.put("state.dir", dir.resolve("state").toString());
        settings.put("consumer.group.instance.id", name);
        String snapshots = name + "-snapshots";
        Random random = new Random(42);
        List<String> schedule = new ArrayList<>();
        try (ServiceProcess service = new ServiceProcess(Files.createDirectories(dir.resolve("service")), settings,
                "-Xmx256m", ServiceProcess.LOG_STREAMS_STATE).start()) {
            service.awaitRunning(TIMEOUT);
            Path work = Files.createDirectories(dir.resolve("trainer"));
            for (int attempt = 0; ; attempt++) {
                boolean last = attempt == KILLS;
                Trainer trainer = Trainer.start(dir.resolve("trainer-" + attempt + ".log"), snapshots, "preempted", work,
                        attempt, attempt > 0, "", attempt == UNASKED ? 0 : SAVE_EVERY);
                String start = trainer.awaitLine("start ", TIMEOUT);
                long from = Long.parseLong(start.split(" ")[1]);
                schedule.add(from + ":" + attempt);
                if (attempt == UNASKED + 1) {
                    assertThat(trainer.awaitLine("resumed: ", TIMEOUT)).as("the resume after the unasked checkpoints")
                            .contains("rewound to step " + from + ", rebuilt from its restore point at step");
                }
                if (last) {
                    trainer.awaitLine("done", TIMEOUT);
                    break;
                }
                // Past the trainer's next checkpoint, then a random moment: mid-step, mid-snapshot, mid-save.
                trainer.awaitLine("step " + (from / SAVE_EVERY + 1) * SAVE_EVERY, TIMEOUT);
                Thread.sleep(200 + random.nextInt(1500));
                String at = trainer.lastLine();
                if (attempt == UNASKED && at.startsWith("step ") && Long.parseLong(at.substring(5)) % SAVE_EVERY == 0) {
                    // Killed right after its save, its resume would find the run at that step, with nothing to rebuild.
                    trainer.awaitLine("step " + (Long.parseLong(at.substring(5)) + 1), TIMEOUT);
                }
                trainer.kill();
                log.info("Trainer attempt {} (from step {}) killed after {}", attempt, start.split(" ")[1], trainer.lastLine());
                if (attempt == 2) {
                    service.kill();
                    service.start();
                    service.awaitRunning(TIMEOUT);
                }
            }
            Trainer uninterrupted = Trainer.start(dir.resolve("reference.log"), snapshots, "uninterrupted",
                    Files.createDirectories(dir.resolve("reference")), 0, false, String.join(",", schedule), SAVE_EVERY);
            uninterrupted.awaitLine("done", TIMEOUT);
            log.info("Attempts started at step:attempt {}", schedule);

            Set<CheckpointKey> expected = new HashSet<>();
            for (String profile : PROFILES) {
                expected.add(new CheckpointKey("preempted", profile, STEPS));
                expected.add(new CheckpointKey("uninterrupted", profile, STEPS));
            }
            List<CheckpointManifest> manifests = TopicReader.awaitManifests(SharedKafka.bootstrapServers(),
                    name + "-manifests", expected, TIMEOUT, service::assertAlive);
            for (String profile : PROFILES) {
                CheckpointComparison.assertSameTensors(profile, file(manifests, "preempted", profile), file(manifests, "uninterrupted", profile));
            }
            assertThat(schedule.stream().map(s -> s.split(":")[0]).collect(Collectors.toSet()))
                    .as("steps the attempts resumed from").hasSizeGreaterThan(1);
        }
    }

    private static Path file(List<CheckpointManifest> manifests, String run, String profile) {
        CheckpointManifest m = manifests.stream()
                .filter(x -> x.getRun().equals(run) && x.getProfile().equals(profile) && x.getStep() == STEPS)
                .reduce((a, b) -> b).orElseThrow();
        return Path.of(URI.create(m.getUri()));
    }

    /** One attempt of the training loop, as a child process whose output goes to a log file. */
    private record Trainer(Process process, Path log) {

        static Trainer start(Path log, String snapshots, String run, Path work, int attempt, boolean resume,
                             String schedule, int askEvery) throws IOException {
            List<String> command = new ArrayList<>(List.of(PythonCheck.PYTHON, SCRIPT,
                    "--bootstrap-servers", SharedKafka.bootstrapServers(), "--snapshots-topic", snapshots,
                    "--run-events-topic", snapshots.replace("-snapshots", "-run-events"), "--run", run,
                    "--steps", Integer.toString(STEPS), "--save-every", Integer.toString(SAVE_EVERY),
                    "--dir", work.toString(), "--attempt", Integer.toString(attempt), "--pause", "0.05",
                    "--ask-every", Integer.toString(askEvery)));
            if (resume) {
                command.add("--resume");
            }
            if (!schedule.isEmpty()) {
                command.addAll(List.of("--schedule", schedule));
            }
            Process p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.to(log.toFile())).start();
            return new Trainer(p, log);
        }

        /**
         * The first line of the log that is {@code line}, or starts with it if it ends with a
         * space; fails if the trainer exits without it.
         */
        String awaitLine(String line, Duration timeout) throws InterruptedException {
            java.util.function.Predicate<String> matches = l -> line.endsWith(" ") ? l.startsWith(line) : l.equals(line);
            return Await.waitingFor("the line \"" + line + "\" of " + log.getFileName(), timeout)
                    .whileAlive(() -> assertThat(process.isAlive() || lines().stream().anyMatch(matches))
                            .as("trainer %s alive; its output:%n%s", log.getFileName(), String.join("\n", lines())).isTrue())
                    .present(() -> lines().stream().filter(matches).findFirst());
        }

        String lastLine() {
            List<String> lines = lines();
            return lines.isEmpty() ? "nothing" : lines.get(lines.size() - 1);
        }

        List<String> lines() {
            try {
                return Files.readAllLines(log, StandardCharsets.UTF_8);
            } catch (IOException e) {
                return List.of();
            }
        }

        void kill() throws InterruptedException {
            process.destroyForcibly();
            assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("trainer gone after SIGKILL").isTrue();
        }
    }
}
