package io.averager.ops;

import io.averager.sink.ObjectStore;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * How the endpoint reaches stored checkpoints: the manifests topic and the run-events topic
 * whose rewinds tell the superseded ones (read with {@code consumerProperties}: connection and
 * security settings), the object stores its manifests
 * name (opened by {@code storeAt} from a location such as {@code s3://bucket/prefix}) and a local
 * directory of its own for temporary files (its contents are deleted at start). Immutable.
 */
public record CheckpointAccess(Map<String, Object> consumerProperties, String manifestsTopic, String runEventsTopic,
                               Function<String, ObjectStore> storeAt, Path workDir) {

    public CheckpointAccess {
        consumerProperties = Collections.unmodifiableMap(new HashMap<>(consumerProperties));
    }
}
