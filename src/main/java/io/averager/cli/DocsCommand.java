package io.averager.cli;

import io.averager.config.ConfigDocs;
import io.averager.wire.WireDocs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code averager docs}: prints a generated reference page of docs/ (configuration.md, wire-format.md). */
@Command(name = "docs", mixinStandardHelpOptions = true,
        description = "Prints a reference (Markdown) generated from the definitions the service uses: 'config' or 'wire'.")
final class DocsCommand implements Runnable {

    enum Section { config, wire }

    @Parameters(paramLabel = "SECTION", description = "config or wire")
    Section section;

    @Override
    public void run() {
        System.out.print(section == Section.config ? ConfigDocs.markdown() : WireDocs.markdown());
    }
}
