package io.averager;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.ConfigDocs;
import io.averager.wire.WireDocs;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The generated reference pages hold what the code generates ({@code averager docs config|wire}),
 * between their markers: docs/configuration.md and docs/wire-format.md.
 */
class DocsAreCurrentTest {

    @Test
    void configurationPageHoldsTheGeneratedReference() throws Exception {
        assertThat(section("docs/configuration.md", "config")).isEqualTo(ConfigDocs.markdown());
    }

    @Test
    void wireFormatPageHoldsTheGeneratedReference() throws Exception {
        assertThat(section("docs/wire-format.md", "wire")).isEqualTo(WireDocs.markdown());
    }

    @Test
    void theReadmeHoldsNoSecondCopyToDrift() throws Exception {
        assertThat(Files.readString(Path.of("README.md"))).doesNotContain(":begin -->");
    }

    @Test
    void everyWireFieldIsDocumented() {
        assertThat(WireDocs.markdown().lines().filter(l -> l.endsWith("|  |"))).isEmpty();
    }

    private static String section(String page, String name) throws Exception {
        String text = Files.readString(Path.of(page));
        String begin = "<!-- " + name + ":begin -->\n";
        int from = text.indexOf(begin);
        int to = text.indexOf("<!-- " + name + ":end -->");
        assertThat(from).as("%s marker %s", page, begin.trim()).isNotNegative();
        assertThat(to).as("%s marker <!-- %s:end -->", page, name).isGreaterThan(from);
        return text.substring(from + begin.length(), to);
    }
}
