package io.averager.sink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import org.junit.jupiter.api.Test;

/** S3 locations, object URIs and the multipart part size. */
class S3LocationTest {

    @Test
    void locationsParseIntoBucketAndPrefixEndingInASlash() {
        assertThat(S3Location.parse("s3://bucket")).isEqualTo(new S3Location("bucket", ""));
        assertThat(S3Location.parse("s3://bucket/")).isEqualTo(new S3Location("bucket", ""));
        assertThat(S3Location.parse("s3://bucket/a/b")).isEqualTo(new S3Location("bucket", "a/b/"));
        assertThat(S3Location.parse("s3://bucket/a/b/").key("runs/x")).isEqualTo("a/b/runs/x");
    }

    @Test
    void otherSchemesAreNotS3Locations() {
        assertThatThrownBy(() -> S3Location.parse("file:/tmp/x")).hasMessageContaining("s3://bucket/prefix");
        assertThatThrownBy(() -> S3Location.keyOf(URI.create("s3://bucket"))).hasMessageContaining("s3://bucket/key");
    }

    @Test
    void objectUrisGiveBackTheirKeyEvenWithPercentSigns() {
        S3Location location = new S3Location("b", "p");
        URI uri = location.uri(location.key("runs/a%2Fb c/ema/step-1.safetensors"));
        assertThat(uri.getRawPath()).isEqualTo("/p/runs/a%252Fb%20c/ema/step-1.safetensors");
        assertThat(S3Location.bucketOf(uri)).isEqualTo("b");
        assertThat(S3Location.keyOf(uri)).isEqualTo("p/runs/a%2Fb c/ema/step-1.safetensors");
    }

    @Test
    void partSizeIsAtLeastEightMiBAndKeepsAnyFileWithinTenThousandParts() {
        long mib = 1L << 20;
        assertThat(S3ObjectStore.partSize(1)).isEqualTo(8 * mib);
        assertThat(S3ObjectStore.partSize(80_000 * mib)).isEqualTo(8 * mib);
        assertThat(S3ObjectStore.partSize(80_000 * mib + 1)).isEqualTo(9 * mib);
        for (long size : new long[] {100L << 30, 1L << 40, 5L << 40}) {
            long part = S3ObjectStore.partSize(size);
            assertThat(part % mib).isZero();
            assertThat((size + part - 1) / part).as("parts of %d bytes", size).isLessThanOrEqualTo(S3ObjectStore.MAX_PARTS);
        }
    }
}
