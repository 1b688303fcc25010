package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.averager.config.AveragerConfig;
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
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two instances of one application, each owning one of the two partitions: either serves every
 * run, its own from its store and the other's by a redirect to the owner's application.server,
 * and /runs on either lists the runs of both.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class RoutingTest {

    @TempDir
    Path dir;

    @Test
    void eitherInstanceServesEveryRunByRedirectingToItsOwner() throws Exception {
        List<String> runs = onBothPartitions();
        try (ServiceUnderTest a = new ServiceUnderTest(dir.resolve("a"));
             ServiceUnderTest b = new ServiceUnderTest(dir.resolve("b"))) {
            HttpApiTest.configure(a.settings);
            String stateB = b.settings.get("state.dir");
            b.settings.putAll(a.settings);
            b.settings.put("state.dir", stateB);
            a.start();
            b.start();
            HttpApi apiA = new HttpApi(a.service().opsPort());
            HttpApi apiB = new HttpApi(b.service().opsPort());
            apiA.awaitReady(Duration.ofSeconds(60));
            apiB.awaitReady(Duration.ofSeconds(60));
            HttpApiTest.publish(a.snapshotsTopic(), runs.toArray(String[]::new));

            JsonNode listed = apiA.await("/runs", j -> owners(j).size() == 2 && j.path("runs").size() == 2
                    && checkpointed(j), Duration.ofSeconds(90));
            assertThat(listed.path("unreachable").size()).isZero();
            assertThat(owners(apiB.json("/runs"))).hasSize(2);

            int redirected = 0;
            for (JsonNode run : listed.path("runs")) {
                String name = run.path("run").asText();
                String path = "/runs/" + HttpApi.segment(name) + "/ema?profile=fast";
                byte[] checkpoint = Files.readAllBytes(Path.of(URI.create(
                        run.path("profiles").get(1).path("lastCheckpoint").path("uri").asText())));
                for (HttpApi api : List.of(apiA, apiB)) {
                    HttpResponse<String> direct = api.get(path);
                    String self = "127.0.0.1:" + api.port;
                    if (run.path("owner").asText().equals(self)) {
                        assertThat(direct.statusCode()).as("%s on its owner", name).isEqualTo(200);
                    } else {
                        redirected++;
                        assertThat(direct.statusCode()).as("%s elsewhere: %s", name, direct.body()).isEqualTo(307);
                        assertThat(direct.headers().firstValue("Location")).hasValue(
                                "http://" + run.path("owner").asText() + path);
                    }
                    HttpResponse<byte[]> followed = api.bytes(path);
                    assertThat(followed.statusCode()).isEqualTo(200);
                    assertThat(Arrays.equals(followed.body(), checkpoint)).as("%s through %s equals its checkpoint",
                            name, self).isTrue();
                }
                String distance = new String(apiA.bytes("/runs/" + HttpApi.segment(name) + "/distance").body(),
                        StandardCharsets.UTF_8);
                assertThat(HttpApi.JSON.readTree(distance).path("points").size()).isEqualTo(10);
            }
            assertThat(redirected).as("each instance redirected the other's run").isEqualTo(2);

            // Each instance's meters are its own: the runs it applied, not the other's.
            for (JsonNode run : listed.path("runs")) {
                String owner = run.path("owner").asText();
                String series = "averager_run_last_step{profile=\"fast\",run=\"" + run.path("run").asText() + "\"}";
                for (HttpApi api : List.of(apiA, apiB)) {
                    String metrics = api.get("/metrics").body();
                    if (owner.equals("127.0.0.1:" + api.port)) {
                        assertThat(metrics).as("/metrics of the owner").contains(series + " 100.0");
                    } else {
                        assertThat(metrics).as("/metrics of the other instance").doesNotContain(series);
                    }
                }
            }
        }
    }

    @Test
    void withTlsAndTokensARedirectServesTheOwnersEmaWithoutTheClientsToken() throws Exception {
        TestCertificates certs = TestCertificates.authority(dir, "averager-ca");
        Path server = certs.issue("averager-ca", "localhost", "dns:localhost,ip:127.0.0.1");
        String token = "reader-token-6c2d9e0f1b3a4758";
        Path access = Files.writeString(dir.resolve("access"), "token reader " + token + " read:routed\n");
        List<String> runs = onBothPartitions();
        try (ServiceUnderTest a = new ServiceUnderTest(dir.resolve("a"));
             ServiceUnderTest b = new ServiceUnderTest(dir.resolve("b"))) {
            HttpApiTest.configure(a.settings);
            a.settings.put(AveragerConfig.HTTP_TLS_KEYSTORE_CONFIG, server.toString());
            a.settings.put(AveragerConfig.HTTP_TLS_TRUSTSTORE_CONFIG, certs.pem("averager-ca").toString());
            a.settings.put(AveragerConfig.HTTP_ACCESS_FILE_CONFIG, access.toString());
            a.settings.put(AveragerConfig.HTTP_PEER_TOKEN_CONFIG, "peer-token-0a1b2c3d4e5f6071");
            String stateB = b.settings.get("state.dir");
            b.settings.putAll(a.settings);
            b.settings.put("state.dir", stateB);
            a.start();
            b.start();
            HttpClient client = HttpClient.newBuilder().sslContext(certs.context("averager-ca", null)).build();
            List<Integer> ports = List.of(a.service().opsPort(), b.service().opsPort());
            HttpApiTest.publish(a.snapshotsTopic(), runs.toArray(String[]::new));
            JsonNode listed = Await.waitingFor("/runs over HTTPS to list both runs, owned and checkpointed", Duration.ofSeconds(90))
                    .every(Duration.ofMillis(200))
                    .until(() -> HttpApi.JSON.readTree(get(client, "https://127.0.0.1:" + ports.get(0) + "/runs", token).body()),
                            j -> j.path("runs").size() == 2 && owners(j).size() == 2 && checkpointed(j));
            assertThat(listed.path("unreachable").size()).as("the instances reach each other with the peer token").isZero();

            int redirected = 0;
            for (JsonNode run : listed.path("runs")) {
                String path = "/runs/" + HttpApi.segment(run.path("run").asText()) + "/ema?profile=fast";
                byte[] checkpoint = Files.readAllBytes(Path.of(URI.create(
                        run.path("profiles").get(1).path("lastCheckpoint").path("uri").asText())));
                for (int port : ports) {
                    HttpResponse<byte[]> direct = get(client, "https://127.0.0.1:" + port + path, token);
                    if (direct.statusCode() == 307) {
                        redirected++;
                        String location = direct.headers().firstValue("Location").orElseThrow();
                        assertThat(location).startsWith("https://" + run.path("owner").asText() + path + "&grant=");
                        HttpResponse<byte[]> owner = get(client, location, null);
                        assertThat(owner.statusCode()).as("the owner, without the client's token").isEqualTo(200);
                        assertThat(Arrays.equals(owner.body(), checkpoint)).isTrue();
                        HttpResponse<byte[]> stripped = get(client, location.substring(0, location.indexOf("&grant=")), null);
                        assertThat(stripped.statusCode()).as("the owner, without a grant or a token").isEqualTo(401);
                    } else {
                        assertThat(direct.statusCode()).isEqualTo(200);
                        assertThat(Arrays.equals(direct.body(), checkpoint)).isTrue();
                    }
                }
            }
            assertThat(redirected).as("each instance redirected the other's run").isEqualTo(2);
        }
    }

    private static HttpResponse<byte[]> get(HttpClient client, String uri, String token) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(60));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return client.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /** Two run ids that the default partitioner puts on partitions 0 and 1 of two. */
    private static List<String> onBothPartitions() {
        List<String> runs = new ArrayList<>(List.of("", ""));
        while (runs.contains("")) {
            String run = SharedKafka.unique("routed");
            runs.set(Utils.toPositive(Utils.murmur2(run.getBytes(StandardCharsets.UTF_8))) % 2, run);
        }
        return runs;
    }

    private static Set<String> owners(JsonNode runs) {
        Set<String> owners = new HashSet<>();
        runs.path("runs").forEach(r -> owners.add(r.path("owner").asText()));
        return owners;
    }

    private static boolean checkpointed(JsonNode runs) {
        for (JsonNode r : runs.path("runs")) {
            for (JsonNode p : r.path("profiles")) {
                if (p.path("lastCheckpoint").path("step").asLong() != 100) {
                    return false;
                }
            }
        }
        return true;
    }
}
