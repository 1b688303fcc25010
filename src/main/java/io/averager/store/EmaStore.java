package io.averager.store;

import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.processor.StateStoreContext;
import org.apache.kafka.streams.state.KeyValueBytesStoreSupplier;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.internals.RocksDBStore;
import org.rocksdb.ReadOptions;

/**
 * The EMA store: Kafka Streams' RocksDB store, whose point reads skip RocksDB's checksums. Every
 * {@link EmaEntry} carries a CRC32C of its own, checked when it is wrapped, which the JVM computes
 * at memory speed; RocksDB's Java builds compute CRC32C without the processor's instruction for it
 * ("Fast CRC32 supported: Not supported on x86" in their logs), so checking a blob of megabytes
 * on every read cost about a fifth of the stream thread. Iterators and compaction still check
 * RocksDB's checksums.
 *
 * <p>{@code RocksDBStore} lives in Kafka Streams' internals, which any Kafka release may change:
 * {@code EmaStoreTest} fails if reads verify RocksDB's checksums again or the store stops working.
 */
public final class EmaStore extends RocksDBStore {

    private ReadOptions reads;

    private EmaStore(String name) {
        super(name, "rocksdb");
    }

    /** Supplies the EMA store named {@code name}, for {@code Stores.keyValueStoreBuilder}. */
    public static KeyValueBytesStoreSupplier supplier(String name) {
        return new KeyValueBytesStoreSupplier() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public KeyValueStore<Bytes, byte[]> get() {
                return new EmaStore(name);
            }

            @Override
            public String metricsScope() {
                return "rocksdb";
            }
        };
    }

    @Override
    public void init(StateStoreContext context, StateStore root) {
        super.init(context, root);
        reads = new ReadOptions().setVerifyChecksums(false);
    }

    @Override
    public synchronized byte[] get(Bytes key) {
        return get(key, reads);
    }

    @Override
    public synchronized void close() {
        super.close();
        if (reads != null) {
            reads.close();
            reads = null;
        }
    }
}
