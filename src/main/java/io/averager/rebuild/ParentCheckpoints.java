package io.averager.rebuild;

import io.averager.sink.ObjectStore;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * How the rebuilder finds and reads a fork's parent checkpoints: the manifests topic and the
 * run-events topic whose rewinds tell the superseded ones (read with {@code consumerProperties}),
 * the service's profiles (a fork takes every one), the object stores the manifests name (opened by
 * {@code storeAt} from a location such as {@code s3://bucket}) and a directory of its own for the
 * files while they are published. Immutable.
 */
public record ParentCheckpoints(Map<String, Object> consumerProperties, String manifestsTopic, String runEventsTopic,
                                List<String> profiles, Function<String, ObjectStore> storeAt, Path workDir) {

    public ParentCheckpoints {
        consumerProperties = Collections.unmodifiableMap(new HashMap<>(consumerProperties));
        profiles = List.copyOf(profiles);
    }
}
