package io.averager.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class StateBenchTest {

    @Test
    void printsARowALayoutWithTheBytesEachFormWritesAChunk() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        new StateBench(new PrintStream(bytes, true, StandardCharsets.UTF_8), 5_000_000).run();
        String out = bytes.toString(StandardCharsets.UTF_8);

        assertThat(out).contains("against one F32 chunk's update", "one record (before)", "split, layout kept (now)");
        for (StateBench.Layout layout : StateBench.LAYOUTS) {
            assertThat(out).contains(layout.name());
        }
        // The 7B-like layout: its single record carried the whole tensor list with every chunk.
        assertThat(out.lines().filter(l -> l.startsWith("7B-like")).findFirst().orElseThrow())
                .matches(".*\\|\\s+1\\d{4} B .*\\|\\s+\\d{3} B .*\\|\\s+\\d{3} B .*");
    }
}
