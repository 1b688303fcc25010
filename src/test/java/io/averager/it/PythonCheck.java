package io.averager.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a checker script with Debian's Python and PyTorch (packages python3-torch, python3-numpy,
 * installed by .ci/run) and fails the test with its output unless it exits 0.
 */
public final class PythonCheck {

    static final String PYTHON = "/usr/bin/python3";

    private PythonCheck() {
    }

    public static String run(String script, String... args) throws IOException, InterruptedException {
        assertThat(Path.of(PYTHON)).as("%s (Debian python3 with python3-torch; see .ci/run)", PYTHON).exists();
        List<String> command = new ArrayList<>(List.of(PYTHON, script));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("%s finished", script).isTrue();
        assertThat(p.exitValue()).as("%s exit code; output:%n%s", script, output).isZero();
        return output;
    }

}
