package io.averager;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every relative link of the README and the pages under docs/ names a file that exists, and
 * every {@code #anchor} a heading of that page, as GitHub makes anchors from headings.
 */
class DocsLinksTest {

    private static final Pattern LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");
    private static final Pattern SCHEME = Pattern.compile("^[a-z]+:");
    private static final Pattern HEADING = Pattern.compile("^#{1,6} (.*)$");
    private static final Pattern FENCED = Pattern.compile("(?ms)^```.*?^```");

    @Test
    void everyRelativeLinkResolves() {
        assertThat(brokenLinks(pages())).isEmpty();
    }

    @Test
    void aMissingFileOrHeadingIsReported(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("a.md"), "# A\n\n## Two words\n\n[ok](b.md#b) [ok](#two-words) [web](https://x.org/#y)\n"
                + "[gone](c.md) [no heading](b.md#two-words)\n```\n[in code](d.md)\n```\n");
        Files.writeString(dir.resolve("b.md"), "# B\n");

        assertThat(brokenLinks(List.of(dir.resolve("a.md")))).containsExactly(
                dir.resolve("a.md") + ": c.md: no file " + dir.resolve("c.md"),
                dir.resolve("a.md") + ": b.md#two-words: no heading #two-words in " + dir.resolve("b.md"));
    }

    @Test
    void anchorsAreMadeAsGitHubMakesThem() {
        assertThat(anchors("## Topics and state stores\n### `averager.profile.NAME.*`, for each NAME\n## Topics and state stores\n"))
                .containsExactlyInAnyOrder("topics-and-state-stores", "averagerprofilename-for-each-name",
                        "topics-and-state-stores-1");
    }

    private static List<Path> pages() {
        List<Path> pages = new ArrayList<>(List.of(Path.of("README.md"), Path.of("docker/README.md"),
                Path.of("clients/python/README.md")));
        try (Stream<Path> docs = Files.list(Path.of("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return pages;
    }

    /** One line per link that names a missing file or a missing heading. */
    private static List<String> brokenLinks(List<Path> pages) {
        List<String> broken = new ArrayList<>();
        for (Path page : pages) {
            Matcher link = LINK.matcher(FENCED.matcher(read(page)).replaceAll(""));
            while (link.find()) {
                String target = link.group(1);
                if (SCHEME.matcher(target).find()) {
                    continue;
                }
                int hash = target.indexOf('#');
                String file = hash < 0 ? target : target.substring(0, hash);
                Path resolved = file.isEmpty() ? page : page.resolveSibling(file).normalize();
                if (!Files.exists(resolved)) {
                    broken.add(page + ": " + target + ": no file " + resolved);
                } else if (hash >= 0 && !anchors(read(resolved)).contains(target.substring(hash + 1))) {
                    broken.add(page + ": " + target + ": no heading #" + target.substring(hash + 1) + " in " + resolved);
                }
            }
        }
        return broken;
    }

    /** The anchors GitHub gives the headings of a Markdown text, outside fenced code. */
    static Set<String> anchors(String markdown) {
        Set<String> anchors = new HashSet<>();
        Map<String, Integer> seen = new HashMap<>();
        for (String line : FENCED.matcher(markdown).replaceAll("").split("\n")) {
            Matcher heading = HEADING.matcher(line);
            if (heading.matches()) {
                String slug = heading.group(1).strip().toLowerCase(Locale.ROOT)
                        .replaceAll("[^\\p{L}\\p{N} _-]", "").replace(' ', '-');
                int n = seen.merge(slug, 1, Integer::sum);
                anchors.add(n == 1 ? slug : slug + "-" + (n - 1));
            }
        }
        return anchors;
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
