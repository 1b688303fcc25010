package io.averager.it;

import io.averager.config.AveragerConfig;
import io.averager.sink.S3Settings;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeoutException;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.blobstore.ForwardingBlobStore;
import org.gaul.s3proxy.blobstore.domain.MultipartUpload;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

/**
 * A real S3 API server in this JVM: s3proxy over a directory, with access key and secret. It can
 * be stopped and started again on the same port and data, and a hook can intercept the parts of
 * multipart uploads. Has its own client for inspecting what it holds. Not thread-safe.
 */
final class S3Server implements AutoCloseable {

    static final String ACCESS_KEY = "averager-it";
    static final String SECRET_KEY = "averager-it-secret";

    /** Told of every part upload before the part is stored; may block or throw to fail it. */
    interface PartHook {
        void beforePart(int partNumber) throws Exception;
    }

    private final BlobStore blobs;
    private volatile PartHook partHook = n -> { };
    private S3Proxy proxy;
    private int port;
    private S3Client client;

    /** A server keeping its buckets under {@code dir}, created if missing. */
    S3Server(Path dir) throws IOException {
        this.blobs = new Hooked(new FilesystemNio2BlobStore(Files.createDirectories(dir).toAbsolutePath().toString()));
    }

    /** Starts the server: on a free port the first time, on the same port after {@link #stop()}. */
    S3Server start() throws Exception {
        proxy = S3Proxy.builder()
                .blobStore(blobs)
                .endpoint(URI.create("http://127.0.0.1:" + port))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                .ignoreUnknownHeaders(true)
                // No graceful stop: the endpoint goes away as a crashed or partitioned store would.
                .stopTimeout(0)
                .build();
        proxy.start();
        Await.waitingFor("s3proxy to start", Duration.ofSeconds(30)).every(Duration.ofMillis(10))
                .until(proxy::getState, "STARTED"::equals);
        port = proxy.getPort();
        return this;
    }

    /** Stops the server, closing open connections; in-flight requests fail. */
    void stop() throws Exception {
        try {
            proxy.stop();
        } catch (TimeoutException e) {
            // Jetty reports requests it cut short; it has stopped all the same.
        }
        if (!"STOPPED".equals(proxy.getState())) {
            throw new IllegalStateException("s3proxy did not stop: " + proxy.getState());
        }
    }

    void onPart(PartHook hook) {
        this.partHook = hook;
    }

    URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
    }

    /** The service's settings that reach this server. */
    Map<String, String> settings() {
        return Map.of(AveragerConfig.S3_ENDPOINT_CONFIG, endpoint().toString(),
                AveragerConfig.S3_ACCESS_KEY_CONFIG, ACCESS_KEY, AveragerConfig.S3_SECRET_KEY_CONFIG, SECRET_KEY);
    }

    S3Settings s3Settings() {
        return new S3Settings(Optional.of(endpoint()), Optional.empty(), Optional.empty(), Optional.of(ACCESS_KEY),
                Optional.of(SECRET_KEY));
    }

    /** A client of its own, configured independently of the store under test. */
    S3Client client() {
        if (client == null) {
            client = S3Client.builder().endpointOverride(endpoint()).region(Region.US_EAST_1).forcePathStyle(true)
                    .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                    .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                    .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                    .build();
        }
        return client;
    }

    void createBucket(String bucket) {
        client().createBucket(b -> b.bucket(bucket));
    }

    /** Keys of the objects in {@code bucket}. */
    List<String> keys(String bucket) {
        return client().listObjectsV2(b -> b.bucket(bucket)).contents().stream().map(o -> o.key()).toList();
    }

    /** Multipart uploads begun and neither completed nor aborted, as key/uploadId. */
    List<String> multipartUploads(String bucket) {
        return client().listMultipartUploads(b -> b.bucket(bucket)).uploads().stream()
                .map(u -> u.key() + "/" + u.uploadId()).toList();
    }

    /** Whether an object exists at {@code key}. */
    boolean exists(String bucket, String key) {
        try {
            client().headObject(b -> b.bucket(bucket).key(key));
            return true;
        } catch (NoSuchKeyException e) {
            return false;
        } catch (software.amazon.awssdk.services.s3.model.S3Exception e) {
            if (e.statusCode() == 404) {
                return false;
            }
            throw e;
        }
    }

    /** Size and SHA-256 of an object, streamed, as "SIZE SHA256". */
    String sizeAndSha256(String bucket, String key) throws IOException, NoSuchAlgorithmException {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        long size;
        try (InputStream in = new DigestInputStream(client().getObject(b -> b.bucket(bucket).key(key)), sha)) {
            size = in.transferTo(OutputStream.nullOutputStream());
        }
        return size + " " + HexFormat.of().formatHex(sha.digest());
    }

    @Override
    public void close() throws Exception {
        if (client != null) {
            client.close();
        }
        if (proxy != null && !"STOPPED".equals(proxy.getState())) {
            proxy.stop();
        }
    }

    private final class Hooked extends ForwardingBlobStore {
        Hooked(BlobStore delegate) {
            super(delegate);
        }

        @Override
        public UploadPartResponse uploadMultipartPart(MultipartUpload upload, UploadPartRequest request, InputStream in) {
            try {
                partHook.beforePart(request.partNumber());
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return super.uploadMultipartPart(upload, request, in);
        }
    }
}
