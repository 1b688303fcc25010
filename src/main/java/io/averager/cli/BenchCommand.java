package io.averager.cli;

import io.averager.Directories;
import io.averager.bench.KernelBench;
import io.averager.bench.PipelineBench;
import io.averager.bench.StateBench;
import io.averager.config.AveragerConfig;
import io.averager.ema.Dtype;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code averager bench}: benchmarks that print figures next to their limits. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Runs benchmarks and prints their figures as ratios to the limits measured in the same run."
                + " 'kernels': EMA kernel throughput for each floating input type against a plain-Java triad over"
                + " memory. 'state': what a run's state costs a chunk (bytes written, CPU) against the chunk's update."
                + " 'pipeline': on an embedded broker (or the cluster of --bootstrap-servers or --config), a bare"
                + " consumer and a bare producer-and-consumer pipe, then for each model a bare changelogged EMA"
                + " (read the snapshots, write the state bytes back transactionally) and the service (each its own"
                + " JVM) averaging it from publish to stored checkpoint, with the service's peak heap and RSS, its CPU"
                + " a GiB against the bare EMA's and the bytes it writes to Kafka, and a replay. 'all' (the default):"
                + " all three.")
final class BenchCommand implements Callable<Integer> {

    enum Which { all, kernels, state, pipeline }

    @Parameters(paramLabel = "BENCHMARK", defaultValue = "all", description = "all, kernels, state or pipeline (default: ${DEFAULT-VALUE})")
    Which which;

    @Option(names = "--kernel", defaultValue = "java", description = "Kernel for 'kernels' (default: ${DEFAULT-VALUE}).")
    String kernel;

    @Option(names = "--params", split = ",", paramLabel = "N", defaultValue = "10M,100M,1B",
            description = "Model sizes for 'pipeline', in parameters, with suffix M or B (default: ${DEFAULT-VALUE}).")
    List<String> params;

    @Option(names = "--dtypes", split = ",", defaultValue = "F32,BF16",
            description = "Parameter types for 'pipeline': F32 and/or BF16 (default: ${DEFAULT-VALUE}).")
    List<Dtype> dtypes;

    @Option(names = "--budget-mib", defaultValue = "4096",
            description = "Snapshot MiB to publish a model, at least two snapshots (default: ${DEFAULT-VALUE}).")
    long budgetMiB;

    @Option(names = "--service-jvm", split = " ", defaultValue = "-Xmx1g",
            description = "Options of the benchmarked service's JVM (default: ${DEFAULT-VALUE}).")
    List<String> serviceJvm;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "A service setting for 'pipeline' (any averager, Kafka Streams or client setting); repeatable.")
    Map<String, String> settings = Map.of();

    @Option(names = "--data-dir", paramLabel = "DIR", description = "Where the broker and files go (default: a new temporary directory).")
    Path dataDir;

    @ArgGroup(exclusive = true)
    ClusterOptions cluster;

    @Override
    public Integer call() throws Exception {
        if (which == Which.all || which == Which.kernels) {
            new KernelBench(kernel, System.out).run();
        }
        if (which == Which.all || which == Which.state) {
            new StateBench(System.out).run();
        }
        if (which == Which.all || which == Which.pipeline) {
            List<PipelineBench.Model> models = new ArrayList<>();
            for (Dtype dtype : dtypes) {
                for (String p : params) {
                    models.add(new PipelineBench.Model(parseParams(p), dtype));
                }
            }
            Path dir = Workspace.prepare(dataDir, "averager-bench-");
            try {
                new PipelineBench(dir, clients(), models, budgetMiB << 20, settings, serviceJvm, System.out).run();
            } finally {
                if (dataDir == null) {
                    Directories.deleteTree(dir);
                }
            }
        }
        return 0;
    }

    /** The cluster's client settings (address and security), or none for the embedded broker. */
    private Map<String, String> clients() {
        if (cluster == null) {
            return Map.of();
        }
        Map<String, String> clients = new HashMap<>();
        new AveragerConfig(cluster.settings()).clientProperties().forEach((k, v) -> clients.put(k, String.valueOf(v)));
        return clients;
    }

    private static long parseParams(String text) {
        String t = text.trim().toUpperCase();
        long unit = t.endsWith("B") ? 1_000_000_000L : t.endsWith("M") ? 1_000_000L : 1;
        return Long.parseLong(unit == 1 ? t : t.substring(0, t.length() - 1)) * unit;
    }
}
