package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code averager bench pipeline} on a cluster of its own ({@code --bootstrap-servers}): a tiny
 * model runs every row of the table, each with a rate, and the bench leaves no topic or consumer
 * group of its own behind. Checks that the benchmark works, not how fast anything is.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class BenchPipelineTest {

    private static final Pattern ROW = Pattern.compile("^(bare consumer|bare pipe|bare changelogged EMA|end to end|replay)\\D.*?\\s(\\d+\\.\\d)\\s+(\\d+\\.\\d\\d)\\s",
            Pattern.MULTILINE);

    @Test
    void runsEveryRowOnAClusterAndLeavesNothingBehind(@TempDir Path dir) throws Exception {
        PrintStream stdout = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        int status;
        try (PrintStream capture = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
            System.setOut(capture);
            status = Main.commandLine().execute("bench", "pipeline", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                    "--params", "1000000", "--dtypes", "F32", "--budget-mib", "8", "--service-jvm", "-Xmx256m",
                    "--data-dir", dir.toString());
        } finally {
            System.setOut(stdout);
        }
        String output = printed.toString(StandardCharsets.UTF_8);
        stdout.print(output);

        assertThat(status).isZero();
        String table = output.substring(output.lastIndexOf("what"));
        Matcher rows = ROW.matcher(table);
        int count = 0;
        while (rows.find()) {
            count++;
            assertThat(Double.parseDouble(rows.group(2))).as(rows.group()).isPositive();
            assertThat(Double.parseDouble(rows.group(3))).as(rows.group()).isPositive();
        }
        assertThat(count).as(table).isEqualTo(6);
        assertThat(table).contains("bare changelogged EMA 1M F32, read and write back", "end to end 1M F32, publish to checkpoint",
                "replay 1M F32", "end to end 1M F32, no changelog",
                "The bench JVM runs the bench's own clients (bare clients, publisher, replay);");
        // rate, /pipe, heap, RSS, CPU, applying, JIT, bare / service, bare / applying, bench CPU, busy, Kafka writes, state dir
        double[] changelog = figures(table, "end to end 1M F32, publish to checkpoint");
        double[] local = figures(table, "end to end 1M F32, no changelog, publish to checkpoint");
        assertThat(changelog).hasSize(13);
        assertThat(changelog[5]).as("applying CPU").isPositive().isLessThanOrEqualTo(changelog[4]);
        assertThat(changelog[7]).as("bare / service").isPositive().isLessThanOrEqualTo(changelog[8]);
        // The changelog gets every applied byte back (float32 state of float32 snapshots); without it, only the checkpoint.
        assertThat(changelog[11]).as("Kafka writes with the changelog").isGreaterThan(1.0);
        assertThat(local[11]).as("Kafka writes without it").isLessThan(changelog[11] - 0.9);

        try (Admin admin = Admin.create(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
            assertThat(admin.listTopics().names().get()).noneMatch(t -> t.startsWith("bench-"));
            assertThat(admin.listConsumerGroups().all().get()).noneMatch(g -> g.groupId().startsWith("bench-"));
        }
    }

    /** The figures of the table's row that starts with {@code what}, sizes without their unit. */
    private static double[] figures(String table, String what) {
        String row = table.lines().filter(l -> l.startsWith(what)).findFirst().orElseThrow();
        return Arrays.stream(row.substring(what.length()).trim().split("\\s+")).filter(t -> !t.equals("MiB"))
                .mapToDouble(Double::parseDouble).toArray();
    }
}
