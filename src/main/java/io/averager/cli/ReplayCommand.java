package io.averager.cli;

import io.averager.replay.Replay;
import io.averager.topology.Selection;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code averager replay}: recomputes runs' EMAs with new profiles from the retained history. */
@Command(name = "replay", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Recomputes the EMA of runs with new decay schedules from the snapshots history kept in Kafka,"
                + " without touching the live service, and writes the checkpoints next to the live ones under the new"
                + " profile names. Stops by itself at the end of the history seen at its start.",
                "Several --profile groups compute several EMAs in one pass. Checkpoints are taken at the cadence of"
                        + " --config (or --checkpoint-every) and at the end of each run."})
final class ReplayCommand implements Callable<Integer> {

    @ArgGroup(exclusive = true, multiplicity = "1")
    ClusterOptions cluster;

    @Option(names = "--run", required = true, paramLabel = "RUN", description = "A run to replay; repeat for several.")
    List<String> runs;

    @ArgGroup(exclusive = false, multiplicity = "1..*", heading = "Profiles (repeat the group for several):%n")
    List<ProfileOptions> profiles;

    static final class ProfileOptions {
        @Option(names = "--profile", required = true, paramLabel = "NAME", description = "Name of the new profile.")
        String name;
        @Option(names = "--decay", description = "EMA decay.")
        String decay;
        @Option(names = "--halflife-steps", paramLabel = "H", description = "Half-life in optimizer steps instead of --decay.")
        String halflife;
        @Option(names = "--warmup", description = "none, power or tf.")
        String warmup;
        @Option(names = "--warmup-gamma", paramLabel = "G", description = "gamma of the power warmup (ema-pytorch: inv_gamma); 1 by default.")
        String gamma;
        @Option(names = "--warmup-power", paramLabel = "P", description = "power of the power warmup (ema-pytorch: power); 0.75 by default.")
        String power;
        @Option(names = "--update-after-step", paramLabel = "STEP", description = "Until the optimizer step passes this (plus one, as timm and diffusers count), the EMA copies the weights; 0 by default.")
        String updateAfter;
        @Option(names = "--min-decay", paramLabel = "D", description = "Lower bound of the decay (ema-pytorch: min_value); 0 by default.")
        String minDecay;
        @Option(names = "--unit", description = "snapshot or step.")
        String unit;
        @Option(names = "--sigma-rel", paramLabel = "S", description = "A power-function (EDM2) profile of this relative width"
                + " instead of --decay, e.g. 0.05.")
        String sigmaRel;
        @Option(names = "--gamma", paramLabel = "G", description = "A power-function profile of this exponent instead of --sigma-rel.")
        String powerGamma;

        void into(Map<String, String> settings) {
            String p = "averager.profile." + name + ".";
            put(settings, p + "decay", decay);
            put(settings, p + "halflife.steps", halflife);
            put(settings, p + "warmup", warmup);
            put(settings, p + "warmup.gamma", gamma);
            put(settings, p + "warmup.power", power);
            put(settings, p + "update.after.step", updateAfter);
            put(settings, p + "min.decay", minDecay);
            put(settings, p + "unit", unit);
            put(settings, p + "sigma.rel", sigmaRel);
            put(settings, p + "gamma", powerGamma);
        }

        private static void put(Map<String, String> settings, String key, String value) {
            if (value != null) {
                settings.put(key, value);
            }
        }
    }

    @Option(names = "--from-step", paramLabel = "STEP", description = "Start at this step: its snapshot sets the EMA.")
    Long fromStep;

    @Option(names = "--to-step", paramLabel = "STEP", description = "Ignore snapshots after this step.")
    Long toStep;

    @Option(names = "--checkpoint-every", paramLabel = "N", description = "Checkpoint every N steps (default: the config's).")
    Long checkpointEvery;

    @Option(names = "--overwrite", description = "Replace existing checkpoints of these profile names.")
    boolean overwrite;

    @Option(names = "--keep-state", description = "Keep the replay's internal topics and state.")
    boolean keepState;

    @Option(names = {"-D", "--set"}, paramLabel = "KEY=VALUE", description = "A setting that overrides the config file.")
    Map<String, String> overrides = new HashMap<>();

    @Override
    public Integer call() throws Exception {
        Map<String, String> settings = cluster.settings();
        // The replay's profiles replace the live service's.
        settings.keySet().removeIf(k -> k.startsWith("averager.profile"));
        List<String> names = new ArrayList<>();
        for (ProfileOptions p : profiles) {
            names.add(p.name);
            p.into(settings);
        }
        settings.put("averager.profiles", String.join(",", names));
        if (checkpointEvery != null) {
            settings.put("averager.checkpoint.every.steps", checkpointEvery.toString());
        }
        settings.putAll(overrides);
        Selection selection = new Selection(new LinkedHashSet<>(runs), fromStep == null ? Long.MIN_VALUE : fromStep,
                toStep == null ? Long.MAX_VALUE : toStep);
        new Replay(settings, selection, overwrite, keepState).run(System.out, System.console() != null);
        return 0;
    }
}
