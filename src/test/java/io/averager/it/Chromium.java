package io.averager.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Debian's chromium, headless, as a test's browser: each call a fresh profile directory, no
 * network beyond the page, no sandbox (tests run as root in CI).
 */
final class Chromium {

    private static final Path BINARY = Path.of(System.getenv().getOrDefault("CHROMIUM", "/usr/bin/chromium"));

    private final Path profiles;

    Chromium(Path profiles) {
        if (!Files.isExecutable(BINARY)) {
            throw new AssertionError("No chromium at " + BINARY + ": install Debian's chromium package"
                    + " (apt-get install chromium, as .ci/run does) or set CHROMIUM to the browser's path");
        }
        this.profiles = profiles;
    }

    /** The page's DOM after its scripts ran for up to {@code budgetMs} of virtual time. */
    String dumpDom(String url, int budgetMs) throws IOException, InterruptedException {
        return run(List.of("--virtual-time-budget=" + budgetMs, "--dump-dom", url));
    }

    /** Saves a screenshot of the page at the given window size. */
    void screenshot(String url, int budgetMs, Path png, int width, int height) throws IOException, InterruptedException {
        Files.createDirectories(png.getParent());
        run(List.of("--virtual-time-budget=" + budgetMs, "--hide-scrollbars", "--window-size=" + width + "," + height,
                "--screenshot=" + png.toAbsolutePath(), url));
        if (!Files.isRegularFile(png) || Files.size(png) == 0) {
            throw new AssertionError("chromium wrote no screenshot at " + png);
        }
    }

    private String run(List<String> args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(BINARY.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--user-data-dir=" + Files.createTempDirectory(profiles, "chromium-")));
        command.addAll(args);
        Path log = Files.createTempFile(profiles, "chromium-", ".log");
        Process p = new ProcessBuilder(command).redirectError(log.toFile()).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("chromium did not finish within 60 s: " + command);
        }
        if (p.exitValue() != 0) {
            throw new AssertionError("chromium exited with " + p.exitValue() + ": " + Files.readString(log));
        }
        return new String(out, StandardCharsets.UTF_8);
    }
}
