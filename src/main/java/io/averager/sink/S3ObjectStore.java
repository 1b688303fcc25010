package io.averager.sink;

import io.averager.AveragerException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * Keeps objects in an S3 bucket below a key prefix, on AWS or an S3-compatible store. A put
 * streams the file from disk, as one PutObject when small and as a multipart upload otherwise,
 * so no object is visible before it is complete and the heap never holds the file. A failed
 * multipart upload is aborted; if even the abort fails (the store is down), it is aborted again
 * before the next put and on {@link #close()}. Failures are {@link AveragerException}s naming the
 * bucket and the endpoint. Thread-safe.
 */
public final class S3ObjectStore implements ObjectStore {

    private static final Logger log = LoggerFactory.getLogger(S3ObjectStore.class);

    /** Smallest part of a multipart upload, and the largest file stored by one PutObject. */
    public static final long MIN_PART_SIZE = 8L << 20;
    /** S3's limit on the parts of one upload. */
    public static final int MAX_PARTS = 10_000;

    private final S3Location location;
    private final S3Settings settings;
    private final S3Client s3;
    private final Queue<Upload> unaborted = new ConcurrentLinkedQueue<>();

    private S3ObjectStore(S3Location location, S3Settings settings, S3Client s3) {
        this.location = location;
        this.settings = settings;
        this.s3 = s3;
    }

    /** A store for {@code location}; connects on first use. */
    public static S3ObjectStore open(S3Location location, S3Settings settings) {
        return new S3ObjectStore(location, settings, client(settings));
    }

    private static S3Client client(S3Settings settings) {
        S3ClientBuilder b = S3Client.builder()
                .httpClientBuilder(Apache5HttpClient.builder()
                        .connectionTimeout(Duration.ofSeconds(10))
                        .socketTimeout(Duration.ofSeconds(60)))
                .credentialsProvider(credentials(settings))
                .forcePathStyle(settings.usePathStyle())
                // Non-AWS stores reject or mishandle the SDK's default flexible checksums.
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        settings.endpoint().ifPresent(b::endpointOverride);
        settings.region().or(() -> settings.endpoint().map(e -> "us-east-1")).map(Region::of).ifPresent(b::region);
        try {
            return b.build();
        } catch (SdkException e) {
            throw new AveragerException("Cannot set up the S3 client for " + settings.describeEndpoint() + ": "
                    + e.getMessage() + " (set averager.s3.region, or AWS_REGION)", e);
        }
    }

    private static AwsCredentialsProvider credentials(S3Settings settings) {
        if (settings.accessKey().isPresent()) {
            return StaticCredentialsProvider.create(
                    AwsBasicCredentials.create(settings.accessKey().get(), settings.secretKey().orElseThrow()));
        }
        return DefaultCredentialsProvider.builder().build();
    }

    /** Part size for a file of {@code size} bytes: whole MiB, at least {@link #MIN_PART_SIZE}, at most {@link #MAX_PARTS} parts. */
    static long partSize(long size) {
        long mib = 1L << 20;
        long perPart = (size + MAX_PARTS - 1) / MAX_PARTS;
        return Math.max(MIN_PART_SIZE, (perPart + mib - 1) / mib * mib);
    }

    /** Uploads the file, then deletes it. */
    @Override
    public URI put(String key, Path file) throws IOException {
        abortUnaborted();
        String fullKey = location.key(key);
        long size = Files.size(file);
        try {
            if (size <= MIN_PART_SIZE) {
                s3.putObject(r -> r.bucket(location.bucket()).key(fullKey).contentLength(size), RequestBody.fromFile(file));
            } else {
                multipart(fullKey, file, size);
            }
        } catch (SdkException e) {
            throw failure("Cannot store " + file + " as " + fullKey, e);
        }
        Files.delete(file);
        return location.uri(fullKey);
    }

    private void multipart(String fullKey, Path file, long size) {
        String uploadId = s3.createMultipartUpload(r -> r.bucket(location.bucket()).key(fullKey)).uploadId();
        Upload upload = new Upload(fullKey, uploadId);
        try {
            long partSize = partSize(size);
            List<CompletedPart> parts = new ArrayList<>();
            for (long offset = 0; offset < size; offset += partSize) {
                int number = parts.size() + 1;
                long length = Math.min(partSize, size - offset);
                try (FileSlice slice = new FileSlice(file, offset, length)) {
                    String etag = s3.uploadPart(r -> r.bucket(location.bucket()).key(fullKey).uploadId(uploadId)
                                    .partNumber(number).contentLength(length),
                            RequestBody.fromContentProvider(slice, length, "application/octet-stream")).eTag();
                    parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
                }
            }
            s3.completeMultipartUpload(r -> r.bucket(location.bucket()).key(fullKey).uploadId(uploadId)
                    .multipartUpload(m -> m.parts(parts)));
        } catch (RuntimeException e) {
            try {
                abort(upload);
            } catch (SdkException abortFailed) {
                e.addSuppressed(abortFailed);
                unaborted.add(upload);
                log.warn("Cannot abort the multipart upload of {} in {}; will try again: {}", fullKey, describe(),
                        abortFailed.toString());
            }
            throw e;
        }
    }

    private void abort(Upload upload) {
        s3.abortMultipartUpload(r -> r.bucket(location.bucket()).key(upload.key()).uploadId(upload.id()));
    }

    /** Aborts the uploads whose abort failed before, so that no parts are left behind. */
    private void abortUnaborted() {
        for (Upload upload; (upload = unaborted.poll()) != null; ) {
            try {
                abort(upload);
                log.info("Aborted the multipart upload of {} left by a failed put", upload.key());
            } catch (S3Exception e) {
                if (e.statusCode() != 404) {
                    unaborted.add(upload);
                    return;
                }
            } catch (SdkException e) {
                unaborted.add(upload);
                return;
            }
        }
    }

    /** Streams the object {@code s3://bucket/key} (any bucket at this store's endpoint) into {@code target}. */
    @Override
    public void get(URI uri, Path target) throws IOException {
        String bucket = S3Location.bucketOf(uri);
        String key = S3Location.keyOf(uri);
        try (ResponseInputStream<GetObjectResponse> in = s3.getObject(r -> r.bucket(bucket).key(key))) {
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        } catch (SdkException e) {
            Files.deleteIfExists(target);
            throw failure("Cannot read " + uri, e, bucket);
        } catch (IOException e) {
            Files.deleteIfExists(target);
            throw new IOException("Cannot read " + uri + " from " + settings.describeEndpoint() + " into " + target
                    + ": " + e.getMessage(), e);
        }
    }

    private AveragerException failure(String what, SdkException e) {
        return failure(what, e, location.bucket());
    }

    private AveragerException failure(String what, SdkException e, String bucket) {
        String where = " in bucket " + bucket + " at " + settings.describeEndpoint();
        if (e instanceof S3Exception s3e) {
            String code = s3e.awsErrorDetails() == null ? null : s3e.awsErrorDetails().errorCode();
            String detail = "HTTP " + s3e.statusCode() + (code == null ? "" : " " + code);
            if (s3e.statusCode() == 401 || s3e.statusCode() == 403) {
                return new AveragerException(what + where + ": access denied (" + detail + "). Check the credentials"
                        + (settings.accessKey().isPresent() ? " in averager.s3.access.key and averager.s3.secret.key"
                        : " the SDK's default chain found (environment, profile, role)")
                        + " and that they may read and write the bucket", e);
            }
            if ("NoSuchBucket".equals(code)) {
                return new AveragerException(what + where + ": the bucket does not exist (" + detail + ")", e);
            }
            return new AveragerException(what + where + ": " + detail + ": " + s3e.getMessage(), e);
        }
        return new AveragerException(what + where + ": " + e.getMessage(), e);
    }

    @Override
    public String describe() {
        return location + " at " + settings.describeEndpoint();
    }

    @Override
    public void close() {
        abortUnaborted();
        if (!unaborted.isEmpty()) {
            log.warn("{} multipart uploads in {} could not be aborted: {}; a lifecycle rule"
                    + " (AbortIncompleteMultipartUpload) removes them", unaborted.size(), describe(), unaborted);
        }
        s3.close();
    }

    private record Upload(String key, String id) {
    }
}
