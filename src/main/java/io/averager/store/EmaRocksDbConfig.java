package io.averager.store;

import java.util.Map;
import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.CompressionType;
import org.rocksdb.Options;

/**
 * RocksDB settings for the EMA store, whose values are whole chunks of megabytes that every
 * snapshot overwrites, and for the restore points, copies of them written and dropped a
 * checkpoint at a time: values of {@value #MIN_BLOB_BYTES} bytes or more go to blob files, so
 * compaction moves keys and not megabytes of floats, and a blob file is deleted once no key
 * refers to it. Floats barely compress: nothing is compressed. Other stores keep Kafka
 * Streams' defaults.
 */
public final class EmaRocksDbConfig implements RocksDBConfigSetter {

    /** Values at least this large are kept in blob files; smaller ones (short tensors' chunks) in the tree. */
    static final long MIN_BLOB_BYTES = 64 << 10;

    @Override
    public void setConfig(String storeName, Options options, Map<String, Object> configs) {
        if (!Stores.EMA.equals(storeName) && !Stores.RESTORE_POINTS.equals(storeName)) {
            return;
        }
        options.setEnableBlobFiles(true);
        options.setMinBlobSize(MIN_BLOB_BYTES);
        options.setBlobFileSize(256L << 20);
        options.setBlobCompressionType(CompressionType.NO_COMPRESSION);
        // Every snapshot overwrites every entry, so old blob files lose all their references
        // once the keys are compacted and are deleted whole; garbage collection, which copies the
        // live values out of old files, took a quarter of the service's CPU in the benchmark.
        options.setEnableBlobGarbageCollection(false);
    }

    @Override
    public void close(String storeName, Options options) {
        // Nothing allocated here.
    }
}
