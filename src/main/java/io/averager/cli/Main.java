package io.averager.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point: {@code java -jar averager.jar COMMAND}. */
@Command(name = "averager", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Exponential moving averages of neural-network weights for fleets of training runs, over Kafka.",
        subcommands = {RunCommand.class, DemoCommand.class, PublishCommand.class, VerifyCommand.class, DocsCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"averager " + (v == null ? "(development build)" : v)};
        }
    }
}
