package io.averager.ema;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.averager.ema.Profile.Unit;
import io.averager.ema.Profile.Warmup;
import org.junit.jupiter.api.Test;

/** Known answers of {@link Profile#decayAt}; expected values are worked out by hand. */
class ProfileDecayTest {

    private static ProfileBuilder profile() {
        return Profile.builder("test");
    }

    @Test
    void withoutWarmupTheDecayIsConstant() {
        Profile p = profile().decay(0.999).build();
        assertThat(p.decayAt(2, 1)).isEqualTo(0.999);
        assertThat(p.decayAt(1_000_000, 999_000)).isEqualTo(0.999);
    }

    @Test
    void firstStepCopiesAsInTimm() {
        assertThat(profile().decay(0.999).build().decayAt(1, 0)).isZero();
    }

    @Test
    void copiesUntilUpdateAfterStepHasPassed() {
        Profile p = profile().decay(0.99).updateAfterStep(10).build();
        for (long step = 1; step <= 11; step++) {
            assertThat(p.decayAt(step, step - 1)).as("step %d", step).isZero();
        }
        assertThat(p.decayAt(12, 11)).isEqualTo(0.99);
        assertThat(p.decayAt(12, 3)).isEqualTo(0.99);
    }

    @Test
    void powerWarmupFollowsItsFormula() {
        Profile p = profile().decay(0.9999).warmup(Warmup.POWER).build();
        // 1 - (1 + s)^-0.75 with s = step - 1: 2^-0.75 = 0.5946035575013605, 16^-0.75 = 1/8,
        // 81^-0.75 = 1/27, 10000^-0.75 = 1/1000.
        assertThat(p.decayAt(2, 1)).isCloseTo(0.4053964424986395, Tolerances.DECAY);
        assertThat(p.decayAt(16, 15)).isCloseTo(0.875, Tolerances.DECAY);
        assertThat(p.decayAt(81, 80)).isCloseTo(26.0 / 27.0, Tolerances.DECAY);
        assertThat(p.decayAt(10_000, 9_999)).isCloseTo(0.999, Tolerances.DECAY);
    }

    @Test
    void powerWarmupUsesGammaAndPower() {
        Profile gamma2 = profile().decay(0.9999).warmup(Warmup.POWER).warmupGamma(2).build();
        assertThat(gamma2.decayAt(31, 1)).isCloseTo(0.875, Tolerances.DECAY);
        Profile twoThirds = profile().decay(0.9999).warmup(Warmup.POWER).warmupPower(2.0 / 3.0).build();
        assertThat(twoThirds.decayAt(8, 1)).isCloseTo(0.75, Tolerances.DECAY);
    }

    @Test
    void powerWarmupCountsFromUpdateAfterStep() {
        Profile p = profile().decay(0.9999).warmup(Warmup.POWER).updateAfterStep(100).build();
        assertThat(p.decayAt(116, 100)).isCloseTo(0.875, Tolerances.DECAY);
    }

    @Test
    void tfWarmupFollowsItsFormula() {
        Profile p = profile().decay(0.999).warmup(Warmup.TF).build();
        assertThat(p.decayAt(2, 1)).isCloseTo(2.0 / 11.0, Tolerances.DECAY);
        assertThat(p.decayAt(10, 9)).isCloseTo(10.0 / 19.0, Tolerances.DECAY);
        assertThat(p.decayAt(91, 90)).isCloseTo(0.91, Tolerances.DECAY);
    }

    @Test
    void warmupNeverExceedsTheDecay() {
        assertThat(profile().decay(0.9).warmup(Warmup.POWER).build().decayAt(10_000, 1)).isEqualTo(0.9);
        assertThat(profile().decay(0.5).warmup(Warmup.TF).build().decayAt(91, 90)).isEqualTo(0.5);
    }

    @Test
    void minDecayIsAFloorUnderTheWarmup() {
        Profile p = profile().decay(0.9999).warmup(Warmup.POWER).minDecay(0.5).build();
        assertThat(p.decayAt(2, 1)).isEqualTo(0.5);
        assertThat(p.decayAt(16, 15)).isCloseTo(0.875, Tolerances.DECAY);
    }

    @Test
    void minDecayDoesNotApplyWhileCopying() {
        assertThat(profile().decay(0.9).minDecay(0.5).build().decayAt(1, 0)).isZero();
    }

    @Test
    void stepUnitRaisesTheDecayToTheStepGap() {
        Profile p = profile().decay(0.99).unit(Unit.STEP).build();
        assertThat(p.decayAt(110, 100)).isCloseTo(0.9043820750088044, Tolerances.DECAY);
        assertThat(p.decayAt(101, 100)).isEqualTo(0.99);
    }

    @Test
    void stepUnitRaisesTheWarmedUpDecay() {
        Profile p = profile().decay(0.9999).warmup(Warmup.POWER).unit(Unit.STEP).build();
        assertThat(p.decayAt(16, 14)).isCloseTo(0.875 * 0.875, Tolerances.DECAY);
    }

    @Test
    void snapshotUnitIgnoresTheStepGap() {
        assertThat(profile().decay(0.99).build().decayAt(110, 100)).isEqualTo(0.99);
    }

    @Test
    void afterHalfLifeStepsTheOldStateWeighsHalf() {
        Profile p = profile().halfLifeSteps(100).build();
        assertThat(p.unit()).isEqualTo(Unit.STEP);
        assertThat(p.decay()).isCloseTo(0.9930924954370359, Tolerances.DECAY);
        assertThat(p.decayAt(1_100, 1_000)).isCloseTo(0.5, Tolerances.DECAY);
        double weight = 1;
        for (long step = 1_000; step < 1_100; step++) {
            weight *= p.decayAt(step + 1, step);
        }
        assertThat(weight).isCloseTo(0.5, Tolerances.DECAY);
    }

    @Test
    void decayAtRejectsStepsThatDoNotAdvance() {
        Profile p = profile().decay(0.9).build();
        assertThatThrownBy(() -> p.decayAt(5, 5))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Profile test")
                .hasMessageContaining("step 5 after step 5");
        assertThatThrownBy(() -> p.decayAt(5, -1)).isInstanceOf(IllegalArgumentException.class);
    }
}
