package io.averager.config;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.kafka.common.config.ConfigDef;

/** Renders the configuration reference from the ConfigDefs themselves, so the docs cannot drift. */
public final class ConfigDocs {

    private ConfigDocs() {
    }

    public static String markdown() {
        StringBuilder out = new StringBuilder();
        out.append("#### Service settings\n\n");
        table(out, AveragerConfig.CONFIG, "");
        out.append("\n#### Profile settings: `averager.profile.NAME.*`, for each NAME in `averager.profiles`\n\n");
        table(out, ProfileConfig.CONFIG, "averager.profile.NAME.");
        return out.toString();
    }

    private static void table(StringBuilder out, ConfigDef def, String prefix) {
        out.append("| key | type | default | valid values | importance | description |\n");
        out.append("|---|---|---|---|---|---|\n");
        List<ConfigDef.ConfigKey> keys = new ArrayList<>(def.configKeys().values());
        keys.sort(Comparator.comparing((ConfigDef.ConfigKey k) -> k.importance).thenComparing(k -> k.name));
        for (ConfigDef.ConfigKey k : keys) {
            out.append("| `").append(prefix).append(k.name).append("` | ")
                    .append(k.type.toString().toLowerCase()).append(" | ")
                    .append(k.hasDefault() && k.defaultValue != null ? "`" + ConfigDef.convertToString(k.defaultValue, k.type) + "`" : "").append(" | ")
                    .append(k.validator == null ? "" : k.validator.toString().replace("|", "\\|")).append(" | ")
                    .append(k.importance.toString().toLowerCase()).append(" | ")
                    .append(k.documentation.replace("|", "\\|")).append(" |\n");
        }
    }
}
