package io.averager.cli;

import io.averager.AveragerException;
import org.apache.kafka.common.config.ConfigException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point: {@code java -jar averager.jar COMMAND}. */
@Command(name = "averager", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Exponential moving averages of neural-network weights for fleets of training runs, over Kafka.",
        subcommands = {RunCommand.class, DemoCommand.class, PublishCommand.class, RewindCommand.class, ForkCommand.class, ReplayCommand.class, VerifyCommand.class, GetCommand.class, CheckpointsCommand.class, SynthesizeCommand.class, TopicsCommand.class, DescribeCommand.class, BenchCommand.class, DocsCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /**
     * The command line, with errors the user can act on (bad settings, a refused replay, a
     * broker that cannot be reached) printed as one message rather than a stack trace.
     */
    public static CommandLine commandLine() {
        return new CommandLine(new Main()).setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof AveragerException || e instanceof ConfigException) {
                cmd.getErr().println("averager " + cmd.getCommandName() + ": " + e.getMessage());
                return 1;
            }
            throw e;
        });
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
