package io.averager.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** For commands that run a whole broker for themselves (demo, bench) and print their own output. */
final class Workspace {

    private Workspace() {
    }

    /**
     * Quiets the broker's and the service's logs, whose start-up warnings would bury the
     * command's own output, and returns {@code dataDir}, or a new temporary directory when null.
     * Must run before the first logger is created.
     */
    static Path prepare(Path dataDir, String prefix) throws IOException {
        System.setProperty("org.slf4j.simpleLogger.log.org.apache.kafka", "error");
        System.setProperty("org.slf4j.simpleLogger.log.kafka", "error");
        System.setProperty("org.slf4j.simpleLogger.log.io.averager", "warn");
        return dataDir != null ? dataDir : Files.createTempDirectory(prefix);
    }
}
