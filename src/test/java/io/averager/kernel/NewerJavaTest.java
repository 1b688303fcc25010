package io.averager.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * On a Java newer than 19, whose incubating Vector API no longer has the loads and stores the
 * vector loops use, the {@code java} kernel started with {@code --add-modules
 * jdk.incubator.vector} (as {@code ./averager} starts it) falls back to its scalar loops and
 * computes the same EMA and sums, bit for bit, instead of failing on the first chunk. Runs when
 * such a JDK is installed under {@code /usr/lib/jvm}.
 */
class NewerJavaTest {

    private static final Pattern VERSION = Pattern.compile("^JAVA_VERSION=\"(\\d+)", Pattern.MULTILINE);

    @Test
    void fallsBackToScalarLoopsWithTheSameResults() throws Exception {
        Optional<Path> java = newerJava();
        assumeTrue(java.isPresent(), "no JDK newer than 19 under /usr/lib/jvm");

        Process process = new ProcessBuilder(java.get().toString(), "--add-modules", JavaKernel.VECTOR_MODULE,
                "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
                KernelOnThisJava.class.getName()).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();

        assertThat(process.exitValue()).as(output).isZero();
        assertThat(output).contains("loops scalar").contains("Kernel 'java' runs scalar loops: the vector loops are written for");
        assertThat(output).contains(KernelOnThisJava.results(JavaKernel.scalar()));
    }

    private static Optional<Path> newerJava() throws IOException {
        Path jvms = Path.of("/usr/lib/jvm");
        if (!Files.isDirectory(jvms)) {
            return Optional.empty();
        }
        try (Stream<Path> homes = Files.list(jvms)) {
            for (Path home : homes.sorted().toList()) {
                Path release = home.resolve("release");
                Path java = home.resolve("bin/java");
                if (Files.isRegularFile(release) && Files.isExecutable(java)) {
                    Matcher m = VERSION.matcher(Files.readString(release));
                    if (m.find() && Integer.parseInt(m.group(1)) >= 20) {
                        return Optional.of(java);
                    }
                }
            }
        }
        return Optional.empty();
    }
}
