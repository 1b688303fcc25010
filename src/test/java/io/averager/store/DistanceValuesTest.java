package io.averager.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.averager.ema.Dtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The distances store's values survive a round trip, follow profiles by name and stay bounded. */
class DistanceValuesTest {

    @Test
    void historyKeepsTheLastPointsAndReadsProfilesByName() {
        DistanceHistory history = DistanceHistory.decode(null, List.of("a", "b"));
        for (long step = 1; step <= DistanceHistory.MAX_POINTS + 5; step++) {
            history.add(step, 1000 + step, step % 10 == 0, new double[] {step, -step});
        }
        DistanceHistory read = DistanceHistory.decode(history.encode(), List.of("b", "c"));
        assertThat(read.points()).hasSize(DistanceHistory.MAX_POINTS);
        DistanceHistory.Point first = read.points().get(0);
        assertThat(first.step()).isEqualTo(6);
        assertThat(first.time()).isEqualTo(1006);
        assertThat(first.relative()).containsExactly(-6.0, Double.NaN);
        assertThat(read.points().get(4).checkpoint()).isTrue();
    }

    @Test
    void pendingSumsResumeForTheirStepAndRestartForAnother() {
        PendingDistances pending = PendingDistances.decode(null, List.of("a", "b"));
        // An EMA of 0 against a raw 2: (0 - 2)^2 and 2^2.
        ByteBuffer ema = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, 0f);
        ByteBuffer raw = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, 2f);
        pending.sums(7, "a").accumulate(ema, Dtype.F32, raw, Dtype.F32, 1);
        PendingDistances read = PendingDistances.decode(pending.encode(), List.of("a", "b"));
        assertThat(read.step()).isEqualTo(7);
        assertThat(read.sums(7, "a").rawSquares()).isEqualTo(4.0);
        assertThat(read.relative()).containsExactly(1.0, 0.0);
        assertThat(read.sums(8, "a").rawSquares()).as("another step starts from zero").isZero();
    }
}
