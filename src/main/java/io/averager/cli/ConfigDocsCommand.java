package io.averager.cli;

import io.averager.config.ConfigDocs;
import picocli.CommandLine.Command;

/** {@code averager config-docs}: prints the configuration reference, as in the README. */
@Command(name = "config-docs", mixinStandardHelpOptions = true,
        description = "Prints the configuration reference (Markdown), generated from the definitions the service uses.")
final class ConfigDocsCommand implements Runnable {

    @Override
    public void run() {
        System.out.print(ConfigDocs.markdown());
    }
}
