package io.averager.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** topology/topology.txt and topology.md are what `averager describe` prints for the default settings. */
class DescribeCommandTest {

    @Test
    void renderedTopologyMatchesTheCode() throws Exception {
        assertThat(Files.readString(Path.of("topology/topology.txt"))).isEqualTo(DescribeCommand.describe(Map.of()));
    }

    @Test
    void diagramMatchesTheCode() throws Exception {
        assertThat(Files.readString(Path.of("topology/topology.md"))).isEqualTo(DescribeCommand.diagram(Map.of()));
    }

    @Test
    void diagramShowsEveryNodeStoreAndTopic() {
        assertThat(DescribeCommand.diagram(Map.of()))
                .contains("n_apply[\"processor: apply\"]", "s_distances[(\"store: distances\")]",
                        "n_apply -.- s_ema", "t_snapshots --> n_snapshots", "n_dead_letters --> t_averager_dead_letters");
    }

    @Test
    void describesEveryProcessorAndStore() {
        assertThat(DescribeCommand.describe(Map.of()))
                .contains("Processor: validate", "Processor: apply (stores: [distances, restore-points, ema, runs, layouts])", "Processor: emit",
                        "Sink: checkpoints", "Sink: dead-letters");
    }
}
