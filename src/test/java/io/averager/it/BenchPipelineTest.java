package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
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

    private static final Pattern ROW = Pattern.compile("^(bare consumer|bare pipe|end to end|replay)\\D.*?\\s(\\d+\\.\\d)\\s+(\\d+\\.\\d\\d)\\s",
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
        assertThat(count).as(table).isEqualTo(5);
        assertThat(table).contains("end to end 1M F32, publish to checkpoint", "replay 1M F32",
                "end to end 1M F32, no changelog", "The bench JVM runs the bench's own clients (bare clients, publisher, replay);");

        try (Admin admin = Admin.create(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
            assertThat(admin.listTopics().names().get()).noneMatch(t -> t.startsWith("bench-"));
            assertThat(admin.listConsumerGroups().all().get()).noneMatch(g -> g.groupId().startsWith("bench-"));
        }
    }
}
