package io.averager.cli;

import io.averager.config.AveragerConfig;
import io.averager.service.AveragerService;
import io.averager.topology.AveragerTopology;
import java.util.HashMap;
import org.apache.kafka.streams.Topology;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code averager describe}: prints the Kafka Streams topology the service runs. */
@Command(name = "describe", mixinStandardHelpOptions = true,
        description = "Prints the service's Kafka Streams topology (sources, processors, stores, sinks) as Kafka Streams"
                + " describes it, or as a Mermaid diagram; topology/topology.txt and topology/topology.md hold them for the"
                + " default settings.")
final class DescribeCommand implements Callable<Integer> {

    @Option(names = {"-D", "--set"}, paramLabel = "KEY=VALUE", description = "A setting (topic names, profiles).")
    Map<String, String> settings = new HashMap<>();

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = "text (Kafka Streams' own description) or mermaid (a Markdown page with a Mermaid flowchart;"
                    + " topology/topology.md holds it).")
    String format;

    @Override
    public Integer call() {
        switch (format) {
            case "text" -> System.out.print(describe(settings));
            case "mermaid" -> System.out.print(diagram(settings));
            default -> {
                System.err.println("Unknown format " + format + ": expected text or mermaid");
                return 2;
            }
        }
        return 0;
    }

    /** The topology built from these settings as a Markdown page with a Mermaid flowchart. */
    static String diagram(Map<String, String> settings) {
        return TopologyDiagram.markdown(topology(settings).describe());
    }

    /** The description of the topology built from these settings (no cluster needed). */
    static String describe(Map<String, String> settings) {
        return topology(settings).describe().toString();
    }

    private static Topology topology(Map<String, String> settings) {
        Map<String, String> s = new HashMap<>(settings);
        s.putIfAbsent("bootstrap.servers", "unused:9092");
        return AveragerTopology.build(AveragerService.settings(new AveragerConfig(s)));
    }
}
