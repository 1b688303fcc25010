package io.averager.ops;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import io.averager.catalog.ManifestLog;
import io.averager.posthoc.Synthesis;
import io.averager.posthoc.SynthesisReport;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.Semaphore;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /runs/{run}/synthesize?sigma_rel=S[&step=N]}: what {@code averager synthesize}
 * writes for the same run, width and step, byte for byte, with the fit report in
 * {@code X-Averager-*} headers. Reads the whole manifests topic and fetches the run's power
 * checkpoints from the object store, so any instance answers for any run. The file is
 * synthesized into a temporary file under the work directory (memory stays at a chunk), then
 * sent with its length, then deleted.
 *
 * <p>At most {@link #CONCURRENT} syntheses run at once, fewer than the server's threads, so
 * that health checks and scrapes are answered during long ones; more get 503 with Retry-After.
 * Thread-safe.
 */
final class SynthesisDownload {

    private static final Logger log = LoggerFactory.getLogger(SynthesisDownload.class);
    static final int CONCURRENT = 2;
    static final Duration MANIFESTS_TIMEOUT = Duration.ofSeconds(60);

    private final CheckpointAccess checkpoints;
    private final Semaphore running = new Semaphore(CONCURRENT);

    private SynthesisDownload(CheckpointAccess checkpoints) {
        this.checkpoints = checkpoints;
    }

    /** The handler, after deleting what syntheses cut short by a crash left in the work directory. */
    static SynthesisDownload clearingLeftovers(CheckpointAccess checkpoints) {
        Path dir = checkpoints.workDir();
        if (Files.isDirectory(dir)) {
            try (Stream<Path> paths = Files.walk(dir)) {
                for (Path p : paths.sorted(Comparator.reverseOrder()).filter(p -> !p.equals(dir)).toList()) {
                    Files.deleteIfExists(p);
                }
            } catch (IOException e) {
                log.warn("Cannot clear the synthesis work directory {}: {}", dir, e.toString());
            }
        }
        return new SynthesisDownload(checkpoints);
    }

    void serve(HttpExchange exchange, String run) throws IOException {
        Synthesis.Target target = target(run, Http.query(exchange.getRequestURI().getRawQuery()));
        if (!running.tryAcquire()) {
            exchange.getResponseHeaders().set("Retry-After", "5");
            throw new Http.Refusal(503, CONCURRENT + " syntheses are running on this instance; retry later"
                    + " or ask another instance");
        }
        try {
            Path workDir = checkpoints.workDir();
            Files.createDirectories(workDir);
            Path output = Files.createTempFile(workDir, "synthesized-", ".safetensors");
            try {
                SynthesisReport report = synthesize(target, output);
                describe(exchange.getResponseHeaders(), report);
                exchange.getResponseHeaders().set("Content-Disposition", "attachment; filename=\""
                        + Http.encodeSegment(run) + "-sigma_rel-" + target.sigmaRel() + "-" + report.step()
                        + ".safetensors\"");
                exchange.sendResponseHeaders(200, Files.size(output));
                try (OutputStream body = exchange.getResponseBody()) {
                    Files.copy(output, body);
                }
            } finally {
                Files.deleteIfExists(output);
            }
        } finally {
            running.release();
        }
    }

    private SynthesisReport synthesize(Synthesis.Target target, Path output) throws IOException {
        try {
            return Synthesis.synthesize(
                    ManifestLog.read(checkpoints.consumerProperties(), checkpoints.manifestsTopic(),
                            checkpoints.runEventsTopic(), MANIFESTS_TIMEOUT).live(),
                    checkpoints.storeAt(), checkpoints.workDir(), target, output);
        } catch (Synthesis.NoPowerCheckpoints e) {
            throw new Http.Refusal(404, e.getMessage());
        }
    }

    /** The request's target; 400 saying what was expected for a missing or bad parameter. */
    static Synthesis.Target target(String run, Map<String, String> query) {
        String sigmaRel = query.get("sigma_rel");
        if (sigmaRel == null || sigmaRel.isEmpty()) {
            throw new Http.Refusal(400, "Missing query parameter sigma_rel: the relative width of the EMA to"
                    + " synthesize, in (0, 0.2887), e.g. sigma_rel=0.075");
        }
        String step = query.get("step");
        try {
            return new Synthesis.Target(run, number("sigma_rel", sigmaRel),
                    step == null ? OptionalLong.empty() : OptionalLong.of(integer("step", step)));
        } catch (IllegalArgumentException e) {
            throw new Http.Refusal(400, e.getMessage());
        }
    }

    private static double number(String name, String value) {
        try {
            return Double.parseDouble(value);
        } catch (NumberFormatException e) {
            throw new Http.Refusal(400, "Query parameter " + name + " is '" + value + "'; expected a number");
        }
    }

    private static long integer(String name, String value) {
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new Http.Refusal(400, "Query parameter " + name + " is '" + value + "'; expected a step, an integer > 0");
        }
    }

    /** The fit report as headers: what the command prints, one value per header. */
    static void describe(Headers headers, SynthesisReport report) {
        headers.set("Content-Type", "application/octet-stream");
        headers.set(EmaDownload.STEP_HEADER, Long.toString(report.step()));
        headers.set("X-Averager-Sigma-Rel", Double.toString(report.sigmaRel()));
        headers.set("X-Averager-Gamma", Double.toString(report.gamma()));
        headers.set("X-Averager-Profile-Error", Double.toString(report.fit().relativeL1Error()));
        headers.set("X-Averager-Condition-Number", Double.toString(report.fit().conditionNumber()));
        headers.set("X-Averager-Largest-Coefficient", Double.toString(report.fit().maxAbsCoefficient()));
        headers.set("X-Averager-Sources", report.used().stream()
                .map(u -> u.profile() + "@" + u.step() + "=" + u.coefficient()).collect(Collectors.joining(",")));
        for (String warning : report.fit().warnings()) {
            headers.add("X-Averager-Warning", warning);
        }
    }
}
