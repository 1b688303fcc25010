package io.averager.ema;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Power profiles as {@link Profile}s: building, decay, description and validation. */
class PowerProfileTest {

    @Test
    void sigmaRelBuildsAPowerProfileWithItsGamma() {
        Profile p = Profile.builder("p10").powerSigmaRel(0.10).build();
        assertThat(p.type()).isEqualTo(Profile.Type.POWER);
        assertThat(p.gamma()).isCloseTo(6.937203937601809, Tolerances.DECAY);
        assertThat(p.sigmaRel()).isCloseTo(0.10, Tolerances.DECAY);
        assertThat(p).isEqualTo(Profile.builder("p10").powerGamma(PowerFunction.gammaOf(0.10)).build());
    }

    @Test
    void decayIsThePowerFunctionsBetaOfTheStepGap() {
        Profile p = Profile.builder("p").powerGamma(1.0).build();
        assertThat(p.decayAt(100, 90)).isCloseTo(0.81, Tolerances.DECAY);
        assertThat(p.decayAt(5, 0)).as("the first update after step 0 copies").isZero();
    }

    @Test
    void describesItselfByTypeGammaAndSigmaRel() {
        Profile p = Profile.builder("p").powerGamma(6.5).build();
        assertThat(p.describe()).containsExactly(
                java.util.Map.entry("name", "p"),
                java.util.Map.entry("type", "power"),
                java.util.Map.entry("gamma", "6.5"),
                java.util.Map.entry("sigma_rel", Double.toString(PowerFunction.sigmaRelOf(6.5))));
        assertThat(Double.parseDouble(p.describe().get("gamma"))).isEqualTo(p.gamma());
    }

    @Test
    void exponentialProfilesHaveNoGamma() {
        Profile p = Profile.builder("e").decay(0.9).build();
        assertThat(p.type()).isEqualTo(Profile.Type.EXPONENTIAL);
        assertThat(p.gamma()).isNaN();
        assertThat(p).isNotEqualTo(Profile.builder("e").powerGamma(0.9).build());
    }

    @Test
    void rejectsExponentialSettingsOnAPowerProfile() {
        assertThatThrownBy(() -> Profile.builder("p").powerSigmaRel(0.1).decay(0.9).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Profile p: decay is set; expected no exponential setting on a power profile");
        assertThatThrownBy(() -> Profile.builder("p").warmup(Profile.Warmup.TF).powerGamma(3).build())
                .hasMessageContaining("warmup is set");
    }

    @Test
    void rejectsWidthsAndExponentsOutOfRange() {
        assertThatThrownBy(() -> Profile.builder("p").powerSigmaRel(0.3).build())
                .hasMessageStartingWith("Profile p: sigma_rel is 0.3; expected a number in (0, 0.288");
        assertThatThrownBy(() -> Profile.builder("p").powerGamma(0).build())
                .hasMessage("Profile p: gamma is 0.0; expected a finite number > 0");
        assertThatThrownBy(() -> Profile.builder("p").powerGamma(Double.POSITIVE_INFINITY).build())
                .hasMessageContaining("gamma is Infinity");
    }
}
