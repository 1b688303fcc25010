package io.averager.cli;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;
import org.apache.kafka.streams.TopologyDescription;

/**
 * Renders a Kafka Streams topology description as a Mermaid flowchart: topics as stadiums, the
 * source, processor and sink nodes as boxes, state stores as cylinders joined to their
 * processors by dotted lines. GitHub and most Markdown viewers draw it.
 */
final class TopologyDiagram {

    private TopologyDiagram() {
    }

    /** A Markdown page holding the flowchart. */
    static String markdown(TopologyDescription description) {
        return "# The averager topology\n\n"
                + "Generated from `Topology.describe()` by `averager describe --format mermaid`;"
                + " `DescribeCommandTest` checks that it is current. Topic names are the defaults.\n\n"
                + "```mermaid\n" + mermaid(description) + "```\n";
    }

    static String mermaid(TopologyDescription description) {
        StringBuilder out = new StringBuilder("flowchart LR\n");
        TreeSet<String> topics = new TreeSet<>();
        TreeSet<String> stores = new TreeSet<>();
        List<String> edges = new ArrayList<>();
        List<TopologyDescription.Subtopology> subtopologies = new ArrayList<>(description.subtopologies());
        subtopologies.sort(Comparator.comparingInt(TopologyDescription.Subtopology::id));
        for (TopologyDescription.Subtopology sub : subtopologies) {
            out.append("  subgraph sub").append(sub.id()).append("[\"sub-topology ").append(sub.id()).append("\"]\n");
            List<TopologyDescription.Node> nodes = new ArrayList<>(sub.nodes());
            nodes.sort(Comparator.comparing(TopologyDescription.Node::name));
            for (TopologyDescription.Node node : nodes) {
                out.append("    ").append(id("n", node.name())).append("[\"").append(kind(node)).append(": ")
                        .append(node.name()).append("\"]\n");
                if (node instanceof TopologyDescription.Source source) {
                    for (String topic : new TreeSet<>(source.topicSet())) {
                        topics.add(topic);
                        edges.add(id("t", topic) + " --> " + id("n", node.name()));
                    }
                } else if (node instanceof TopologyDescription.Processor processor) {
                    for (String store : new TreeSet<>(processor.stores())) {
                        stores.add(store);
                        edges.add(id("n", node.name()) + " -.- " + id("s", store));
                    }
                } else if (node instanceof TopologyDescription.Sink sink && sink.topic() != null) {
                    topics.add(sink.topic());
                    edges.add(id("n", node.name()) + " --> " + id("t", sink.topic()));
                }
                new TreeSet<>(node.successors().stream().map(TopologyDescription.Node::name).toList())
                        .forEach(next -> edges.add(id("n", node.name()) + " --> " + id("n", next)));
            }
            out.append("  end\n");
        }
        topics.forEach(t -> out.append("  ").append(id("t", t)).append("([\"topic: ").append(t).append("\"])\n"));
        stores.forEach(s -> out.append("  ").append(id("s", s)).append("[(\"store: ").append(s).append("\")]\n"));
        edges.forEach(e -> out.append("  ").append(e).append('\n'));
        return out.toString();
    }

    private static String kind(TopologyDescription.Node node) {
        if (node instanceof TopologyDescription.Source) {
            return "source";
        }
        return node instanceof TopologyDescription.Sink ? "sink" : "processor";
    }

    /** A Mermaid node id: a prefix for the kind, then the name with anything but letters and digits as _. */
    private static String id(String prefix, String name) {
        return prefix + "_" + name.replaceAll("[^A-Za-z0-9]", "_");
    }
}
