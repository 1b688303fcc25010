package io.averager.cli;

import io.averager.bench.KernelBench;
import io.averager.bench.ReplayBench;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code averager bench}: benchmarks that print figures next to their limits. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Runs a benchmark and prints its figures as ratios to the limit measured in the same run."
                + " 'replay': replay throughput on an embedded broker against a bare consumer reading the same topic."
                + " 'kernels': EMA kernel throughput for each floating input type against a plain-Java triad over"
                + " memory.")
final class BenchCommand implements Callable<Integer> {

    enum Which { replay, kernels }

    @Parameters(paramLabel = "BENCHMARK", description = "replay or kernels")
    Which which;

    @Option(names = "--model-mib", defaultValue = "64", description = "Model size in MiB of float32 (default: ${DEFAULT-VALUE}).")
    int modelMiB;

    @Option(names = "--snapshots", defaultValue = "16", description = "Snapshots to publish (default: ${DEFAULT-VALUE}).")
    int snapshots;

    @Option(names = "--kernel", defaultValue = "java", description = "Kernel for 'kernels' (default: ${DEFAULT-VALUE}).")
    String kernel;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "Where the broker and files go (default: a new temporary directory).")
    Path dataDir;

    @Override
    public Integer call() throws Exception {
        if (which == Which.kernels) {
            new KernelBench(kernel, System.out).run();
            return 0;
        }
        new ReplayBench(Workspace.prepare(dataDir, "averager-bench-"), modelMiB, snapshots, System.out).run();
        return 0;
    }
}
