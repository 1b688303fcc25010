package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.averager.config.AveragerConfig;
import io.averager.wire.avro.CheckpointManifest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP endpoint over TLS with an access file, tried by a real HTTPS client (Java's
 * HttpClient) and by curl: no token, a wrong one, one for another run prefix, an expired one, one
 * removed by a rotation of the file and a client certificate of an unknown authority are all
 * refused with 401 or 403 and no weight bytes; the right token and certificate are served the
 * live EMA, byte for byte the checkpoint file; /runs lists only what a token may read; health
 * probes stay open; requests that would be expensive or malformed get a clear 400.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class HttpAccessTest {

    private static final String TEAM_A = "team-a-token-3f9c2e71d0b84a65";
    private static final String TEAM_B = "team-b-token-8d0e4b1f6a2c9e37";
    private static final String PROMETHEUS = "prometheus-token-1a2b3c4d5e6f";
    private static final String EXPIRED = "expired-token-7e6d5c4b3a29";
    private static final String ROTATED = "rotated-token-0f1e2d3c4b5a69";
    private static final long LAST_STEP = 100;

    @TempDir
    Path dir;

    @Test
    void onlyTheRightCredentialsGetWeightsAndOnlyForTheirRuns() throws Exception {
        TestCertificates certs = TestCertificates.authority(dir, "averager-ca");
        Path server = certs.issue("averager-ca", "localhost", "dns:localhost,ip:127.0.0.1");
        certs.issue("averager-ca", "eval-runner", null);
        TestCertificates rogue = TestCertificates.authority(Files.createDirectories(dir.resolve("rogue")), "rogue-ca");
        rogue.issue("rogue-ca", "eval-runner", null);
        Path access = dir.resolve("access");
        Files.writeString(access, """
                token team-a %s read:team-a/ synthesize:team-a/
                token team-b %s read:team-b/
                token prometheus %s metrics
                token old %s read expires=2020-01-01T00:00:00Z
                cert eval-runner read:team-a/
                """.formatted(TEAM_A, TEAM_B, PROMETHEUS, EXPIRED));
        String runA = SharedKafka.unique("team-a/run");
        String runB = SharedKafka.unique("team-b/run");

        try (ServiceUnderTest service = new ServiceUnderTest(dir.resolve("service"))) {
            HttpApiTest.configure(service.settings);
            service.settings.put(AveragerConfig.HTTP_TLS_KEYSTORE_CONFIG, server.toString());
            service.settings.put(AveragerConfig.HTTP_TLS_TRUSTSTORE_CONFIG, certs.pem("averager-ca").toString());
            service.settings.put(AveragerConfig.HTTP_ACCESS_FILE_CONFIG, access.toString());
            service.start();
            int port = service.service().opsPort();
            Client api = new Client(port, certs.context("averager-ca", null));
            Client eval = new Client(port, certs.context("averager-ca", "eval-runner"));
            Await.waitingFor("/health/ready without credentials", Duration.ofSeconds(60)).every(Duration.ofMillis(200))
                    .until(() -> api.get("/health/ready", null).statusCode() == 200);
            HttpApiTest.publish(service.snapshotsTopic(), runA, runB);
            Map<String, CheckpointManifest> last = service.awaitCheckpoints(runA, LAST_STEP, List.of("ema"), Duration.ofSeconds(60));
            service.awaitCheckpoints(runB, LAST_STEP, List.of("ema"), Duration.ofSeconds(60));
            byte[] checkpoint = Files.readAllBytes(Path.of(URI.create(last.get("ema").getUri())));
            String ema = "/runs/" + HttpApi.segment(runA) + "/ema?profile=ema";

            refused(api.get(ema, null), 401, "needs a bearer token");
            refused(api.get(ema, "not-a-token-of-anyone"), 401, "not valid");
            refused(api.get(ema, TEAM_B), 403, "team-b may not read run " + runA);
            refused(api.get(ema, EXPIRED), 401, "not valid (unknown, removed or expired)");
            refused(api.get(ema, PROMETHEUS), 403, "prometheus may not read run");
            refused(api.get("/metrics", TEAM_A), 403, "team-a may not read the metrics");
            refused(api.get("/runs/" + HttpApi.segment(runA) + "/synthesize?sigma_rel=0.1", TEAM_B), 403, "may not synthesize");

            HttpResponse<byte[]> served = api.bytes(ema, TEAM_A);
            assertThat(served.statusCode()).isEqualTo(200);
            assertThat(Arrays.equals(served.body(), checkpoint)).as("the EMA served equals the checkpoint file").isTrue();
            HttpResponse<byte[]> byCertificate = eval.bytes(ema, null);
            assertThat(byCertificate.statusCode()).as("a client certificate of eval-runner").isEqualTo(200);
            assertThat(Arrays.equals(byCertificate.body(), checkpoint)).isTrue();
            refused(eval.get("/runs/" + HttpApi.segment(runB) + "/distance", null), 403, "eval-runner may not read run");

            JsonNode runs = HttpApi.JSON.readTree(api.get("/runs", TEAM_A).body()).path("runs");
            assertThat(runs).extracting(r -> r.path("run").asText()).containsExactly(runA);
            assertThat(api.get("/metrics", PROMETHEUS).body()).contains("averager_run_last_step");
            assertThat(api.get("/health/live", null).statusCode()).isEqualTo(200);
            assertThat(api.get("/", null).statusCode()).as("the status page's HTML holds no data").isEqualTo(200);

            refused(api.get(ema + "&profil=slow", TEAM_A), 400, "Unknown query parameter 'profil'");
            refused(api.get(ema + "&x=" + "a".repeat(3000), TEAM_A), 400, "at most 2048 are served");
            refused(api.get("/runs/%FF%FE/ema?profile=ema", TEAM_A), 400, "is not percent-encoded UTF-8");
            refused(api.get("/runs/" + "r".repeat(600) + "/distance", TEAM_A), 400, "Run id of more than 512 bytes");

            List<String> curl = new ArrayList<>(List.of("curl", "-sS", "--cacert", certs.pem("averager-ca").toString(),
                    "-o", dir.resolve("curl.out").toString(), "-w", "%{http_code}"));
            assertThat(curl(curl, "-H", "Authorization: Bearer " + TEAM_A, api.uri(ema))).isEqualTo("200");
            assertThat(Files.readAllBytes(dir.resolve("curl.out"))).isEqualTo(checkpoint);
            assertThat(curl(curl, api.uri(ema))).isEqualTo("401");
            assertThat(curl(curl, "--cert", rogue.pem("eval-runner").toString(), api.uri(ema)))
                    .as("a client certificate of an unknown authority").isEqualTo("401");
            assertThat(Files.readString(dir.resolve("curl.out"))).contains("not issued by a trusted authority")
                    .doesNotContain("safetensors");
            assertThat(curl(curl, "--cert", certs.pem("eval-runner").toString(), api.uri(ema))).isEqualTo("200");

            // Rotation: team-a's token replaced, the expired one removed, without a restart.
            Files.writeString(access, """
                    token team-a %s read:team-a/
                    token prometheus %s metrics
                    """.formatted(ROTATED, PROMETHEUS));
            Await.waitingFor("the rotated token to be taken", Duration.ofSeconds(10)).every(Duration.ofMillis(200))
                    .until(() -> api.get(ema, ROTATED).statusCode() == 200);
            refused(api.get(ema, TEAM_A), 401, "not valid");
            refused(eval.get(ema, null), 401, "has no live entry in the access file");
        }
    }

    private static void refused(HttpResponse<?> response, int status, String message) throws Exception {
        String body = response.body() instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : (String) response.body();
        assertThat(response.statusCode()).as(body).isEqualTo(status);
        assertThat(HttpApi.JSON.readTree(body).path("error").asText()).contains(message);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
    }

    private static String curl(List<String> base, Object... args) throws Exception {
        List<String> command = new ArrayList<>(base);
        Arrays.stream(args).map(Object::toString).forEach(command::add);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return out.trim();
    }

    /** An HTTPS client of the endpoint, with a bearer token per request. */
    private record Client(int port, HttpClient http) {
        Client(int port, SSLContext context) {
            this(port, HttpClient.newBuilder().sslContext(context).build());
        }

        URI uri(String path) {
            return URI.create("https://127.0.0.1:" + port + path);
        }

        private HttpRequest request(String path, String token) {
            HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(60));
            if (token != null) {
                b.header("Authorization", "Bearer " + token);
            }
            return b.build();
        }

        HttpResponse<String> get(String path, String token) throws Exception {
            return http.send(request(path, token), HttpResponse.BodyHandlers.ofString());
        }

        HttpResponse<byte[]> bytes(String path, String token) throws Exception {
            return http.send(request(path, token), HttpResponse.BodyHandlers.ofByteArray());
        }
    }
}
