package io.averager.cli;

import io.averager.config.AveragerConfig;
import io.averager.service.AveragerService;
import io.averager.topology.AveragerTopology;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code averager describe}: prints the Kafka Streams topology the service runs. */
@Command(name = "describe", mixinStandardHelpOptions = true,
        description = "Prints the service's Kafka Streams topology (sources, processors, stores, sinks) as Kafka Streams"
                + " describes it; topology/topology.txt holds it for the default settings.")
final class DescribeCommand implements Callable<Integer> {

    @Option(names = {"-D", "--set"}, paramLabel = "KEY=VALUE", description = "A setting (topic names, profiles).")
    Map<String, String> settings = new HashMap<>();

    @Override
    public Integer call() {
        System.out.print(describe(settings));
        return 0;
    }

    /** The description of the topology built from these settings (no cluster needed). */
    static String describe(Map<String, String> settings) {
        Map<String, String> s = new HashMap<>(settings);
        s.putIfAbsent("bootstrap.servers", "unused:9092");
        return AveragerTopology.build(AveragerService.settings(new AveragerConfig(s))).describe().toString();
    }
}
