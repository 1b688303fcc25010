package io.averager.topology;

import io.averager.AveragerException;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One topic the service uses: its name on the cluster and its specification from
 * {@code topology/topics.properties} (partitions and topic configs).
 *
 * @param logical the name in topics.properties: snapshots, checkpoints, manifests, dead-letters
 */
public record TopicSpec(String logical, String name, int partitions, Map<String, String> configs) {

    private static final Logger log = LoggerFactory.getLogger(TopicSpec.class);
    private static final String RESOURCE = "/topology/topics.properties";

    /** The spec of {@code logical} from topics.properties, under the cluster name {@code name}. */
    public static TopicSpec load(String logical, String name, int partitionsOverride) {
        Properties p = new Properties();
        try (InputStream in = TopicSpec.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new AveragerException("Topic specifications " + RESOURCE + " are missing from the classpath");
            }
            p.load(in);
        } catch (IOException e) {
            throw new AveragerException("Cannot read topic specifications " + RESOURCE, e);
        }
        String partitions = p.getProperty(logical + ".partitions");
        if (partitions == null) {
            throw new AveragerException("No topic specification for '" + logical + "' in " + RESOURCE);
        }
        Map<String, String> configs = new HashMap<>();
        String prefix = logical + ".config.";
        for (String key : p.stringPropertyNames()) {
            if (key.startsWith(prefix)) {
                configs.put(key.substring(prefix.length()), p.getProperty(key));
            }
        }
        int n = partitionsOverride > 0 ? partitionsOverride : Integer.parseInt(partitions.trim());
        return new TopicSpec(logical, name, n, Map.copyOf(configs));
    }

    /** Creates the topics that do not exist yet; leaves existing ones as they are. */
    public static void createMissing(Admin admin, Collection<TopicSpec> specs, short replicationFactor) {
        try {
            Set<String> existing = admin.listTopics().names().get();
            List<NewTopic> missing = new ArrayList<>();
            for (TopicSpec spec : specs) {
                if (!existing.contains(spec.name())) {
                    missing.add(new NewTopic(spec.name(), Optional.of(spec.partitions()),
                            replicationFactor > 0 ? Optional.of(replicationFactor) : Optional.empty())
                            .configs(spec.configs()));
                }
            }
            if (missing.isEmpty()) {
                return;
            }
            admin.createTopics(missing).values().forEach((name, future) -> {
                try {
                    future.get();
                    log.info("Created topic {}", name);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new AveragerException("Cannot create topic " + name + ": " + e.getCause().getMessage(), e.getCause());
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AveragerException("Interrupted while creating topic " + name, e);
                }
            });
            awaitVisible(admin, missing.stream().map(NewTopic::name).toList());
        } catch (ExecutionException e) {
            throw new AveragerException("Cannot list topics: " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AveragerException("Interrupted while listing topics", e);
        }
    }

    /**
     * Waits until the brokers list the topics just created: the controller acknowledges creation
     * before every broker's metadata has it, and a check or a client right after would miss them.
     */
    private static void awaitVisible(Admin admin, List<String> names) throws ExecutionException, InterruptedException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        while (!admin.listTopics().names().get().containsAll(names)) {
            if (System.nanoTime() > deadline) {
                throw new AveragerException("Topics " + names + " were created but are not listed after 30 s");
            }
            Thread.sleep(100);
        }
    }

    /**
     * How the cluster's topics differ from {@code specs}, one line each ("MISSING topic",
     * "DIFFERS topic: key is X, spec says Y"); empty when they match. A topic may have more
     * partitions than its spec, never fewer.
     */
    public static List<String> differences(Admin admin, Collection<TopicSpec> specs) {
        try {
            Set<String> existing = admin.listTopics().names().get();
            List<String> out = new ArrayList<>();
            List<ConfigResource> resources = new ArrayList<>();
            for (TopicSpec spec : specs) {
                if (!existing.contains(spec.name())) {
                    out.add("MISSING " + spec.name());
                } else {
                    resources.add(new ConfigResource(ConfigResource.Type.TOPIC, spec.name()));
                }
            }
            if (resources.isEmpty()) {
                return out;
            }
            Map<ConfigResource, Config> configs = admin.describeConfigs(resources).all().get();
            Map<String, TopicDescription> descriptions = admin.describeTopics(
                    resources.stream().map(ConfigResource::name).toList()).allTopicNames().get();
            for (TopicSpec spec : specs) {
                Config config = configs.get(new ConfigResource(ConfigResource.Type.TOPIC, spec.name()));
                if (config == null) {
                    continue;
                }
                int partitions = descriptions.get(spec.name()).partitions().size();
                if (partitions < spec.partitions()) {
                    out.add("DIFFERS " + spec.name() + ": " + partitions + " partitions, spec says " + spec.partitions());
                }
                spec.configs().forEach((key, want) -> {
                    ConfigEntry entry = config.get(key);
                    String actual = entry == null ? null : entry.value();
                    if (!want.equals(actual)) {
                        out.add("DIFFERS " + spec.name() + ": " + key + " is " + actual + ", spec says " + want);
                    }
                });
            }
            return out;
        } catch (ExecutionException e) {
            throw new AveragerException("Cannot describe topics: " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AveragerException("Interrupted while describing topics", e);
        }
    }
}
