package io.averager.cli;

import io.averager.demo.Demo;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code averager demo}: the main job of the README. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Starts an embedded broker and the service, trains a small model by noisy SGD while publishing"
                + " its weights, prints the checkpoints as they land, and compares raw and EMA weights on validation loss."})
final class DemoCommand implements Callable<Integer> {

    @Option(names = "--steps", defaultValue = "500", description = "Optimizer steps to train (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--every", defaultValue = "5", description = "Publish a snapshot every this many steps (default: ${DEFAULT-VALUE}).")
    int every;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "Where the broker, state and checkpoints go (default: a new temporary directory).")
    Path dataDir;

    @Override
    public Integer call() throws Exception {
        Path dir = Workspace.prepare(dataDir, "averager-demo-");
        Map<String, Double> losses = new Demo(dir, steps, every, System.out).run();
        boolean better = losses.entrySet().stream()
                .filter(e -> !e.getKey().equals("raw"))
                .allMatch(e -> e.getValue() < losses.get("raw"));
        System.out.println(better ? "The EMA weights beat the raw weights." : "The EMA weights did not beat the raw weights.");
        return 0;
    }
}
