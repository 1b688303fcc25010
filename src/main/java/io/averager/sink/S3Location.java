package io.averager.sink;

import java.net.URI;
import java.net.URISyntaxException;

/**
 * A bucket and a key prefix, as in {@code s3://bucket/prefix}; the prefix is empty or ends in
 * '/'. Immutable.
 */
public record S3Location(String bucket, String prefix) {

    public S3Location {
        if (bucket.isEmpty()) {
            throw new IllegalArgumentException("S3 location without a bucket");
        }
        if (!prefix.isEmpty() && !prefix.endsWith("/")) {
            prefix = prefix + "/";
        }
    }

    /** Parses {@code s3://bucket}, {@code s3://bucket/} or {@code s3://bucket/some/prefix}. */
    public static S3Location parse(String location) {
        URI uri = URI.create(location);
        if (!"s3".equals(uri.getScheme()) || uri.getAuthority() == null) {
            throw new IllegalArgumentException("Not an S3 location: " + location + "; expected s3://bucket/prefix");
        }
        String path = uri.getPath() == null ? "" : uri.getPath();
        return new S3Location(uri.getAuthority(), path.startsWith("/") ? path.substring(1) : path);
    }

    /** The bucket of an object URI {@code s3://bucket/key}. */
    public static String bucketOf(URI object) {
        keyOf(object);
        return object.getAuthority();
    }

    /** The key of an object URI {@code s3://bucket/key}, decoded. */
    public static String keyOf(URI object) {
        if (!"s3".equals(object.getScheme()) || object.getAuthority() == null || object.getPath() == null
                || object.getPath().length() < 2) {
            throw new IllegalArgumentException("Not an S3 object URI: " + object + "; expected s3://bucket/key");
        }
        return object.getPath().substring(1);
    }

    /** The full key of {@code key} below the prefix. */
    public String key(String key) {
        return prefix + key;
    }

    /**
     * The URI of the object with full key {@code fullKey}: characters that URIs do not allow,
     * and '%', are percent-encoded, so {@link #keyOf} gives the key back.
     */
    public URI uri(String fullKey) {
        try {
            return new URI("s3", bucket, "/" + fullKey, null, null);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("Cannot make a URI of bucket " + bucket + " and key " + fullKey, e);
        }
    }

    @Override
    public String toString() {
        return "s3://" + bucket + "/" + prefix;
    }
}
