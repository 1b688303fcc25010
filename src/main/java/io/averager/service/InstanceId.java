package io.averager.service;

import io.averager.AveragerException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;

/**
 * The name of one service instance, unique among the instances of an application and stable
 * across its restarts: its {@code group.instance.id} when it is a static member, else an id kept
 * in its state directory (created on first start). The checkpoint sink's producer takes its
 * transactional id from it, so instances never fence each other, while a restarted instance
 * fences what its previous life left open.
 */
public final class InstanceId {

    /** The file under the state directory that keeps the id of an instance without group.instance.id. */
    public static final String FILE = "averager-instance.id";

    private InstanceId() {
    }

    /**
     * @param consumerProperties the sink's consumer settings, where {@code group.instance.id} may be
     * @param stateDir the instance's state directory
     */
    public static String of(Map<String, Object> consumerProperties, Path stateDir) {
        Object staticMember = consumerProperties.get(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG);
        if (staticMember != null && !staticMember.toString().isBlank()) {
            return staticMember.toString();
        }
        Path file = stateDir.resolve(FILE);
        try {
            if (Files.exists(file)) {
                String id = Files.readString(file, StandardCharsets.UTF_8).strip();
                if (!id.isEmpty()) {
                    return id;
                }
            }
            Files.createDirectories(stateDir);
            String id = UUID.randomUUID().toString();
            Path staged = Files.createTempFile(stateDir, FILE, ".part");
            Files.writeString(staged, id + "\n", StandardCharsets.UTF_8);
            Files.move(staged, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return id;
        } catch (IOException e) {
            throw new AveragerException("Cannot keep this instance's id in " + file + ": " + e.getMessage()
                    + "; state.dir must be a writable directory of this instance's own", e);
        }
    }
}
