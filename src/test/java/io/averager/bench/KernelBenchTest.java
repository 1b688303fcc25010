package io.averager.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.offset;

import io.averager.kernel.Kernels;
import io.averager.publish.SnapshotPublisher;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The kernel bench on a few chunks: every row of its table is printed with its own rate, the
 * rate of the triad passes run between its passes, and their ratio. Checks that the benchmark
 * works, not how fast anything is.
 */
class KernelBenchTest {

    private static final int GRID = Math.toIntExact(SnapshotPublisher.DEFAULT_GRID);
    private static final Pattern ROW = Pattern.compile(
            "^(java update\\+sums|java update|non-finite scan), (F32|F16|BF16|F64)\\b.*?\\s(\\d+\\.\\d)\\s+(\\d+\\.\\d)\\s+(\\d+\\.\\d\\d)$",
            Pattern.MULTILINE);

    @Test
    void printsEveryRowWithItsOwnTriadAndRatio() {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
            new KernelBench(Kernels.JAVA, out, 2 * GRID).run();
        }
        String output = printed.toString(StandardCharsets.UTF_8);

        List<String> rows = new ArrayList<>();
        Matcher m = ROW.matcher(output);
        while (m.find()) {
            rows.add(m.group(1) + " " + m.group(2));
            double rate = Double.parseDouble(m.group(3));
            double triad = Double.parseDouble(m.group(4));
            double ratio = Double.parseDouble(m.group(5));
            assertThat(rate).as("GB/s of %s", m.group()).isPositive();
            assertThat(triad).as("triad GB/s of %s", m.group()).isPositive();
            assertThat(ratio).as("ratio of %s", m.group()).isCloseTo(rate / triad, offset(0.02));
        }
        assertThat(rows).as(output).containsExactly(
                "java update+sums F32", "java update+sums F16", "java update+sums BF16", "java update+sums F64",
                "java update F32", "java update F16", "java update BF16", "java update F64",
                "non-finite scan F32", "non-finite scan F16", "non-finite scan BF16", "non-finite scan F64");
        assertThat(output).contains("kernel 'java' runs ").contains("2 Mi elements a pass");
    }

    @Test
    void takesWholeChunksOnly() {
        assertThatThrownBy(() -> new KernelBench(Kernels.JAVA, System.out, GRID + 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("whole chunks of " + GRID);
    }
}
