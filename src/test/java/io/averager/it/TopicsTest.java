package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.cli.Main;
import io.averager.config.AveragerConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code averager topics create|check} applies topology/topics.properties and reports drift. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TopicsTest {

    @Test
    void createsMissingTopicsAndReportsTopicsThatDrifted() throws Exception {
        String prefix = SharedKafka.unique("topics");
        String[] names = {
            "-D", AveragerConfig.TOPIC_SNAPSHOTS_CONFIG + "=" + prefix + "-snapshots",
            "-D", AveragerConfig.TOPIC_CHECKPOINTS_CONFIG + "=" + prefix + "-checkpoints",
            "-D", AveragerConfig.TOPIC_MANIFESTS_CONFIG + "=" + prefix + "-manifests",
            "-D", AveragerConfig.TOPIC_DEAD_LETTERS_CONFIG + "=" + prefix + "-dead-letters",
            "-D", AveragerConfig.TOPIC_RUN_EVENTS_CONFIG + "=" + prefix + "-run-events"};

        assertThat(topics("check", names)).startsWith("1\n").contains("MISSING " + prefix + "-snapshots");
        assertThat(topics("create", names)).startsWith("0\n").contains("OK " + prefix + "-snapshots");
        assertThat(topics("check", names)).startsWith("0\n");

        try (Admin admin = Admin.create(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()))) {
            ConfigResource snapshots = new ConfigResource(ConfigResource.Type.TOPIC, prefix + "-snapshots");
            admin.incrementalAlterConfigs(Map.of(snapshots, List.of(new AlterConfigOp(
                    new ConfigEntry("retention.ms", "86400000"), AlterConfigOp.OpType.SET)))).all().get();
        }
        // The broker answers the alteration before every reader of configs sees it.
        String drifted = Await.waitingFor("the altered retention to show in a check", Duration.ofSeconds(10))
                .every(Duration.ofMillis(100)).until(() -> topics("check", names), out -> out.startsWith("1\n"));
        assertThat(drifted).contains("DIFFERS " + prefix + "-snapshots: retention.ms is 86400000, spec says -1");
    }

    /** Exit status, a newline, then what the command printed. */
    private static String topics(String action, String... names) {
        PrintStream stdout = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        int status;
        try (PrintStream capture = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
            System.setOut(capture);
            String[] args = new String[names.length + 4];
            args[0] = "topics";
            args[1] = action;
            args[2] = "--bootstrap-servers";
            args[3] = SharedKafka.bootstrapServers();
            System.arraycopy(names, 0, args, 4, names.length);
            status = Main.commandLine().execute(args);
        } finally {
            System.setOut(stdout);
        }
        return status + "\n" + printed.toString(StandardCharsets.UTF_8);
    }
}
