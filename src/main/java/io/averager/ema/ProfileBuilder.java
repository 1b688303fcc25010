package io.averager.ema;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Collects the settings of a {@link Profile}; {@link #build()} validates them all, so a profile
 * that exists is valid. For an exponential profile either {@link #decay(double)} or
 * {@link #halfLifeSteps(double)} must be given; the later call wins. {@link #powerGamma(double)} or
 * {@link #powerSigmaRel(double)} makes a power profile instead, which takes none of the
 * exponential settings. Not thread-safe; obtain one with {@link Profile#builder(String)}.
 */
public final class ProfileBuilder {

    private final String name;
    private double decay = Double.NaN;
    private double halfLife = Double.NaN;
    private Profile.Warmup warmup = Profile.Warmup.NONE;
    private double warmupGamma = Profile.DEFAULT_WARMUP_GAMMA;
    private double warmupPower = Profile.DEFAULT_WARMUP_POWER;
    private long updateAfterStep;
    private double minDecay;
    private Profile.Unit unit;
    private double powerGamma = Double.NaN;
    private double powerSigmaRel = Double.NaN;
    private String exponentialSetting;
    private String copy;

    ProfileBuilder(String name) {
        this.name = name;
    }

    /** The decay after warmup, in [0, 1]. */
    public ProfileBuilder decay(double decay) {
        exponentialSetting = "decay";
        this.decay = decay;
        this.halfLife = Double.NaN;
        return this;
    }

    /**
     * Gives the decay as a half-life: {@code decay = 0.5 ^ (1 / h)}, so the weight of the old
     * state halves every {@code h} units. Sets the unit to {@link Profile.Unit#STEP} unless
     * {@link #unit(Profile.Unit)} is called, before or after.
     */
    public ProfileBuilder halfLifeSteps(double h) {
        exponentialSetting = "half_life_steps";
        this.halfLife = h;
        this.decay = Double.NaN;
        return this;
    }

    /** The warmup; default {@link Profile.Warmup#NONE}. */
    public ProfileBuilder warmup(Profile.Warmup warmup) {
        exponentialSetting = "warmup";
        this.warmup = warmup;
        return this;
    }

    /** The power warmup's {@code gamma}, finite and > 0; default 1. */
    public ProfileBuilder warmupGamma(double gamma) {
        exponentialSetting = "warmup.gamma";
        this.warmupGamma = gamma;
        return this;
    }

    /** The power warmup's {@code power}, finite and > 0; default 0.75. */
    public ProfileBuilder warmupPower(double power) {
        exponentialSetting = "warmup.power";
        this.warmupPower = power;
        return this;
    }

    /** Steps to copy before averaging, >= 0; default 0. */
    public ProfileBuilder updateAfterStep(long step) {
        exponentialSetting = "update_after_step";
        this.updateAfterStep = step;
        return this;
    }

    /** The floor under the decay, in [0, decay]; default 0. */
    public ProfileBuilder minDecay(double minDecay) {
        exponentialSetting = "min_decay";
        this.minDecay = minDecay;
        return this;
    }

    /** The unit of the decay; default {@link Profile.Unit#SNAPSHOT}, or STEP with a half-life. */
    public ProfileBuilder unit(Profile.Unit unit) {
        if (unit == null) {
            throw new IllegalArgumentException("Profile " + name + ": unit is null; expected one of [snapshot, step]");
        }
        this.unit = unit;
        exponentialSetting = "unit";
        return this;
    }

    /**
     * Tensors whose EMA is their latest weights rather than an average: a regular expression
     * searched for in each tensor's name (Python's {@code re.search}), for example
     * {@code running_(mean|var)$}; null (the default) for none.
     */
    public ProfileBuilder copy(String regex) {
        this.copy = regex;
        return this;
    }

    /**
     * Makes this a power profile with exponent {@code gamma}, finite and > 0; the later of this
     * and {@link #powerSigmaRel(double)} wins.
     */
    public ProfileBuilder powerGamma(double gamma) {
        this.powerGamma = gamma;
        this.powerSigmaRel = Double.NaN;
        return this;
    }

    /**
     * Makes this a power profile of relative standard deviation {@code sigmaRel}, in
     * (0, {@link PowerFunction#MAX_SIGMA_REL}); the exponent is {@link PowerFunction#gammaOf}.
     */
    public ProfileBuilder powerSigmaRel(double sigmaRel) {
        this.powerSigmaRel = sigmaRel;
        this.powerGamma = Double.NaN;
        return this;
    }

    /**
     * @throws IllegalArgumentException naming the profile, the field, its value and what was
     *                                  expected, for the first invalid setting
     */
    public Profile build() {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException(
                    "Profile name is " + (name == null ? "null" : "'" + name + "'") + "; expected a non-blank name");
        }
        Pattern copied = null;
        if (copy != null) {
            try {
                copied = Pattern.compile(copy);
            } catch (PatternSyntaxException e) {
                check(false, "copy", "'" + copy + "'", "a regular expression (" + e.getDescription() + ")");
            }
        }
        if (!Double.isNaN(powerGamma) || !Double.isNaN(powerSigmaRel)) {
            return buildPower(copied);
        }
        boolean fromHalfLife = !Double.isNaN(halfLife);
        if (fromHalfLife) {
            check(halfLife > 0 && !Double.isInfinite(halfLife), "half_life_steps", halfLife, "a finite number > 0");
        }
        double d = fromHalfLife ? Math.pow(0.5, 1.0 / halfLife) : decay;
        check(d >= 0 && d <= 1, "decay", d, "a number in [0, 1]; set decay or half_life_steps");
        check(warmup != null, "warmup", null, "one of [none, power, tf]");
        check(warmupGamma > 0 && !Double.isInfinite(warmupGamma), "warmup.gamma", warmupGamma, "a finite number > 0");
        check(warmupPower > 0 && !Double.isInfinite(warmupPower), "warmup.power", warmupPower, "a finite number > 0");
        check(updateAfterStep >= 0, "update_after_step", updateAfterStep, "a step >= 0");
        check(minDecay >= 0 && minDecay <= d, "min_decay", minDecay, "a number in [0, decay = " + d + "]");
        Profile.Unit u = unit != null ? unit : fromHalfLife ? Profile.Unit.STEP : Profile.Unit.SNAPSHOT;
        return new Profile(name, d, warmup, warmupGamma, warmupPower, updateAfterStep, minDecay, u, copied);
    }

    private Profile buildPower(Pattern copied) {
        check(exponentialSetting == null, exponentialSetting, "set", "no exponential setting on a power profile");
        if (!Double.isNaN(powerSigmaRel)) {
            check(powerSigmaRel > 0 && powerSigmaRel < PowerFunction.MAX_SIGMA_REL, "sigma_rel", powerSigmaRel,
                    "a number in (0, " + PowerFunction.MAX_SIGMA_REL + ")");
            return new Profile(name, PowerFunction.gammaOf(powerSigmaRel), copied);
        }
        check(powerGamma > 0 && !Double.isInfinite(powerGamma), "gamma", powerGamma, "a finite number > 0");
        return new Profile(name, powerGamma, copied);
    }

    // NaN fails every comparison, so it is rejected along with out-of-range values.
    private void check(boolean ok, String field, Object value, String expected) {
        if (!ok) {
            throw new IllegalArgumentException(String.format(
                    "Profile %s: %s is %s; expected %s", name, field, value, expected));
        }
    }
}
