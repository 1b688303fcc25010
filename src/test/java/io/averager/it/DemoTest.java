package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.demo.Demo;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The README's main job runs end to end and its EMA weights beat the raw ones. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class DemoTest {

    @TempDir
    Path dir;

    @Test
    void demoEmaWeightsBeatTheRawWeightsOnValidationLoss() throws Exception {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        Map<String, Double> losses;
        try (PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
            losses = new Demo(dir, 300, 5, out).run();
        }
        assertThat(losses).containsKeys("raw", "ema", "ema_warmup");
        assertThat(losses.get("ema")).isLessThan(losses.get("raw"));
        assertThat(losses.get("ema_warmup")).isLessThan(losses.get("raw"));
        assertThat(printed.toString(StandardCharsets.UTF_8)).contains("checkpoint ema", "validation loss");
        assertThat(dir.resolve("checkpoints/runs/demo-regression/ema/step-300.safetensors")).satisfies(p -> assertThat(Files.size(p)).isPositive());
    }
}
