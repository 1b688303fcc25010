package io.averager.cli;

import io.averager.config.AveragerConfig;
import io.averager.service.AveragerService;
import io.averager.topology.TopicSpec;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.admin.Admin;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code averager topics create|check}: applies or compares the topic specifications. */
@Command(name = "topics", mixinStandardHelpOptions = true,
        description = {"create: creates the service's missing topics from topology/topics.properties.",
                "check: reports topics that are missing or differ from their specification (exit status 1 if any)."})
final class TopicsCommand implements Callable<Integer> {

    enum Action { create, check }

    @Parameters(paramLabel = "ACTION", description = "create or check")
    Action action;

    @ArgGroup(exclusive = true, multiplicity = "1")
    ClusterOptions cluster;

    @Option(names = {"-D", "--set"}, paramLabel = "KEY=VALUE", description = "A setting that overrides the config file.")
    Map<String, String> overrides = new HashMap<>();

    @Override
    public Integer call() {
        Map<String, String> settings = cluster.settings();
        settings.putAll(overrides);
        AveragerConfig config = new AveragerConfig(settings);
        List<TopicSpec> specs = AveragerService.topics(config);
        try (Admin admin = Admin.create(config.clientProperties())) {
            if (action == Action.create) {
                TopicSpec.createMissing(admin, specs, config.getShort(AveragerConfig.TOPIC_REPLICATION_FACTOR_CONFIG));
            }
            List<String> differences = TopicSpec.differences(admin, specs);
            differences.forEach(System.out::println);
            if (differences.isEmpty()) {
                specs.forEach(s -> System.out.println("OK " + s.name()));
            }
            return differences.isEmpty() ? 0 : 1;
        }
    }
}
