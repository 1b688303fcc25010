package io.averager.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ConfigDocsTest {

    @Test
    void listsEveryServiceKeyWithItsDefault() {
        String docs = ConfigDocs.markdown();

        assertThat(AveragerConfig.CONFIG.names()).isNotEmpty();
        for (String key : AveragerConfig.CONFIG.names()) {
            assertThat(docs).as(key).contains("| `" + key + "` |");
        }
        assertThat(docs).contains("`averager.checkpoint.every.steps` | long | `1000` |");
    }

    @Test
    void listsEveryProfileKeyUnderItsPrefix() {
        String docs = ConfigDocs.markdown();

        assertThat(ProfileConfig.CONFIG.names()).isNotEmpty();
        for (String key : ProfileConfig.CONFIG.names()) {
            assertThat(docs).as(key).contains("| `averager.profile.NAME." + key + "` |");
        }
    }

    @Test
    void everyRowHasSixCellsSoPipesInDocsAreEscaped() {
        List<String> rows = ConfigDocs.markdown().lines().filter(l -> l.startsWith("| `")).toList();

        assertThat(rows).hasSize(AveragerConfig.CONFIG.names().size() + ProfileConfig.CONFIG.names().size());
        for (String row : rows) {
            assertThat(row.replace("\\|", "").chars().filter(c -> c == '|').count()).as(row).isEqualTo(7);
        }
    }
}
