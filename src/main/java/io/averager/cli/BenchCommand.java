package io.averager.cli;

import io.averager.bench.ReplayBench;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code averager bench}: benchmarks that print figures next to their limits. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Runs a benchmark on an embedded broker and prints its figures as ratios to the limit measured in"
                + " the same run. 'replay': replay throughput against a bare consumer reading the same topic.")
final class BenchCommand implements Callable<Integer> {

    enum Which { replay }

    @Parameters(paramLabel = "BENCHMARK", description = "replay")
    Which which;

    @Option(names = "--model-mib", defaultValue = "64", description = "Model size in MiB of float32 (default: ${DEFAULT-VALUE}).")
    int modelMiB;

    @Option(names = "--snapshots", defaultValue = "16", description = "Snapshots to publish (default: ${DEFAULT-VALUE}).")
    int snapshots;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "Where the broker and files go (default: a new temporary directory).")
    Path dataDir;

    @Override
    public Integer call() throws Exception {
        new ReplayBench(Workspace.prepare(dataDir, "averager-bench-"), modelMiB, snapshots, System.out).run();
        return 0;
    }
}
