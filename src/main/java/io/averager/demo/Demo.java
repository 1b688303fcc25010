package io.averager.demo;

import io.averager.AveragerException;
import io.averager.config.AveragerConfig;
import io.averager.ema.Dtype;
import io.averager.ema.TensorSpec;
import io.averager.embedded.EmbeddedKafka;
import io.averager.format.SafetensorsReader;
import io.averager.publish.SnapshotPublisher;
import io.averager.publish.TensorSource;
import io.averager.service.AveragerService;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.SnapshotMode;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The README's main job: starts a broker and the service under a data directory, trains a small
 * regression model by noisy SGD while publishing its weights, prints each checkpoint as it lands,
 * and compares the validation loss of the raw weights with that of each EMA profile.
 */
public final class Demo {

    private static final String RUN = "demo-regression";
    /** Profile name to its settings: a fast EMA, and a slow one whose power warmup forgets the untrained start. */
    private static final Map<String, Map<String, String>> PROFILES = new LinkedHashMap<>();

    static {
        PROFILES.put("ema", Map.of("decay", "0.95"));
        PROFILES.put("ema_warmup", Map.of("decay", "0.999", "warmup", "power", "unit", "step"));
    }

    private final Path dataDir;
    private final int steps;
    private final int every;
    private final PrintStream out;

    /**
     * @param steps optimizer steps to train
     * @param every publish a snapshot every this many steps
     */
    public Demo(Path dataDir, int steps, int every, PrintStream out) {
        this.dataDir = dataDir;
        this.steps = steps;
        this.every = every;
        this.out = out;
    }

    /** Runs the demo; returns the validation losses by name ("raw" and each profile). */
    public Map<String, Double> run() throws IOException, InterruptedException {
        out.printf("averager demo: data under %s%n", dataDir.toAbsolutePath());
        BlockingQueue<CheckpointManifest> landed = new LinkedBlockingQueue<>();
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dataDir.resolve("kafka"))) {
            out.printf("Kafka broker up at %s%n", kafka.bootstrapServers());
            try (AveragerService service = AveragerService.start(config(kafka), m -> {
                out.printf("  checkpoint %-8s step %4d  %s%n", m.getProfile(), m.getStep(), m.getUri());
                landed.add(m);
            })) {
                Regression model = new Regression(32, 8, 2.0f, 7);
                train(kafka, model);
                Map<String, Path> finals = awaitFinal(landed, service);
                return report(model, finals);
            }
        }
    }

    private AveragerConfig config(EmbeddedKafka kafka) {
        Map<String, String> c = new HashMap<>(AveragerConfig.embeddedDefaults(kafka.bootstrapServers(), dataDir));
        c.put("application.id", "averager-demo");
        c.put(AveragerConfig.TOPIC_PARTITIONS_CONFIG, "1");
        c.put(AveragerConfig.PROFILES_CONFIG, String.join(",", PROFILES.keySet()));
        PROFILES.forEach((name, keys) -> keys.forEach((k, v) -> c.put("averager.profile." + name + "." + k, v)));
        c.put(AveragerConfig.CHECKPOINT_EVERY_STEPS_CONFIG, Integer.toString(Math.max(every, steps / 5)));
        return new AveragerConfig(c);
    }

    private void train(EmbeddedKafka kafka, Regression model) throws IOException {
        Map<String, Object> producer = Map.of("bootstrap.servers", kafka.bootstrapServers());
        try (SnapshotPublisher publisher = new SnapshotPublisher(producer, "snapshots", SnapshotPublisher.DEFAULT_GRID)) {
            double loss = 0;
            for (int step = 1; step <= steps; step++) {
                loss = model.step(4, 0.02f);
                if (step % every == 0 || step == steps) {
                    publisher.publish(RUN, step, SnapshotMode.UPDATE, step == steps, Map.of("model", "linear-32x8"),
                            snapshot(model, step));
                }
                if (step % Math.max(1, steps / 10) == 0) {
                    out.printf("step %4d/%d  train loss %.3f  (snapshot every %d steps)%n", step, steps, loss, every);
                }
            }
        }
    }

    private static List<TensorSource> snapshot(Regression model, long step) {
        ByteBuffer counter = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, step);
        return List.of(
                TensorSource.ofFloats("linear.weight", model.weight, model.outputs, model.inputs),
                TensorSource.ofFloats("linear.bias", model.bias, model.outputs),
                TensorSource.ofBytes(new TensorSpec("steps_seen", Dtype.I64, new long[0]), counter));
    }

    private Map<String, Path> awaitFinal(BlockingQueue<CheckpointManifest> landed, AveragerService service)
            throws InterruptedException {
        Map<String, Path> finals = new HashMap<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (finals.size() < PROFILES.size()) {
            CheckpointManifest m = landed.poll(1, TimeUnit.SECONDS);
            if (service.failure().isDone()) {
                throw new AveragerException("The service failed: " + service.failure().getNow(null));
            }
            if (m != null && m.getStep() == steps) {
                finals.put(m.getProfile(), Path.of(URI.create(m.getUri())));
            }
            if (System.nanoTime() > deadline) {
                throw new AveragerException("No final checkpoint of step " + steps + " after 120 s; got " + finals.keySet());
            }
        }
        return finals;
    }

    private Map<String, Double> report(Regression model, Map<String, Path> finals) throws IOException {
        Map<String, Double> losses = new HashMap<>();
        losses.put("raw", model.validationLoss(model.weight, model.bias, 2000));
        out.printf("%nvalidation loss (mean squared error against the true model):%n");
        out.printf("  %-10s %.5f  (the trained weights)%n", "raw", losses.get("raw"));
        for (String profile : PROFILES.keySet()) {
            try (SafetensorsReader r = SafetensorsReader.open(finals.get(profile))) {
                float[] w = floats(r.read("linear.weight", 0, model.weight.length));
                float[] b = floats(r.read("linear.bias", 0, model.bias.length));
                double loss = model.validationLoss(w, b, 2000);
                losses.put(profile, loss);
                out.printf("  %-10s %.5f  (EMA %s: %.1fx %s)%n", profile, loss, new java.util.TreeMap<>(PROFILES.get(profile)),
                        Math.max(loss, losses.get("raw")) / Math.min(loss, losses.get("raw")), loss < losses.get("raw") ? "lower" : "HIGHER");
                out.printf("             %s%n", finals.get(profile));
            }
        }
        return losses;
    }

    private static float[] floats(ByteBuffer le) {
        float[] f = new float[le.remaining() / 4];
        le.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }
}
