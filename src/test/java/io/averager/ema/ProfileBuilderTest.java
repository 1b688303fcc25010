package io.averager.ema;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import io.averager.ema.Profile.Unit;
import io.averager.ema.Profile.Warmup;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class ProfileBuilderTest {

    private static void assertRejected(UnaryOperator<ProfileBuilder> setting, String field, String value) {
        assertThatThrownBy(() -> setting.apply(Profile.builder("slow").decay(0.999)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("Profile slow: " + field + " is " + value + "; expected ");
    }

    @Test
    void defaultsAreTimmsWithoutWarmup() {
        Profile p = Profile.builder("slow").decay(0.999).build();
        assertThat(p.name()).isEqualTo("slow");
        assertThat(p.warmup()).isEqualTo(Warmup.NONE);
        assertThat(p.warmupGamma()).isEqualTo(1.0);
        assertThat(p.warmupPower()).isEqualTo(0.75);
        assertThat(p.updateAfterStep()).isZero();
        assertThat(p.minDecay()).isZero();
        assertThat(p.unit()).isEqualTo(Unit.SNAPSHOT);
    }

    @Test
    void everyInvalidValueIsNamedWithItsProfileAndField() {
        assertRejected(b -> b.decay(1.5), "decay", "1.5");
        assertRejected(b -> b.decay(-0.1), "decay", "-0.1");
        assertRejected(b -> b.decay(Double.NaN), "decay", "NaN");
        assertRejected(b -> b.halfLifeSteps(0), "half_life_steps", "0.0");
        assertRejected(b -> b.halfLifeSteps(Double.POSITIVE_INFINITY), "half_life_steps", "Infinity");
        assertRejected(b -> b.warmup(null), "warmup", "null");
        assertRejected(b -> b.warmupGamma(0), "warmup.gamma", "0.0");
        assertRejected(b -> b.warmupPower(-1), "warmup.power", "-1.0");
        assertRejected(b -> b.updateAfterStep(-1), "update_after_step", "-1");
        assertRejected(b -> b.minDecay(-0.5), "min_decay", "-0.5");
        assertRejected(b -> b.minDecay(0.9999), "min_decay", "0.9999");
        assertThatThrownBy(() -> Profile.builder("slow").unit(null))
                .hasMessageStartingWith("Profile slow: unit is null");
    }

    @Test
    void decayOrHalfLifeIsRequired() {
        assertThatThrownBy(() -> Profile.builder("slow").build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Profile slow: decay is NaN")
                .hasMessageContaining("half_life_steps");
    }

    @Test
    void blankNameIsRejected() {
        assertThatThrownBy(() -> Profile.builder(" ").decay(0.9).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("name");
        assertThatThrownBy(() -> Profile.builder(null).decay(0.9).build())
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void boundaryDecaysAreAllowed() {
        assertThat(Profile.builder("keep").decay(1).build().decayAt(3, 2)).isEqualTo(1.0);
        assertThat(Profile.builder("copy").decay(0).build().decayAt(3, 2)).isZero();
    }

    @Test
    void explicitUnitWinsOverHalfLifeInEitherOrder() {
        assertThat(Profile.builder("a").unit(Unit.SNAPSHOT).halfLifeSteps(10).build().unit())
                .isEqualTo(Unit.SNAPSHOT);
        assertThat(Profile.builder("b").halfLifeSteps(10).unit(Unit.SNAPSHOT).build().unit())
                .isEqualTo(Unit.SNAPSHOT);
    }

    @Test
    void laterOfDecayAndHalfLifeWins() {
        Profile byDecay = Profile.builder("a").halfLifeSteps(10).decay(0.9).build();
        assertThat(byDecay.decay()).isEqualTo(0.9);
        assertThat(byDecay.unit()).isEqualTo(Unit.SNAPSHOT);
        assertThat(Profile.builder("b").decay(0.9).halfLifeSteps(1).build().decay()).isEqualTo(0.5);
    }

    @Test
    void describeListsEveryFieldUnderStableKeys() {
        Profile p = Profile.builder("fast").decay(0.99).warmup(Warmup.POWER).warmupGamma(2)
                .warmupPower(0.5).updateAfterStep(7).minDecay(0.25).unit(Unit.STEP).build();
        assertThat(p.describe()).containsExactly(
                entry("name", "fast"),
                entry("decay", "0.99"),
                entry("warmup", "power"),
                entry("warmup.gamma", "2.0"),
                entry("warmup.power", "0.5"),
                entry("update_after_step", "7"),
                entry("min_decay", "0.25"),
                entry("unit", "step"));
        assertThatThrownBy(() -> p.describe().put("decay", "0")).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void describedDecayReadsBackExactly() {
        Profile p = Profile.builder("h").halfLifeSteps(1234).build();
        assertThat(Double.parseDouble(p.describe().get("decay"))).isEqualTo(p.decay());
    }

    @Test
    void profilesWithEqualSettingsAreEqual() {
        Profile a = Profile.builder("x").decay(0.9).warmup(Warmup.TF).build();
        Profile b = Profile.builder("x").decay(0.9).warmup(Warmup.TF).build();
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b);
        assertThat(a).isNotEqualTo(Profile.builder("x").decay(0.9).build());
        assertThat(a).isNotEqualTo(Profile.builder("y").decay(0.9).warmup(Warmup.TF).build());
        assertThat(a.toString()).contains("x", "0.9", "tf");
    }

    @Test
    void warmupAndUnitParseTheirConfigNames() {
        assertThat(Warmup.parse("power")).isEqualTo(Warmup.POWER);
        assertThat(Warmup.parse("TF")).isEqualTo(Warmup.TF);
        assertThat(Unit.parse("step")).isEqualTo(Unit.STEP);
        assertThatThrownBy(() -> Warmup.parse("linear")).hasMessageContaining("'linear'").hasMessageContaining("none");
        assertThatThrownBy(() -> Unit.parse("epoch")).hasMessageContaining("'epoch'").hasMessageContaining("snapshot");
    }
}
