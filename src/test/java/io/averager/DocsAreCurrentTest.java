package io.averager;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.config.ConfigDocs;
import io.averager.wire.WireDocs;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The README's reference sections are what the code generates (`averager docs config|wire`). */
class DocsAreCurrentTest {

    @Test
    void readmeHoldsTheGeneratedConfigurationReference() throws Exception {
        assertThat(section("config")).isEqualTo(ConfigDocs.markdown());
    }

    @Test
    void readmeHoldsTheGeneratedWireFormatReference() throws Exception {
        assertThat(section("wire")).isEqualTo(WireDocs.markdown());
    }

    @Test
    void everyWireFieldIsDocumented() {
        assertThat(WireDocs.markdown().lines().filter(l -> l.endsWith("|  |"))).isEmpty();
    }

    private static String section(String name) throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        String begin = "<!-- " + name + ":begin -->\n";
        int from = readme.indexOf(begin);
        int to = readme.indexOf("<!-- " + name + ":end -->");
        assertThat(from).as("README marker %s", begin.trim()).isNotNegative();
        return readme.substring(from + begin.length(), to);
    }
}
