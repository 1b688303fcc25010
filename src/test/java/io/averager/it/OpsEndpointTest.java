package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.AveragerConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operations endpoint: readiness follows the Kafka Streams state, and /metrics serves
 * averager's, Kafka Streams' and the JVM's metrics in Prometheus' text format.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class OpsEndpointTest {

    private final HttpClient http = HttpClient.newHttpClient();

    @TempDir
    Path dir;

    @Test
    void servesHealthAndPrometheusMetrics() throws Exception {
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            service.settings.put(AveragerConfig.HTTP_PORT_CONFIG, "0");
            service.start();
            int port = service.service().opsPort();
            assertThat(port).isPositive();

            assertThat(get(port, "/health/live").statusCode()).isEqualTo(200);
            HttpResponse<String> ready = Await.waitingFor("/health/ready to answer 200", Duration.ofSeconds(60))
                    .every(Duration.ofMillis(200)).until(() -> get(port, "/health/ready"), r -> {
                        if (r.statusCode() != 200) {
                            assertThat(r.statusCode()).as("/health/ready until it is ready").isEqualTo(503);
                        }
                        return r.statusCode() == 200;
                    });
            assertThat(ready.body()).contains("RUNNING").contains("\"restoring_partitions\":0");

            HttpResponse<String> metrics = get(port, "/metrics");
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/plain"));
            assertThat(metrics.body()).contains("jvm_memory_used_bytes", "kafka_stream_");

            HttpResponse<String> missing = get(port, "/nowhere");
            assertThat(missing.statusCode()).isEqualTo(404);
            assertThat(missing.body()).contains("\"error\"");
        }
    }

    private HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
