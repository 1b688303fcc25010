package io.averager.posthoc;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a synthesis made and how well: the target, the checkpoints used with their coefficients,
 * and the {@link Fit}. Immutable.
 *
 * @param step the step the synthesized EMA stands for
 * @param sigmaRel the requested relative standard deviation
 * @param gamma its exponent
 * @param used the stored checkpoints, in profile then step order
 */
public record SynthesisReport(String run, long step, double sigmaRel, double gamma, List<Used> used, Fit fit) {

    /**
     * One stored checkpoint in the sum.
     *
     * @param gamma its profile's exponent, from its metadata
     */
    public record Used(String profile, long step, double gamma, double coefficient, String uri) {
    }

    public SynthesisReport {
        used = List.copyOf(used);
    }

    /** The synthesized file's metadata: what it is, where it comes from and how good the fit is. */
    public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("run", run);
        m.put("profile", "posthoc");
        m.put("step", Long.toString(step));
        m.put("ema.name", "posthoc");
        m.put("ema.type", "power");
        m.put("ema.gamma", Double.toString(gamma));
        m.put("ema.sigma_rel", Double.toString(sigmaRel));
        StringBuilder sources = new StringBuilder();
        for (Used u : used) {
            sources.append(sources.length() == 0 ? "" : ",").append(u.profile).append('@').append(u.step).append('=')
                    .append(u.coefficient);
        }
        m.put("posthoc.sources", sources.toString());
        m.put("posthoc.relative_l1_error", Double.toString(fit.relativeL1Error()));
        m.put("posthoc.condition_number", Double.toString(fit.conditionNumber()));
        m.put("posthoc.max_abs_coefficient", Double.toString(fit.maxAbsCoefficient()));
        m.put("format", "averager-ema");
        return m;
    }

    /** The fit report, several lines for people; warnings last, each on a line starting "warning:". */
    public String describe() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "Synthesized run %s step %d: sigma_rel %s (gamma %s) from %d checkpoints%n",
                run, step, Fit.brief(sigmaRel), Fit.brief(gamma), used.size()));
        b.append(String.format(Locale.ROOT, "  %-16s %10s %9s %12s%n", "profile", "step", "sigma_rel", "coefficient"));
        for (Used u : used) {
            b.append(String.format(Locale.ROOT, "  %-16s %10d %9s %12.4g%n", u.profile, u.step,
                    Fit.brief(new AveragingProfile(1, u.gamma).sigmaRel()), u.coefficient));
        }
        b.append(String.format(Locale.ROOT, "Profile error (relative L1): %.3g%n", fit.relativeL1Error()));
        b.append(String.format(Locale.ROOT, "Condition number: %.3g%n", fit.conditionNumber()));
        b.append(String.format(Locale.ROOT, "Largest |coefficient|: %.3g%n", fit.maxAbsCoefficient()));
        for (String w : fit.warnings()) {
            b.append("warning: ").append(w).append(String.format("%n"));
        }
        return b.toString();
    }
}
