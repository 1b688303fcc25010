package io.averager.it;

import io.averager.sink.S3Location;
import io.averager.sink.S3ObjectStore;
import io.averager.sink.S3Settings;
import java.net.URI;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Stores one file with {@link S3ObjectStore}, as its own JVM: {@code ENDPOINT ACCESS_KEY
 * SECRET_KEY s3://BUCKET/PREFIX KEY FILE}. Prints the object's URI. For tests that bound its heap.
 */
public final class S3PutMain {

    private S3PutMain() {
    }

    public static void main(String[] args) throws Exception {
        S3Settings settings = new S3Settings(Optional.of(URI.create(args[0])), Optional.empty(), Optional.empty(),
                Optional.of(args[1]), Optional.of(args[2]));
        try (S3ObjectStore store = S3ObjectStore.open(S3Location.parse(args[3]), settings)) {
            System.out.println(store.put(args[4], Path.of(args[5])));
        }
    }
}
