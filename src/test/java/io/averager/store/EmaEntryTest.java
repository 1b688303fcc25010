package io.averager.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class EmaEntryTest {

    @Test
    void stampAndDataSurviveAStoreRoundTrip() {
        EmaEntry entry = EmaEntry.allocate(8);
        entry.data().putFloat(0, 1.5f).putFloat(4, -2f);
        entry.stamp(1200, 7, 2);

        EmaEntry read = EmaEntry.wrap(entry.bytes().clone());

        assertThat(read.lastStep()).isEqualTo(1200);
        assertThat(read.updates()).isEqualTo(7);
        assertThat(read.branch()).isEqualTo(2);
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
    void wrapRejectsAnEntryWhoseBytesChangedAfterItWasSealed() {
        EmaEntry entry = EmaEntry.allocate(8);
        entry.data().putFloat(0, 1.5f).putFloat(4, -2f);
        byte[] sealed = entry.stamp(1200, 7, 1).bytes();

        for (int at : new int[] {1, 9, 17, 21, sealed.length - 1}) {
            byte[] rotten = sealed.clone();
            rotten[at] ^= 0x04;
            assertThatThrownBy(() -> EmaEntry.wrap(rotten)).as("bit flipped in byte %d", at)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("fails its CRC32C");
        }
        assertThat(EmaEntry.wrap(sealed.clone()).data().getFloat(4)).isEqualTo(-2f);
    }

    @Test
    void sealingAgainAfterAnUpdateKeepsTheEntryValid() {
        EmaEntry entry = EmaEntry.wrap(EmaEntry.allocate(4).stamp(1, 1, 0).bytes());

        entry.data().putFloat(0, 3f);
        EmaEntry read = EmaEntry.wrap(entry.stamp(2, 2, 0).bytes().clone());

        assertThat(read.lastStep()).isEqualTo(2);
        assertThat(read.data().getFloat(0)).isEqualTo(3f);
    }

    @Test
    void entriesOfTheFirstLayoutAreReadIntoTheCurrentOne() {
        // Version 1: version byte, step and updates big-endian, then the data, without a CRC.
        byte[] first = ByteBuffer.allocate(17 + 8).put((byte) 1).putLong(1200).putLong(7)
                .order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).array();

        EmaEntry entry = EmaEntry.wrap(first);

        assertThat(entry.lastStep()).isEqualTo(1200);
        assertThat(entry.updates()).isEqualTo(7);
        assertThat(entry.dataBytes()).isEqualTo(8);
        assertThat(entry.data().getFloat(0)).isEqualTo(1.5f);
        assertThat(entry.data().getFloat(4)).isEqualTo(-2f);
        assertThat(entry.branch()).isZero();
        assertThat(entry.bytes()[0]).as("the layout it is stored in").isEqualTo((byte) 3);
        assertThat(EmaEntry.wrap(entry.bytes().clone()).data().getFloat(4)).isEqualTo(-2f);
    }

    @Test
    void entriesOfTheSecondLayoutAreCheckedAndReadIntoTheCurrentOneAsBranchZero() {
        // Version 2: version byte, step, updates, CRC32C of the rest, all big-endian, then the data.
        ByteBuffer second = ByteBuffer.allocate(21 + 8).put((byte) 2).putLong(1200).putLong(7).putInt(0);
        second.order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f);
        byte[] bytes = second.array();
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(bytes, 0, 17);
        crc.update(bytes, 21, 8);
        ByteBuffer.wrap(bytes).putInt(17, (int) crc.getValue());

        EmaEntry entry = EmaEntry.wrap(bytes.clone());

        assertThat(entry.lastStep()).isEqualTo(1200);
        assertThat(entry.updates()).isEqualTo(7);
        assertThat(entry.branch()).isZero();
        assertThat(entry.data().getFloat(4)).isEqualTo(-2f);
        bytes[22] ^= 1;
        assertThatThrownBy(() -> EmaEntry.wrap(bytes)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("fails its CRC32C");
    }

    @Test
    void wrapRejectsBytesOfAnUnknownLayout() {
        byte[] bytes = EmaEntry.allocate(4).bytes();
        bytes[0] = 4;

        assertThatThrownBy(() -> EmaEntry.wrap(bytes))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("version 4");
        assertThatThrownBy(() -> EmaEntry.wrap(new byte[3]))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("3 bytes");
    }
}
