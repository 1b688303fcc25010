package io.averager.ema;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A named EMA decay schedule. An {@link Type#EXPONENTIAL} profile has a decay, an optional warmup,
 * a number of steps to copy before averaging starts, a floor, and the unit the decay is counted
 * in. A {@link Type#POWER} profile is the power-function EMA of {@link PowerFunction}, given by its
 * exponent {@link #gamma()}; its decay depends only on the steps.
 *
 * <p>{@link #decayAt(long, long)} follows timm's {@code ModelEmaV3.get_decay} and diffusers'
 * {@code EMAModel.get_decay}, so a profile configured like either gives the same decays. With
 * {@link Unit#STEP} the decay is per optimizer step and is raised to the gap between snapshots,
 * so sparse or irregular publishing still averages over the intended horizon.
 *
 * <p>Immutable and thread-safe; build one with {@link #builder(String)}.
 */
public final class Profile {

    /** The family of a profile's decay schedule. */
    public enum Type {
        /** A constant decay, with optional warmup: timm's and diffusers' EMA. */
        EXPONENTIAL,
        /** The power-function EMA of EDM2, whose averaging window grows with the step. */
        POWER;

        /** The lower-case name used in configuration and checkpoint metadata. */
        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Warmup of the decay over the first steps of a run. */
    public enum Warmup {
        /** The decay from the first averaged step. */
        NONE,
        /** timm/diffusers power warmup, {@code 1 - (1 + t / gamma) ^ -power}. */
        POWER,
        /** TensorFlow-style warmup, {@code (1 + t) / (10 + t)}. */
        TF;

        /** The lower-case name used in configuration and checkpoint metadata. */
        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /**
         * The warmup with the given configuration name, ignoring case.
         *
         * @throws IllegalArgumentException naming the value and listing the valid names
         */
        public static Warmup parse(String name) {
            for (Warmup w : values()) {
                if (w.configName().equalsIgnoreCase(name)) {
                    return w;
                }
            }
            throw new IllegalArgumentException("Unknown warmup '" + name + "'; expected one of [none, power, tf]");
        }
    }

    /** What one application of the decay stands for. */
    public enum Unit {
        /** Once per received snapshot, whatever the step gap: timm's meaning. */
        SNAPSHOT,
        /** Once per optimizer step: the decay is raised to the step gap between snapshots. */
        STEP;

        /** The lower-case name used in configuration and checkpoint metadata. */
        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /**
         * The unit with the given configuration name, ignoring case.
         *
         * @throws IllegalArgumentException naming the value and listing the valid names
         */
        public static Unit parse(String name) {
            for (Unit u : values()) {
                if (u.configName().equalsIgnoreCase(name)) {
                    return u;
                }
            }
            throw new IllegalArgumentException("Unknown decay unit '" + name + "'; expected one of [snapshot, step]");
        }
    }

    /** Default {@code gamma} of the power warmup, as in timm and diffusers. */
    public static final double DEFAULT_WARMUP_GAMMA = 1.0;
    /** Default {@code power} of the power warmup; timm and diffusers suggest 2/3 or 3/4. */
    public static final double DEFAULT_WARMUP_POWER = 0.75;

    private final String name;
    private final double decay;
    private final Warmup warmup;
    private final double warmupGamma;
    private final double warmupPower;
    private final long updateAfterStep;
    private final double minDecay;
    private final Unit unit;
    private final Type type;
    private final double gamma;
    private final Pattern copy;

    // Values arrive validated from ProfileBuilder, the only caller.
    Profile(String name, double decay, Warmup warmup, double warmupGamma, double warmupPower,
            long updateAfterStep, double minDecay, Unit unit, Pattern copy) {
        this(name, Type.EXPONENTIAL, Double.NaN, decay, warmup, warmupGamma, warmupPower, updateAfterStep, minDecay, unit,
                copy);
    }

    // A power profile: the exponential fields hold their defaults and are not used.
    Profile(String name, double gamma, Pattern copy) {
        this(name, Type.POWER, gamma, Double.NaN, Warmup.NONE, DEFAULT_WARMUP_GAMMA, DEFAULT_WARMUP_POWER, 0, 0.0,
                Unit.STEP, copy);
    }

    private Profile(String name, Type type, double gamma, double decay, Warmup warmup, double warmupGamma,
                    double warmupPower, long updateAfterStep, double minDecay, Unit unit, Pattern copy) {
        this.copy = copy;
        this.name = name;
        this.type = type;
        this.gamma = gamma;
        this.decay = decay;
        this.warmup = warmup;
        this.warmupGamma = warmupGamma;
        this.warmupPower = warmupPower;
        this.updateAfterStep = updateAfterStep;
        this.minDecay = minDecay;
        this.unit = unit;
    }

    /** Starts a builder for a profile with this name; the name is checked by {@code build()}. */
    public static ProfileBuilder builder(String name) {
        return new ProfileBuilder(name);
    }

    public String name() {
        return name;
    }

    public Type type() {
        return type;
    }

    /** The power profile's exponent, > 0; NaN for an exponential profile. */
    public double gamma() {
        return gamma;
    }

    /** The power profile's relative standard deviation; NaN for an exponential profile. */
    public double sigmaRel() {
        return type == Type.POWER ? PowerFunction.sigmaRelOf(gamma) : Double.NaN;
    }

    /** The decay after warmup, in [0, 1], per {@link #unit()}; NaN for a power profile. */
    public double decay() {
        return decay;
    }

    public Warmup warmup() {
        return warmup;
    }

    public double warmupGamma() {
        return warmupGamma;
    }

    public double warmupPower() {
        return warmupPower;
    }

    /** Snapshots up to optimizer step {@code updateAfterStep + 1} copy the weights. */
    public long updateAfterStep() {
        return updateAfterStep;
    }

    /** The floor under the (warmed-up) decay, in [0, decay]. */
    public double minDecay() {
        return minDecay;
    }

    public Unit unit() {
        return unit;
    }

    /**
     * Whether this profile's EMA of the tensor is its latest weights rather than an average: its
     * name matches the profile's {@code copy} expression ({@link java.util.regex.Matcher#find()},
     * as Python's {@code re.search}). The header's own copy list is the publisher's say.
     */
    public boolean copies(String tensor) {
        return copy != null && copy.matcher(tensor).find();
    }

    /** The {@code copy} expression, or null if the profile has none. */
    public String copyPattern() {
        return copy == null ? null : copy.pattern();
    }

    /**
     * The decay to use when an EMA entry last updated at optimizer step {@code lastStep} receives
     * a snapshot of optimizer step {@code step}: {@code ema = d * ema + (1 - d) * weights}.
     * A power profile's decay is {@link PowerFunction#beta}: it copies at the first update after
     * step 0, and otherwise needs no warmup.
     *
     * @return the decay in [0, 1]; 0.0 when the update must copy the weights
     * @throws IllegalArgumentException unless {@code step > lastStep >= 0}
     */
    public double decayAt(long step, long lastStep) {
        if (lastStep < 0 || step <= lastStep) {
            throw new IllegalArgumentException(String.format(
                    "Profile %s: decay asked for step %d after step %d; expected step > last step >= 0",
                    name, step, lastStep));
        }
        if (type == Type.POWER) {
            return PowerFunction.beta(step, lastStep, gamma);
        }
        // Counts steps past update_after_step the way timm and diffusers do, off by one included.
        long s = step - updateAfterStep - 1;
        if (s <= 0) {
            return 0.0;
        }
        double d;
        switch (warmup) {
            case POWER:
                d = Math.min(1 - Math.pow(1 + s / warmupGamma, -warmupPower), decay);
                break;
            case TF:
                d = Math.min((1.0 + s) / (10.0 + s), decay);
                break;
            default:
                d = decay;
        }
        d = Math.max(d, minDecay);
        return unit == Unit.STEP ? Math.pow(d, step - lastStep) : d;
    }

    /**
     * Every field as a string, under stable keys ({@code name}, {@code decay}, {@code warmup},
     * {@code warmup.gamma}, {@code warmup.power}, {@code update_after_step}, {@code min_decay},
     * {@code unit}), in that order; for a power profile {@code name}, {@code type}, {@code gamma}
     * and {@code sigma_rel}; then {@code copy} if set. Doubles are written so they read back exactly; used as checkpoint
     * metadata so a checkpoint says how it was averaged.
     */
    public Map<String, String> describe() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("name", name);
        if (type == Type.POWER) {
            m.put("type", type.configName());
            m.put("gamma", Double.toString(gamma));
            m.put("sigma_rel", Double.toString(sigmaRel()));
        } else {
            m.put("decay", Double.toString(decay));
            m.put("warmup", warmup.configName());
            m.put("warmup.gamma", Double.toString(warmupGamma));
            m.put("warmup.power", Double.toString(warmupPower));
            m.put("update_after_step", Long.toString(updateAfterStep));
            m.put("min_decay", Double.toString(minDecay));
            m.put("unit", unit.configName());
        }
        if (copy != null) {
            m.put("copy", copy.pattern());
        }
        return Collections.unmodifiableMap(m);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Profile p
                && name.equals(p.name)
                && type == p.type
                && Double.compare(gamma, p.gamma) == 0
                && Double.compare(decay, p.decay) == 0
                && warmup == p.warmup
                && Double.compare(warmupGamma, p.warmupGamma) == 0
                && Double.compare(warmupPower, p.warmupPower) == 0
                && updateAfterStep == p.updateAfterStep
                && Double.compare(minDecay, p.minDecay) == 0
                && unit == p.unit
                && Objects.equals(copyPattern(), p.copyPattern());
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, type, gamma, decay, warmup, warmupGamma, warmupPower, updateAfterStep, minDecay, unit,
                copyPattern());
    }

    @Override
    public String toString() {
        return "Profile" + describe();
    }
}
