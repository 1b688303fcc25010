package io.averager.ops;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.streams.processor.StateRestoreListener;

/**
 * The changelog partitions this instance is restoring state from. Kafka Streams reports RUNNING
 * while tasks are still being restored in the background, so readiness also needs this to be
 * empty. Thread-safe: Streams' threads report, HTTP threads read.
 */
final class Restoration implements StateRestoreListener {

    private final Set<TopicPartition> restoring = ConcurrentHashMap.newKeySet();

    @Override
    public void onRestoreStart(TopicPartition partition, String storeName, long startingOffset, long endingOffset) {
        restoring.add(partition);
    }

    @Override
    public void onBatchRestored(TopicPartition partition, String storeName, long batchEndOffset, long numRestored) {
        // Progress within a partition does not change readiness.
    }

    @Override
    public void onRestoreEnd(TopicPartition partition, String storeName, long totalRestored) {
        restoring.remove(partition);
    }

    @Override
    public void onRestoreSuspended(TopicPartition partition, String storeName, long totalRestored) {
        restoring.remove(partition);
    }

    /** How many changelog partitions are being restored now. */
    int partitions() {
        return restoring.size();
    }
}
