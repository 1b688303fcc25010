package io.averager.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.apache.kafka.common.utils.Bytes;
import org.junit.jupiter.api.Test;

class EmaKeyTest {

    @Test
    void distinctFieldsGiveDistinctKeysEvenWhenTheirConcatenationsAgree() {
        assertThat(EmaKey.of("ab", "c", "w", 0)).isNotEqualTo(EmaKey.of("a", "bc", "w", 0));
        assertThat(EmaKey.of("a\0", "b", "w", 0)).isNotEqualTo(EmaKey.of("a", "\0b", "w", 0));
        assertThat(EmaKey.of("r", "ema", "w", 0)).isNotEqualTo(EmaKey.of("r", "ema", "w", 4));
        assertThat(EmaKey.of("r", "ema", "w", 4)).isEqualTo(EmaKey.of("r", "ema", "w", 4));
    }

    @Test
    void entriesOfARunShareAKeyPrefix() {
        byte[] a = EmaKey.of("run-1", "ema", "layer.weight", 4096).get();
        byte[] b = EmaKey.of("run-1", "slow", "bias", 0).get();
        byte[] other = EmaKey.of("run-10", "ema", "layer.weight", 4096).get();
        int prefix = 4 + "run-1".length();

        assertThat(Arrays.copyOf(a, prefix)).isEqualTo(Arrays.copyOf(b, prefix));
        assertThat(Arrays.copyOf(other, prefix)).isNotEqualTo(Arrays.copyOf(a, prefix));
    }

    @Test
    void entriesOfATensorSortByOffset() {
        List<Bytes> keys = new ArrayList<>();
        long[] offsets = {1L << 33, 0, 4096, 255, 256, 1L << 20};
        for (long offset : offsets) {
            keys.add(EmaKey.of("r", "ema", "w", offset));
        }

        Collections.sort(keys);

        assertThat(keys).containsExactly(EmaKey.of("r", "ema", "w", 0), EmaKey.of("r", "ema", "w", 255),
                EmaKey.of("r", "ema", "w", 256), EmaKey.of("r", "ema", "w", 4096),
                EmaKey.of("r", "ema", "w", 1L << 20), EmaKey.of("r", "ema", "w", 1L << 33));
    }
}
