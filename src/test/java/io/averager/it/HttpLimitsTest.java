package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.AveragerConfig;
import io.averager.publish.SnapshotPublisher;
import io.averager.publish.TensorSource;
import io.averager.wire.avro.SnapshotMode;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What keeps expensive or hostile HTTP clients from taking the endpoint's threads: a download
 * beyond averager.http.max.downloads is answered 429 at once while the others are held open by
 * clients that do not read (a bad request is still answered 400), and a client that never finishes its request loses the connection,
 * while health probes are answered all along.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class HttpLimitsTest {

    @TempDir
    Path dir;

    /** More stalled downloads than the four threads the server once had in all. */
    private static final int DOWNLOADS = 4;

    @Test
    void aStalledDownloadAndAStalledRequestHoldNoMoreThanTheirShare() throws Exception {
        String run = SharedKafka.unique("limits");
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            HttpApiTest.configure(service.settings);
            service.settings.put(AveragerConfig.HTTP_MAX_DOWNLOADS_CONFIG, Integer.toString(DOWNLOADS));
            service.start();
            HttpApi api = new HttpApi(service.service().opsPort());
            api.awaitReady(Duration.ofSeconds(60));
            // 64 MiB of EMA: more than the socket buffers hold, so a client that reads nothing stalls the download.
            try (SnapshotPublisher publisher = new SnapshotPublisher(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()),
                    service.snapshotsTopic(), 1 << 20)) {
                publisher.publish(run, 1, SnapshotMode.UPDATE, false, Map.of(),
                        List.of(TensorSource.ofFloats("w", new float[16 << 20], 16 << 20)));
            }
            String ema = "/runs/" + HttpApi.segment(run) + "/ema?profile=ema";
            HttpClient client = HttpClient.newHttpClient();
            HttpRequest request = HttpRequest.newBuilder(api.uri(ema)).timeout(Duration.ofSeconds(60)).build();
            List<HttpResponse<InputStream>> stalled = new ArrayList<>();
            while (stalled.size() < DOWNLOADS) {
                stalled.add(Await.waitingFor("the run's EMA to be served", Duration.ofSeconds(60))
                        .until(() -> {
                            HttpResponse<InputStream> r = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
                            if (r.statusCode() != 200) {
                                r.body().close();
                            }
                            return r;
                        }, r -> r.statusCode() == 200));
            }

            HttpResponse<String> refused = api.get(ema);
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(429);
            assertThat(refused.headers().firstValue("Retry-After")).isPresent();
            assertThat(refused.body()).contains(DOWNLOADS + " EMA downloads are being served by this instance");
            // Every download thread is taken, and the server has threads to spare: more downloads than its old fixed four.
            assertThat(api.get("/health/live").statusCode()).isEqualTo(200);
            HttpResponse<String> noProfile = api.get("/runs/" + HttpApi.segment(run) + "/ema");
            assertThat(noProfile.statusCode()).as("a bad request is answered as such, not with 429").isEqualTo(400);

            for (HttpResponse<InputStream> r : stalled) {
                r.body().close();
            }
            Await.waitingFor("a download once the stalled one is gone", Duration.ofSeconds(30))
                    .until(() -> api.bytes(ema).statusCode() == 200);

            try (Socket slow = new Socket("127.0.0.1", api.port)) {
                OutputStream out = slow.getOutputStream();
                out.write("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                slow.setSoTimeout(60_000);
                long start = System.nanoTime();
                assertThat(api.get("/health/live").statusCode()).as("others are served meanwhile").isEqualTo(200);
                int read = slow.getInputStream().read();
                long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
                assertThat(read).as("the server closed the connection after %d s", seconds).isEqualTo(-1);
            }
        }
    }
}
