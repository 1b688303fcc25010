package io.averager.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** topology/topology.txt is what `averager describe` prints for the default settings. */
class DescribeCommandTest {

    @Test
    void renderedTopologyMatchesTheCode() throws Exception {
        assertThat(Files.readString(Path.of("topology/topology.txt"))).isEqualTo(DescribeCommand.describe(Map.of()));
    }

    @Test
    void describesEveryProcessorAndStore() {
        assertThat(DescribeCommand.describe(Map.of()))
                .contains("Processor: validate", "Processor: apply (stores: [distances, ema, runs])", "Processor: emit",
                        "Sink: checkpoints", "Sink: dead-letters");
    }
}
