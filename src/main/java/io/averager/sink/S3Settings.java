package io.averager.sink;

import java.net.URI;
import java.util.Optional;

/**
 * How to reach an S3 API: AWS itself or an S3-compatible store (MinIO, Ceph, R2). Immutable.
 *
 * @param endpoint the store's URL, e.g. {@code http://minio:9000}; empty for AWS
 * @param region the signing region; empty for the SDK's default chain, or {@code us-east-1}
 *     with an endpoint
 * @param pathStyle path-style requests ({@code ENDPOINT/BUCKET/KEY}); empty: with an endpoint only
 * @param accessKey with {@code secretKey}: explicit credentials; empty for the SDK's default chain
 *     (environment, system properties, profile, container or instance role)
 */
public record S3Settings(Optional<URI> endpoint, Optional<String> region, Optional<Boolean> pathStyle,
                         Optional<String> accessKey, Optional<String> secretKey) {

    /** AWS with the SDK's defaults for region and credentials. */
    public static final S3Settings DEFAULT = new S3Settings(Optional.empty(), Optional.empty(), Optional.empty(),
            Optional.empty(), Optional.empty());

    public S3Settings {
        if (accessKey.isPresent() != secretKey.isPresent()) {
            throw new IllegalArgumentException("S3 credentials need both an access key and a secret key, or neither");
        }
    }

    /** Where requests go, for messages. */
    public String describeEndpoint() {
        return endpoint.map(URI::toString).orElse("AWS S3" + region.map(r -> " (" + r + ")").orElse(""));
    }

    boolean usePathStyle() {
        return pathStyle.orElse(endpoint.isPresent());
    }
}
