package io.averager.ops;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class RestorationTest {

    private final TopicPartition ema0 = new TopicPartition("averager-ema-changelog", 0);
    private final TopicPartition ema1 = new TopicPartition("averager-ema-changelog", 1);

    @Test
    void countsPartitionsBetweenStartAndEndOrSuspension() {
        Restoration restoration = new Restoration();
        assertThat(restoration.partitions()).isZero();
        restoration.onRestoreStart(ema0, "ema", 0, 100);
        restoration.onRestoreStart(ema1, "ema", 0, 100);
        restoration.onBatchRestored(ema0, "ema", 50, 50);
        assertThat(restoration.partitions()).isEqualTo(2);
        restoration.onRestoreEnd(ema0, "ema", 100);
        assertThat(restoration.partitions()).isEqualTo(1);
        restoration.onRestoreSuspended(ema1, "ema", 40);
        assertThat(restoration.partitions()).isZero();
    }
}
