package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.AveragerConfig;
import io.averager.publish.SnapshotPublisher;
import io.averager.wire.avro.SnapshotMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page in a real browser (Debian's headless chromium) against a running service: it
 * lists the runs and draws, per run, one line per profile with a point per snapshot averaged, and
 * a marker per checkpoint. The screenshot is kept as {@code <build dir>/test-artifacts/status.png}.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class StatusPageTest {

    @TempDir
    Path dir;

    @Test
    void chartsEveryProfilesDistanceWithCheckpointMarkers() throws Exception {
        Chromium chromium = new Chromium(Files.createDirectories(dir.resolve("browser")));
        String run = SharedKafka.unique("page-run");
        String other = SharedKafka.unique("page-other");
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            HttpApiTest.configure(service.settings);
            service.start();
            HttpApi api = new HttpApi(service.service().opsPort());
            api.awaitReady(Duration.ofSeconds(60));
            HttpApiTest.publish(service.snapshotsTopic(), run);
            try (SnapshotPublisher publisher = new SnapshotPublisher(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()),
                    service.snapshotsTopic(), 1024)) {
                for (long step = 1; step <= 3; step++) {
                    publisher.publish(other, step, SnapshotMode.UPDATE, false, Map.of(), TestModel.sources(TestModel.weights(step)));
                }
            }
            service.awaitCheckpoints(run, 100, List.of("ema", "fast"), Duration.ofSeconds(60));
            api.await("/runs/" + HttpApi.segment(other) + "/distance", j -> j.path("points").size() == 3, Duration.ofSeconds(30));

            String url = "http://127.0.0.1:" + api.port + "/";
            String dom = chromium.dumpDom(url, 5000);
            String chart = section(dom, run);
            for (String profile : List.of("ema", "fast")) {
                Matcher line = Pattern.compile("<polyline points=\"([^\"]*)\"[^>]*data-profile=\"" + profile + "\"").matcher(chart);
                assertThat(line.find()).as("a line for profile %s in %s", profile, chart).isTrue();
                assertThat(line.group(1).trim().split(" ")).as("points of %s", profile).hasSize(10);
                assertThat(chart).contains("<span class=\"profile-label\"><i style=\"background:");
                assertThat(chart).contains("</i>" + profile + "</span>");
            }
            assertThat(count(chart, "class=\"checkpoint-marker\"")).as("checkpoints at steps 50 and 100").isEqualTo(2);
            assertThat(section(dom, other)).contains("data-count=\"3\"");
            assertThat(dom).contains("<td>" + run + "</td>", "<td>" + other + "</td>");
            assertThat(dom).as("no error shown").contains("<div id=\"error\" class=\"error\"></div>");

            Path png = Path.of(System.getProperty("averager.test.artifacts", "target/test-artifacts"), "status.png");
            chromium.screenshot(url, 5000, png, 1200, 800);
            assertThat(Files.size(png)).isGreaterThan(10_000);
        }
    }

    @Test
    void withAnAccessFileThePageAsksForATokenAndShowsOnlyTheRunsItMayRead() throws Exception {
        Chromium chromium = new Chromium(Files.createDirectories(dir.resolve("browser")));
        String token = "page-token-5b8e2f0c9d1a7364";
        String mine = SharedKafka.unique("page-mine");
        String theirs = SharedKafka.unique("page-theirs");
        Path access = Files.writeString(dir.resolve("access"), "token viewer " + token + " read:page-mine\n");
        try (ServiceUnderTest service = new ServiceUnderTest(dir)) {
            HttpApiTest.configure(service.settings);
            service.settings.put(AveragerConfig.HTTP_ACCESS_FILE_CONFIG, access.toString());
            service.start();
            HttpApi api = new HttpApi(service.service().opsPort());
            api.awaitReady(Duration.ofSeconds(60));
            HttpApiTest.publish(service.snapshotsTopic(), mine, theirs);
            service.awaitCheckpoints(mine, 100, List.of("ema", "fast"), Duration.ofSeconds(60));
            service.awaitCheckpoints(theirs, 100, List.of("ema", "fast"), Duration.ofSeconds(60));
            String url = "http://127.0.0.1:" + api.port + "/";

            String refused = chromium.dumpDom(url, 5000);
            assertThat(refused).contains("<form id=\"login\">", "Unauthorized").doesNotContain(mine);

            String dom = chromium.dumpDom(url + "#token=" + token, 5000);
            assertThat(dom).contains("<form id=\"login\" hidden=\"\">", "<td>" + mine + "</td>")
                    .doesNotContain(theirs);
            assertThat(section(dom, mine)).contains("data-profile=\"ema\"");
        }
    }

    /** The run's chart box in the dumped DOM. */
    private static String section(String dom, String run) {
        int start = dom.indexOf("<div class=\"run\" data-run=\"" + run + "\">");
        assertThat(start).as("a chart for run %s in the page: %s", run, dom).isNotNegative();
        int end = dom.indexOf("<div class=\"run\"", start + 1);
        return dom.substring(start, end < 0 ? dom.length() : end);
    }

    private static int count(String s, String part) {
        int n = 0;
        for (int i = s.indexOf(part); i >= 0; i = s.indexOf(part, i + 1)) {
            n++;
        }
        return n;
    }
}
