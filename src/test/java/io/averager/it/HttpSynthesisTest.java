package io.averager.it;

import static io.averager.it.HttpApiTest.assertError;
import static org.assertj.core.api.Assertions.assertThat;

import io.averager.cli.Main;
import io.averager.config.AveragerConfig;
import io.averager.format.SafetensorsReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code GET /runs/{run}/synthesize} against the real broker: the download equals what
 * {@code averager synthesize} writes for the same run, width and step byte for byte, its headers
 * carry the fit report, no temporary file stays behind, and bad requests get a JSON error that
 * says what was wrong.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class HttpSynthesisTest {

    private static final List<String> PROFILES = List.of("ema", "p05", "p10");

    @TempDir
    Path dir;

    @Test
    void servesWhatTheCommandWritesWithTheFitInItsHeaders() throws Exception {
        // Slashes, spaces and a plus in the run id: all must survive percent-encoding.
        String run = SharedKafka.unique("team/posthoc") + " a+b";
        try (ServiceUnderTest service = new ServiceUnderTest(dir.resolve("service"))) {
            HttpApiTest.configure(service.settings);
            service.settings.remove("averager.profile.fast.decay");
            service.settings.put(AveragerConfig.PROFILES_CONFIG, String.join(",", PROFILES));
            service.settings.put("averager.profile.p05.sigma.rel", "0.05");
            service.settings.put("averager.profile.p10.sigma.rel", "0.10");
            service.start();
            HttpApi api = new HttpApi(service.service().opsPort());
            api.awaitReady(Duration.ofSeconds(60));
            HttpApiTest.publish(service.snapshotsTopic(), run);
            service.awaitCheckpoints(run, 50, PROFILES, Duration.ofSeconds(60));
            service.awaitCheckpoints(run, 100, PROFILES, Duration.ofSeconds(60));
            String base = "/runs/" + HttpApi.segment(run) + "/synthesize";

            Path written = dir.resolve("p075.safetensors");
            StringWriter printed = new StringWriter();
            CommandLine synthesize = Main.commandLine();
            synthesize.setOut(new PrintWriter(printed));
            assertThat(synthesize.execute("synthesize", "--bootstrap-servers", SharedKafka.bootstrapServers(),
                    "--run", run, "--sigma-rel", "0.075", "--step", "100", "-o", written.toString(),
                    "--work-dir", dir.toString(),
                    "-D", AveragerConfig.TOPIC_MANIFESTS_CONFIG + "=" + service.name + "-manifests")).isZero();
            byte[] expected = Files.readAllBytes(written);
            Map<String, String> meta;
            try (SafetensorsReader r = SafetensorsReader.open(written)) {
                meta = r.metadata();
            }

            for (String query : List.of("?sigma_rel=0.075&step=100", "?sigma_rel=0.075")) {
                HttpResponse<byte[]> download = api.bytes(base + query);
                assertThat(download.statusCode()).as(query).isEqualTo(200);
                assertThat(Arrays.equals(download.body(), expected)).as("download %s (%d bytes) equals the command's"
                        + " file (%d bytes)", query, download.body().length, expected.length).isTrue();
                assertThat(download.headers().firstValue("Content-Type")).hasValue("application/octet-stream");
                assertThat(download.headers().firstValue("Content-Length")).hasValue(Integer.toString(expected.length));
                assertThat(download.headers().firstValue("X-Averager-Step")).hasValue("100");
                assertThat(download.headers().firstValue("Content-Disposition")).hasValue("attachment; filename=\""
                        + HttpApi.segment(run) + "-sigma_rel-0.075-100.safetensors\"");
                assertThat(download.headers().firstValue("X-Averager-Profile-Error"))
                        .hasValue(meta.get("posthoc.relative_l1_error"));
                assertThat(download.headers().firstValue("X-Averager-Condition-Number"))
                        .hasValue(meta.get("posthoc.condition_number"));
                assertThat(download.headers().firstValue("X-Averager-Largest-Coefficient"))
                        .hasValue(meta.get("posthoc.max_abs_coefficient"));
                assertThat(download.headers().firstValue("X-Averager-Sources")).hasValue(meta.get("posthoc.sources"));
                assertThat(download.headers().allValues("X-Averager-Warning")).isEmpty();
            }
            assertThat(printed.toString()).contains("Profile error (relative L1)");

            HttpResponse<byte[]> extrapolated = api.bytes(base + "?sigma_rel=0.2&step=150");
            assertThat(extrapolated.statusCode()).isEqualTo(200);
            assertThat(extrapolated.headers().firstValue("X-Averager-Step")).hasValue("150");
            assertThat(extrapolated.headers().allValues("X-Averager-Warning")).hasSize(2)
                    .allSatisfy(w -> assertThat(w).startsWith("extrapolating: "));

            Path work = new AveragerConfig(service.settings).spoolDir().resolve("synthesize");
            try (Stream<Path> left = Files.list(work)) {
                assertThat(left).as("temporary files in %s", work).isEmpty();
            }

            assertError(api.get(base), 400, "Missing query parameter sigma_rel");
            assertError(api.get(base + "?sigma_rel=wide"), 400, "Query parameter sigma_rel is 'wide'; expected a number");
            assertError(api.get(base + "?sigma_rel=0.3"), 400, "sigma_rel is 0.3; expected a number in (0, ");
            assertError(api.get(base + "?sigma_rel=0"), 400, "sigma_rel is 0.0; expected a number in (0, ");
            assertError(api.get(base + "?sigma_rel=0.075&step=last"), 400, "Query parameter step is 'last'");
            assertError(api.get(base + "?sigma_rel=0.075&step=0"), 400, "step is 0; expected a step > 0");
            assertError(api.get(base + "?sigma_rel=0.075&step=20"), 404, "Run " + run + " has no safetensors"
                    + " checkpoint of a power profile at steps up to 20");
            assertError(api.get(base + "?sigma_rel=0.075&step=20"), 404,
                    "Its checkpoints: ema (steps 50..100), p05 (steps 50..100), p10 (steps 50..100)");
            assertError(api.get("/runs/" + HttpApi.segment("no such run") + "/synthesize?sigma_rel=0.075"), 404,
                    "Run no such run has no checkpoints in the manifests");
            assertError(api.send("POST", base + "?sigma_rel=0.075"), 405, "Method POST is not allowed");
            assertThat(api.send("DELETE", base).headers().firstValue("Allow")).hasValue("GET");
        }
    }
}
