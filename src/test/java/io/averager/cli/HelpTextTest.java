package io.averager.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** Every option and parameter of every command says in {@code --help} what it is. */
class HelpTextTest {

    @Test
    void everyOptionAndParameterOfEveryCommandHasADescription() {
        List<String> undescribed = new ArrayList<>();
        collect(Main.commandLine(), undescribed);
        assertThat(undescribed).isEmpty();
    }

    private static void collect(CommandLine command, List<String> undescribed) {
        CommandSpec spec = command.getCommandSpec();
        for (OptionSpec o : spec.options()) {
            if (blank(o.description())) {
                undescribed.add(spec.qualifiedName() + " " + o.longestName());
            }
        }
        for (PositionalParamSpec p : spec.positionalParameters()) {
            if (blank(p.description())) {
                undescribed.add(spec.qualifiedName() + " " + p.paramLabel());
            }
        }
        command.getSubcommands().values().forEach(sub -> collect(sub, undescribed));
    }

    private static boolean blank(String[] description) {
        return description.length == 0 || String.join("", description).isBlank();
    }
}
