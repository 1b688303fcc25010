package io.averager.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class EmaEntryTest {

    @Test
    void stampAndDataSurviveAStoreRoundTrip() {
        EmaEntry entry = EmaEntry.allocate(8);
        entry.data().putFloat(0, 1.5f).putFloat(4, -2f);
        entry.stamp(1200, 7);

        EmaEntry read = EmaEntry.wrap(entry.bytes().clone());

        assertThat(read.lastStep()).isEqualTo(1200);
        assertThat(read.updates()).isEqualTo(7);
        assertThat(read.dataBytes()).isEqualTo(8);
        assertThat(read.data().order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
        assertThat(read.data().getFloat(0)).isEqualTo(1.5f);
        assertThat(read.data().getFloat(4)).isEqualTo(-2f);
    }

    @Test
    void dataIsAWritableViewOfTheStoredBytes() {
        EmaEntry entry = EmaEntry.allocate(4);

        entry.data().putInt(0, 0x04030201);

        assertThat(entry.bytes()).endsWith(1, 2, 3, 4);
        assertThat(entry.data().position()).isZero();
        assertThat(entry.data().remaining()).isEqualTo(4);
    }

    @Test
    void wrapKeepsNullAsNull() {
        assertThat(EmaEntry.wrap(null)).isNull();
    }

    @Test
    void wrapRejectsBytesOfAnUnknownLayout() {
        byte[] bytes = EmaEntry.allocate(4).bytes();
        bytes[0] = 2;

        assertThatThrownBy(() -> EmaEntry.wrap(bytes))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("version 2");
        assertThatThrownBy(() -> EmaEntry.wrap(new byte[3]))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("3 bytes");
    }
}
