package io.averager.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.ema.Profile;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.config.ConfigException;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class ProfileConfigTest {

    private static List<Profile> profiles(String... keysAndValues) {
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", "broker:9092");
        for (int i = 0; i < keysAndValues.length; i += 2) {
            props.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return new AveragerConfig(props).profiles();
    }

    @Test
    void parsesEveryListedProfileInOrder() {
        List<Profile> p = profiles(
                "averager.profiles", "fast, slow",
                "averager.profile.fast.decay", "0.99",
                "averager.profile.slow.decay", "0.9999");

        assertThat(p).extracting(Profile::name).containsExactly("fast", "slow");
        assertThat(p.get(0).decay()).isEqualTo(0.99);
        assertThat(p.get(0).unit()).isEqualTo(Profile.Unit.SNAPSHOT);
        assertThat(p.get(0).warmup()).isEqualTo(Profile.Warmup.NONE);
        assertThat(p.get(1).decay()).isEqualTo(0.9999);
    }

    @Test
    void halfLifeInStepsSetsTheDecayAndUnitStep() {
        Profile p = profiles("averager.profile.ema.halflife.steps", "100").get(0);

        assertThat(p.decay()).isEqualTo(Math.pow(0.5, 1.0 / 100));
        assertThat(p.unit()).isEqualTo(Profile.Unit.STEP);
        assertThat(p.decayAt(200, 100)).isCloseTo(0.5, Offset.offset(1e-12));
    }

    @Test
    void explicitUnitWinsOverTheHalfLifeDefault() {
        Profile p = profiles(
                "averager.profile.ema.halflife.steps", "10",
                "averager.profile.ema.unit", "SNAPSHOT").get(0);

        assertThat(p.unit()).isEqualTo(Profile.Unit.SNAPSHOT);
        assertThat(p.decay()).isEqualTo(Math.pow(0.5, 1.0 / 10));
    }

    @Test
    void parsesThePowerWarmupAndItsParameters() {
        Profile p = profiles(
                "averager.profile.ema.decay", "0.999",
                "averager.profile.ema.warmup", "Power",
                "averager.profile.ema.warmup.gamma", "2.0",
                "averager.profile.ema.warmup.power", "0.6666",
                "averager.profile.ema.update.after.step", "100",
                "averager.profile.ema.min.decay", "0.5").get(0);

        assertThat(p).isEqualTo(Profile.builder("ema").decay(0.999).warmup(Profile.Warmup.POWER)
                .warmupGamma(2.0).warmupPower(0.6666).updateAfterStep(100).minDecay(0.5).build());
    }

    @Test
    void parsesTheTfWarmup() {
        Profile p = profiles("averager.profile.ema.warmup", "tf").get(0);

        assertThat(p.warmup()).isEqualTo(Profile.Warmup.TF);
        // (1 + t) / (10 + t) at t = 10 - 0 - 1 = 9.
        assertThat(p.decayAt(10, 5)).isEqualTo(10.0 / 19.0);
    }

    @Test
    void unknownProfileKeyIsRejectedWithTheFullKeyNamed() {
        assertThatThrownBy(() -> profiles("averager.profile.ema.decai", "0.9"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("averager.profile.ema.decai");
    }

    @Test
    void invalidProfileValueIsRejectedNamingTheProfile() {
        assertThatThrownBy(() -> profiles("averager.profile.ema.decay", "1.5"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("Profile 'ema'")
                .hasMessageContaining("decay");
        assertThatThrownBy(() -> profiles("averager.profile.ema.warmup", "cosine"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("warmup");
        assertThatThrownBy(() -> profiles("averager.profile.ema.unit", "epoch"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("unit");
    }

    @Test
    void inconsistentProfileIsRejectedNamingTheProfileAndField() {
        assertThatThrownBy(() -> profiles("averager.profile.ema.decay", "0.9", "averager.profile.ema.min.decay", "0.95"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("Profile ema")
                .hasMessageContaining("min_decay");
        assertThatThrownBy(() -> profiles("averager.profile.ema.halflife.steps", "-3"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("half_life_steps");
    }

    @Test
    void checkpointFormatDefaultsToSafetensorsAndBothMeansSafetensorsThenPt() {
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", "broker:9092");
        props.put("averager.profiles", "plain,torch,both");
        props.put("averager.profile.torch.format", "pt");
        props.put("averager.profile.both.format", "Both");

        Map<String, Set<String>> formats = ProfileConfig.formats(new AveragerConfig(props));

        assertThat(formats).containsOnlyKeys("plain", "torch", "both");
        assertThat(formats.get("plain")).containsExactly("safetensors");
        assertThat(formats.get("torch")).containsExactly("pt");
        assertThat(formats.get("both")).containsExactly("safetensors", "pt");
    }

    @Test
    void unknownCheckpointFormatIsRejectedNamingTheProfile() {
        assertThatThrownBy(() -> profiles("averager.profile.ema.format", "onnx"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("Profile 'ema'")
                .hasMessageContaining("format");
    }

    @Test
    void sigmaRelMakesAPowerProfile() {
        List<Profile> p = profiles(
                "averager.profiles", "p05,p10,g",
                "averager.profile.p05.sigma.rel", "0.05",
                "averager.profile.p10.type", "POWER",
                "averager.profile.p10.sigma.rel", "0.10",
                "averager.profile.g.gamma", "6.5",
                "averager.profile.g.format", "pt");

        assertThat(p.get(0)).isEqualTo(Profile.builder("p05").powerSigmaRel(0.05).build());
        assertThat(p.get(0).gamma()).isCloseTo(16.97, Offset.offset(0.005));
        assertThat(p.get(1)).isEqualTo(Profile.builder("p10").powerSigmaRel(0.10).build());
        assertThat(p.get(2)).isEqualTo(Profile.builder("g").powerGamma(6.5).build());
    }

    @Test
    void powerProfileRejectsExponentialSettingsNamingTheKey() {
        assertThatThrownBy(() -> profiles("averager.profile.ema.sigma.rel", "0.1", "averager.profile.ema.decay", "0.9"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("averager.profile.ema.decay")
                .hasMessageContaining("takes no exponential settings");
        assertThatThrownBy(() -> profiles("averager.profile.ema.sigma.rel", "0.1", "averager.profile.ema.gamma", "7"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("not both");
    }

    @Test
    void powerTypeNeedsAWidthAndAWidthNeedsThePowerType() {
        assertThatThrownBy(() -> profiles("averager.profile.ema.type", "power"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("needs averager.profile.ema.sigma.rel");
        assertThatThrownBy(() -> profiles("averager.profile.ema.type", "exponential", "averager.profile.ema.sigma.rel", "0.1"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("is a power profile");
        assertThatThrownBy(() -> profiles("averager.profile.ema.sigma.rel", "0.3"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("Profile ema: sigma_rel is 0.3");
    }

    @Test
    void duplicateProfileNamesCollapseToOne() {
        assertThat(profiles("averager.profiles", "ema,slow,ema")).extracting(Profile::name).containsExactly("ema", "slow");
    }
}
