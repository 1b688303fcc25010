package io.averager.cli;

import io.averager.config.AveragerConfig;
import io.averager.posthoc.Synthesis;
import io.averager.posthoc.SynthesisReport;
import io.averager.service.AveragerService;
import java.nio.file.Path;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code averager synthesize}: a post-hoc EMA of any width from a run's stored power EMA checkpoints. */
@Command(name = "synthesize", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Synthesizes after training the power-function EMA (EDM2) of a run with any relative width, as a"
                + " weighted sum of the run's stored checkpoints of power profiles (averager.profile.NAME.sigma.rel) at"
                + " steps up to --step, fitted by least squares, and writes it as a safetensors file.",
                "Prints the fit: the relative L1 error between the requested and the achieved averaging profile, the"
                        + " condition number and the largest coefficient; warns when extrapolating. Approximate and"
                        + " cheap (reads a few checkpoints); 'averager replay --sigma-rel' is exact and reads the whole history.",
                "S3 settings (averager.s3.endpoint, ...) come from --config or -D."})
final class SynthesizeCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    ClusterOptions cluster;

    @Option(names = "--run", required = true, paramLabel = "RUN", description = "The run whose stored checkpoints to combine.")
    String run;

    @Option(names = "--sigma-rel", required = true, paramLabel = "S", description = "Relative width of the EMA to synthesize, in (0, 0.2887), e.g. 0.075.")
    double sigmaRel;

    @Option(names = "--step", paramLabel = "N", description = "The step the EMA stands for (default: the last step with a power checkpoint).")
    Long step;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "The safetensors file to write.")
    Path output;

    @Option(names = "--work-dir", paramLabel = "DIR", description = "Where to keep the fetched checkpoints meanwhile (default: a temporary directory).")
    Path workDir;

    @Mixin
    ManifestOptions manifestOptions;

    @Override
    public Integer call() throws Exception {
        AveragerConfig config = manifestOptions.config(cluster);
        Synthesis.Target target = new Synthesis.Target(run, sigmaRel,
                step == null ? OptionalLong.empty() : OptionalLong.of(step));
        SynthesisReport report = Synthesis.synthesize(manifestOptions.read(config).live(),
                location -> AveragerService.objectStore(location, config),
                workDir != null ? workDir : Path.of(System.getProperty("java.io.tmpdir")), target, output);
        spec.commandLine().getOut().print(report.describe());
        spec.commandLine().getOut().println("-> " + output);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
