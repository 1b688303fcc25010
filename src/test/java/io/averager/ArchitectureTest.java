package io.averager;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The package rules of {@code src/main/java/io/averager}, checked on the sources: imports and
 * fully qualified names both count, so that a constant javac inlines is caught too.
 * <ul>
 *   <li>{@code ema/} is pure: it uses only {@code java.lang}, {@code java.util} and itself, and
 *       reads no clock;</li>
 *   <li>{@code lifecycle/} has no Kafka in it and reads no clock: it decides from records and state alone;</li>
 *   <li>only {@code store/} uses RocksDB, only {@code sink/} the AWS SDK, only {@code kernel/} DJL;</li>
 *   <li>{@code config/} and {@code cli/} are used only by the entry points and the wiring
 *       ({@value #CONFIGURED}): what the service is built of takes its settings as values;</li>
 *   <li>no two packages depend on each other, directly or through others.</li>
 * </ul>
 */
class ArchitectureTest {

    private static final Path SOURCES = Path.of("src/main/java/io/averager");
    private static final String CONFIGURED = "cli bench demo service replay config";
    private static final Pattern OWN = Pattern.compile("\\bio\\.averager\\.([a-z]+)\\.[A-Za-z*]");
    private static final Pattern OWN_ROOT = Pattern.compile("\\bio\\.averager\\.[A-Z]");
    private static final Pattern FOREIGN = Pattern.compile("\\b(org\\.rocksdb|software\\.amazon|ai\\.djl)\\.");
    private static final Pattern EMA_IMPORT = Pattern.compile("import (static )?(java\\.lang|java\\.util|io\\.averager\\.ema)\\.[\\w.*]+;");
    private static final Map<String, String> FOREIGN_OWNER = Map.of(
            "org.rocksdb", "store", "software.amazon", "sink", "ai.djl", "kernel");
    private static final String ROOT = "(root)";

    @Test
    void theSourcesKeepThePackageRules() {
        assertThat(violations(SOURCES)).isEmpty();
    }

    @Test
    void eachBrokenRuleIsReported(@TempDir Path tree) throws IOException {
        write(tree, "ema/Decay.java", "package io.averager.ema;\nimport java.io.File;\nclass Decay { long t = System.nanoTime(); }");
        write(tree, "topology/Apply.java", "package io.averager.topology;\nimport org.rocksdb.RocksDB;\n"
                + "class Apply { int max = io.averager.config.AveragerConfig.MAX; }");
        write(tree, "kernel/K.java", "package io.averager.kernel;\nimport software.amazon.awssdk.core.SdkBytes;\n"
                + "import io.averager.store.S;\nclass K {}");
        write(tree, "store/S.java", "package io.averager.store;\nimport io.averager.kernel.K;\nclass S {}");
        write(tree, "sink/Sink.java", "package io.averager.sink;\nimport ai.djl.ndarray.NDArray;\nclass Sink {}");
        write(tree, "lifecycle/Rule.java", "package io.averager.lifecycle;\nimport org.apache.kafka.streams.processor.api.Record;\n"
                + "class Rule { long now = System.currentTimeMillis(); }");
        write(tree, "cli/Main.java", "package io.averager.cli;\nimport io.averager.config.AveragerConfig;\nclass Main {}");

        assertThat(violations(tree)).containsExactlyInAnyOrder(
                "ema/Decay.java: ema/ may import only java.lang, java.util and itself: import java.io.File;",
                "ema/Decay.java: ema/ reads no clock: class Decay { long t = System.nanoTime(); }",
                "topology/Apply.java: only store/ may use org.rocksdb",
                "topology/Apply.java: only " + CONFIGURED + " may use config/",
                "kernel/K.java: only sink/ may use software.amazon",
                "sink/Sink.java: only kernel/ may use ai.djl",
                "lifecycle/Rule.java: lifecycle/ has no Kafka in it: import org.apache.kafka.streams.processor.api.Record;",
                "lifecycle/Rule.java: lifecycle/ reads no clock: class Rule { long now = System.currentTimeMillis(); }",
                "packages that depend on each other: kernel -> store -> kernel");
    }

    /** Every broken rule in the tree of sources below {@code root}, one line each. */
    private static List<String> violations(Path root) {
        List<String> found = new ArrayList<>();
        Map<String, Set<String>> uses = new TreeMap<>();
        for (Path file : javaFiles(root)) {
            String name = root.relativize(file).toString().replace('\\', '/');
            String pkg = name.contains("/") ? name.substring(0, name.indexOf('/')) : ROOT;
            Set<String> used = uses.computeIfAbsent(pkg, p -> new TreeSet<>());
            Set<String> foreign = new TreeSet<>();
            for (String line : lines(file)) {
                if (line.startsWith("package ")) {
                    continue;
                }
                if (pkg.equals("ema") && line.startsWith("import ") && !EMA_IMPORT.matcher(line).matches()) {
                    found.add(name + ": ema/ may import only java.lang, java.util and itself: " + line);
                }
                if (Set.of("ema", "lifecycle").contains(pkg)
                        && Stream.of("currentTimeMillis", "nanoTime", "Instant.now", "Clock.").anyMatch(line::contains)) {
                    found.add(name + ": " + pkg + "/ reads no clock: " + line);
                }
                if (pkg.equals("lifecycle") && line.contains("org.apache.kafka.")) {
                    found.add(name + ": lifecycle/ has no Kafka in it: " + line);
                }
                Matcher own = OWN.matcher(line);
                while (own.find()) {
                    used.add(own.group(1));
                }
                if (OWN_ROOT.matcher(line).find()) {
                    used.add(ROOT);
                }
                Matcher other = FOREIGN.matcher(line);
                while (other.find()) {
                    foreign.add(other.group(1));
                }
            }
            used.remove(pkg);
            for (String library : foreign) {
                if (!FOREIGN_OWNER.get(library).equals(pkg)) {
                    found.add(name + ": only " + FOREIGN_OWNER.get(library) + "/ may use " + library);
                }
            }
            if (!Set.of(CONFIGURED.split(" ")).contains(pkg)) {
                for (String p : List.of("config", "cli")) {
                    if (fileUses(file, p)) {
                        found.add(name + ": only " + CONFIGURED + " may use " + p + "/");
                    }
                }
            }
        }
        found.addAll(cycles(uses));
        return found;
    }

    private static boolean fileUses(Path file, String pkg) {
        Matcher own = OWN.matcher(String.join("\n", lines(file)));
        while (own.find()) {
            if (own.group(1).equals(pkg)) {
                return true;
            }
        }
        return false;
    }

    /** One line per pair of packages that reach each other, with a path from the first back to it. */
    private static List<String> cycles(Map<String, Set<String>> uses) {
        List<String> found = new ArrayList<>();
        Set<String> reported = new TreeSet<>();
        for (String from : uses.keySet()) {
            List<String> path = pathBack(uses, from);
            if (path != null && reported.add(String.join(",", new TreeSet<>(path)))) {
                found.add("packages that depend on each other: " + String.join(" -> ", path));
            }
        }
        return found;
    }

    /** A path of dependencies from {@code start} back to itself, or null. */
    private static List<String> pathBack(Map<String, Set<String>> uses, String start) {
        Map<String, String> cameFrom = new TreeMap<>();
        List<String> queue = new ArrayList<>(List.of(start));
        for (int i = 0; i < queue.size(); i++) {
            String at = queue.get(i);
            for (String next : uses.getOrDefault(at, Set.of())) {
                if (next.equals(start)) {
                    List<String> path = new ArrayList<>(List.of(start));
                    for (String p = at; !p.equals(start); p = cameFrom.get(p)) {
                        path.add(1, p);
                    }
                    path.add(start);
                    return path;
                }
                if (!cameFrom.containsKey(next)) {
                    cameFrom.put(next, at);
                    queue.add(next);
                }
            }
        }
        return null;
    }

    private static List<Path> javaFiles(Path root) {
        assertThat(root).isDirectory();
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(f -> f.toString().endsWith(".java")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file).stream().map(String::trim).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void write(Path root, String name, String text) throws IOException {
        Files.createDirectories(root.resolve(name).getParent());
        Files.writeString(root.resolve(name), text);
    }
}
