package io.averager.ema;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Makes the build enforce that {@code io.averager.ema} stays pure: no Kafka, no I/O, no clock. */
class EmaPackageIsPureTest {

    private static final Path SOURCES = Path.of("src/main/java/io/averager/ema");
    private static final Pattern ALLOWED_IMPORT =
            Pattern.compile("import (static )?(java\\.lang|java\\.util|io\\.averager\\.ema)\\.[\\w.*]+;");

    @Test
    void emaSourcesImportOnlyJavaLangJavaUtilAndThemselves() {
        List<String> offending = sourceLines()
                .filter(line -> line.contains(": import ")
                        && !ALLOWED_IMPORT.matcher(line.substring(line.indexOf(": ") + 2)).matches())
                .collect(Collectors.toList());
        assertThat(offending).isEmpty();
    }

    @Test
    void emaSourcesReadNoClock() {
        List<String> offending = sourceLines()
                .filter(line -> line.contains("currentTimeMillis") || line.contains("nanoTime")
                        || line.contains("Instant.now") || line.contains("Clock."))
                .collect(Collectors.toList());
        assertThat(offending).isEmpty();
    }

    /** Every trimmed line of the package's sources, prefixed with its file name. */
    private static Stream<String> sourceLines() {
        assertThat(SOURCES).isDirectory();
        try (Stream<Path> files = Files.list(SOURCES)) {
            return files.filter(f -> f.toString().endsWith(".java"))
                    .sorted()
                    .flatMap(EmaPackageIsPureTest::linesOf)
                    .collect(Collectors.toList())
                    .stream();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Stream<String> linesOf(Path file) {
        try {
            String prefix = file.getFileName() + ": ";
            return Files.readAllLines(file).stream().map(line -> prefix + line.trim());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
