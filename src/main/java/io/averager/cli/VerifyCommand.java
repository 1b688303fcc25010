package io.averager.cli;

import io.averager.catalog.ManifestLog;
import io.averager.catalog.Verification;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code averager verify}: checks checkpoint files against their manifests. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Checks checkpoint files against the size and SHA-256 their manifests give.",
                "Exit status: 0 all match, 1 a file differs from its manifest, 2 a file has no manifest."})
final class VerifyCommand implements Callable<Integer> {

    @Option(names = "--bootstrap-servers", required = true, paramLabel = "HOST:PORT")
    String bootstrapServers;

    @Option(names = "--topic", defaultValue = "checkpoint-manifests", description = "Manifests topic (default: ${DEFAULT-VALUE}).")
    String topic;

    @Option(names = {"-X", "--consumer"}, paramLabel = "KEY=VALUE", description = "A Kafka consumer setting (security, say).")
    Map<String, String> consumer = new HashMap<>();

    @Parameters(paramLabel = "FILE|URI", arity = "1..*", description = "Checkpoint files, as paths or file: URIs.")
    List<String> files;

    @Override
    public Integer call() throws Exception {
        Map<String, Object> props = new HashMap<>(consumer);
        props.put("bootstrap.servers", bootstrapServers);
        var manifests = ManifestLog.readAll(props, topic, Duration.ofSeconds(60));
        int status = 0;
        for (String f : files) {
            Path file = f.startsWith("file:") ? Path.of(URI.create(f)) : Path.of(f);
            Verification v = Verification.of(file, manifests);
            System.out.println(v.describe());
            status = Math.max(status, v.manifest().isEmpty() ? 2 : v.ok() ? 0 : 1);
        }
        return status;
    }
}
