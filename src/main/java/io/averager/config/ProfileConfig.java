package io.averager.config;

import io.averager.ema.Profile;
import io.averager.ema.ProfileBuilder;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Range;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;

/**
 * The keys of one EMA profile, {@code averager.profile.NAME.*}, and their translation into an
 * {@link Profile}. Stateless.
 */
public final class ProfileConfig {

    public static final String TYPE_CONFIG = "type";
    private static final String TYPE_DOC = "Decay schedule family: 'exponential' (decay, warmup, ...: timm's and diffusers' EMA) or 'power'"
            + " (EDM2's power-function EMA, set by sigma.rel or gamma, whose window grows with the step; its checkpoints can be combined"
            + " after training into an EMA of another width by 'averager synthesize').";
    public static final String SIGMA_REL_CONFIG = "sigma.rel";
    private static final String SIGMA_REL_DOC = "Power profile: the relative standard deviation of the averaging window, in (0, 0.2887)."
            + " EDM2 uses 0.05 and 0.10. Takes none of the exponential settings; the decay at step t after step t-dt is (1-dt/t)^(gamma+1).";
    public static final String GAMMA_CONFIG = "gamma";
    private static final String GAMMA_DOC = "Power profile: the exponent gamma > 0 instead of sigma.rel (sigma.rel 0.05 is gamma 16.97, 0.10 is 6.94).";
    /** The settings only an exponential profile takes. */
    private static final List<String> EXPONENTIAL_ONLY = List.of("decay", "halflife.steps", "warmup", "warmup.gamma",
            "warmup.power", "update.after.step", "min.decay", "unit");
    public static final String DECAY_CONFIG = "decay";
    private static final String DECAY_DOC = "EMA decay: ema = decay * ema + (1 - decay) * weights. timm's default.";
    public static final String HALFLIFE_STEPS_CONFIG = "halflife.steps";
    private static final String HALFLIFE_STEPS_DOC = "Instead of decay: the number of optimizer steps after which a snapshot's weight has halved."
            + " Sets decay = 0.5^(1/halflife) and, unless given, unit = step.";
    public static final String WARMUP_CONFIG = "warmup";
    private static final String WARMUP_DOC = "Decay warmup: 'none'; 'power' 1-(1+t/gamma)^-power as timm ModelEmaV3 and diffusers; 'tf' (1+t)/(10+t)."
            + " t counts optimizer steps after update.after.step; the warmed-up decay never exceeds decay.";
    public static final String WARMUP_GAMMA_CONFIG = "warmup.gamma";
    private static final String WARMUP_GAMMA_DOC = "gamma of the power warmup.";
    public static final String WARMUP_POWER_CONFIG = "warmup.power";
    private static final String WARMUP_POWER_DOC = "power of the power warmup (2/3 suits long runs, 3/4 short ones).";
    public static final String UPDATE_AFTER_STEP_CONFIG = "update.after.step";
    private static final String UPDATE_AFTER_STEP_DOC = "Until the optimizer step passes this (plus one, as timm and diffusers count), the EMA copies the weights.";
    public static final String MIN_DECAY_CONFIG = "min.decay";
    private static final String MIN_DECAY_DOC = "Lower bound of the decay.";
    public static final String UNIT_CONFIG = "unit";
    private static final String UNIT_DOC = "What one decay is for: 'snapshot' (one update per snapshot, timm's meaning) or 'step'"
            + " (per optimizer step: the decay is raised to the step gap since the last update, so sparse or irregular publishing averages over the same horizon).";
    public static final String COPY_CONFIG = "copy";
    private static final String COPY_DOC = "Tensors whose EMA is their latest weights, not an average: a regular expression searched for in"
            + " each tensor name (as Python's re.search), e.g. 'running_(mean|var)$'. Integer tensors are always copied;"
            + " publishers may name more (copy= in the Python client).";
    public static final String FORMAT_CONFIG = "format";
    private static final String FORMAT_DOC = "File format of the profile's checkpoints: 'safetensors'; 'pt', PyTorch's torch.save format"
            + " holding {'state_dict_ema': state dict, 'step', 'run', 'profile'}, for torch.load(path, weights_only=True) and timm;"
            + " or 'both', two files under the same key with extensions .safetensors and .pt, each with its own manifest.";
    /** A format in {@link #formats}: the safetensors file the sink assembles. */
    public static final String SAFETENSORS = "safetensors";
    /** A format in {@link #formats}: PyTorch's {@code torch.save} format, converted from the safetensors file. */
    public static final String PT = "pt";
    private static final String BOTH = "both";

    public static final ConfigDef CONFIG = new ConfigDef()
            .define(TYPE_CONFIG, Type.STRING, null, new NullOr(ConfigDef.CaseInsensitiveValidString.in("exponential", "power")),
                    Importance.MEDIUM, TYPE_DOC + " Default: 'power' when sigma.rel or gamma is set, else 'exponential'.")
            .define(SIGMA_REL_CONFIG, Type.DOUBLE, null, Importance.MEDIUM, SIGMA_REL_DOC)
            .define(GAMMA_CONFIG, Type.DOUBLE, null, Importance.LOW, GAMMA_DOC)
            .define(DECAY_CONFIG, Type.DOUBLE, 0.9999, Range.between(0.0, 1.0), Importance.HIGH, DECAY_DOC)
            .define(HALFLIFE_STEPS_CONFIG, Type.DOUBLE, null, Importance.MEDIUM, HALFLIFE_STEPS_DOC)
            .define(WARMUP_CONFIG, Type.STRING, "none", ConfigDef.CaseInsensitiveValidString.in("none", "power", "tf"), Importance.MEDIUM, WARMUP_DOC)
            .define(WARMUP_GAMMA_CONFIG, Type.DOUBLE, 1.0, Importance.LOW, WARMUP_GAMMA_DOC)
            .define(WARMUP_POWER_CONFIG, Type.DOUBLE, 0.75, Importance.LOW, WARMUP_POWER_DOC)
            .define(UPDATE_AFTER_STEP_CONFIG, Type.LONG, 0L, Range.atLeast(0), Importance.LOW, UPDATE_AFTER_STEP_DOC)
            .define(MIN_DECAY_CONFIG, Type.DOUBLE, 0.0, Range.between(0.0, 1.0), Importance.LOW, MIN_DECAY_DOC)
            .define(UNIT_CONFIG, Type.STRING, null, new NullOr(ConfigDef.CaseInsensitiveValidString.in("snapshot", "step")), Importance.MEDIUM,
                    UNIT_DOC + " Default: 'snapshot', or 'step' with halflife.steps.")
            .define(COPY_CONFIG, Type.STRING, null, Importance.LOW, COPY_DOC)
            .define(FORMAT_CONFIG, Type.STRING, SAFETENSORS, ConfigDef.CaseInsensitiveValidString.in(SAFETENSORS, PT, BOTH),
                    Importance.MEDIUM, FORMAT_DOC);

    private ProfileConfig() {
    }

    /** Accepts no value (the default applies) or one the inner validator accepts. */
    private record NullOr(ConfigDef.Validator inner) implements ConfigDef.Validator {
        @Override
        public void ensureValid(String name, Object value) {
            if (value != null) {
                inner.ensureValid(name, value);
            }
        }

        @Override
        public String toString() {
            return inner.toString();
        }
    }

    /** The key prefix of profile {@code name}. */
    public static String prefix(String name) {
        return "averager.profile." + name + ".";
    }

    /**
     * The file formats each configured profile's checkpoints are stored in, by profile name:
     * {@link #SAFETENSORS}, {@link #PT} or both, in that order. The keys were validated when
     * {@code config} was built.
     */
    public static Map<String, Set<String>> formats(AveragerConfig config) {
        Map<String, Set<String>> formats = new LinkedHashMap<>();
        for (Profile profile : config.profiles()) {
            String value = new AbstractConfig(CONFIG, config.originalsWithPrefix(prefix(profile.name())), false)
                    .getString(FORMAT_CONFIG).toLowerCase(Locale.ROOT);
            formats.put(profile.name(), switch (value) {
                case SAFETENSORS -> Set.of(SAFETENSORS);
                case PT -> Set.of(PT);
                default -> Collections.unmodifiableSet(new LinkedHashSet<>(List.of(SAFETENSORS, PT)));
            });
        }
        return Collections.unmodifiableMap(formats);
    }

    /** Builds profile {@code name} from its keys (prefix removed); errors name the full key. */
    public static Profile parse(String name, Map<String, Object> keys) {
        for (String key : keys.keySet()) {
            if (!CONFIG.names().contains(key)) {
                throw new ConfigException(prefix(name) + key, keys.get(key), "unknown profile setting; known: " + CONFIG.names());
            }
        }
        AbstractConfig c;
        try {
            c = new AbstractConfig(CONFIG, keys, false);
        } catch (ConfigException e) {
            throw new ConfigException("Profile '" + name + "' (keys " + prefix(name) + "*): " + e.getMessage());
        }
        boolean power = c.getDouble(SIGMA_REL_CONFIG) != null || c.getDouble(GAMMA_CONFIG) != null;
        String type = c.getString(TYPE_CONFIG);
        if (type != null && power != type.equalsIgnoreCase("power")) {
            throw new ConfigException(prefix(name) + TYPE_CONFIG, type, power
                    ? "a profile with " + SIGMA_REL_CONFIG + " or " + GAMMA_CONFIG + " is a power profile"
                    : "a power profile needs " + prefix(name) + SIGMA_REL_CONFIG + " or " + prefix(name) + GAMMA_CONFIG);
        }
        if (power) {
            return power(name, keys, c);
        }
        ProfileBuilder b = Profile.builder(name)
                .copy(c.getString(COPY_CONFIG))
                .decay(c.getDouble(DECAY_CONFIG))
                .warmup(Profile.Warmup.valueOf(c.getString(WARMUP_CONFIG).toUpperCase(Locale.ROOT)))
                .warmupGamma(c.getDouble(WARMUP_GAMMA_CONFIG))
                .warmupPower(c.getDouble(WARMUP_POWER_CONFIG))
                .updateAfterStep(c.getLong(UPDATE_AFTER_STEP_CONFIG))
                .minDecay(c.getDouble(MIN_DECAY_CONFIG));
        if (c.getString(UNIT_CONFIG) != null) {
            b.unit(Profile.Unit.valueOf(c.getString(UNIT_CONFIG).toUpperCase(Locale.ROOT)));
        }
        if (c.getDouble(HALFLIFE_STEPS_CONFIG) != null) {
            b.halfLifeSteps(c.getDouble(HALFLIFE_STEPS_CONFIG));
        }
        return build(b);
    }

    private static Profile power(String name, Map<String, Object> keys, AbstractConfig c) {
        for (String key : EXPONENTIAL_ONLY) {
            if (keys.containsKey(key)) {
                throw new ConfigException(prefix(name) + key, keys.get(key), "a power profile (" + prefix(name)
                        + SIGMA_REL_CONFIG + " or " + GAMMA_CONFIG + ") takes no exponential settings");
            }
        }
        if (c.getDouble(SIGMA_REL_CONFIG) != null && c.getDouble(GAMMA_CONFIG) != null) {
            throw new ConfigException(prefix(name) + GAMMA_CONFIG, keys.get(GAMMA_CONFIG),
                    "give either " + SIGMA_REL_CONFIG + " or " + GAMMA_CONFIG + ", not both");
        }
        ProfileBuilder b = Profile.builder(name).copy(c.getString(COPY_CONFIG));
        if (c.getDouble(SIGMA_REL_CONFIG) != null) {
            b.powerSigmaRel(c.getDouble(SIGMA_REL_CONFIG));
        } else {
            b.powerGamma(c.getDouble(GAMMA_CONFIG));
        }
        return build(b);
    }

    private static Profile build(ProfileBuilder b) {
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
    }
}
