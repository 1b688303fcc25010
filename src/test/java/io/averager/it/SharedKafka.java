package io.averager.it;

import io.averager.Directories;
import io.averager.embedded.EmbeddedKafka;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One real broker for every integration test in this JVM, started on first use and stopped at
 * exit, when its directory is deleted. Tests keep apart by unique topic names and application ids ({@link #unique}).
 */
final class SharedKafka {

    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static EmbeddedKafka kafka;
    private static Path root;

    private SharedKafka() {
    }

    static synchronized EmbeddedKafka broker() {
        if (kafka == null) {
            try {
                root = Files.createTempDirectory("averager-it-");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            kafka = EmbeddedKafka.start(root.resolve("kafka"));
            Path dir = root;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                kafka.close();
                try {
                    Directories.deleteTree(dir);
                } catch (IOException e) {
                    System.err.println("Could not delete the test broker's directory " + dir + ": " + e);
                }
            }));
        }
        return kafka;
    }

    static String bootstrapServers() {
        return broker().bootstrapServers();
    }

    /** A name no other test in this JVM uses. */
    static String unique(String prefix) {
        return prefix + "-" + ProcessHandle.current().pid() + "-" + COUNTER.incrementAndGet();
    }
}
