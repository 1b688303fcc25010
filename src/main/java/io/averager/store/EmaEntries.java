package io.averager.store;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Iterator;
import org.apache.kafka.common.serialization.BytesSerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/** The EMA entries, typed, over the {@value Stores#EMA} store: one per run, profile, tensor and grid cell. */
public final class EmaEntries {

    /** One stored entry of a tensor, at element {@code offset}; {@link #entry()} checks and wraps its bytes. */
    public record Stored(long offset, byte[] bytes) {
        /** @throws IllegalStateException if the entry is corrupted */
        public EmaEntry entry() {
            return EmaEntry.wrap(bytes);
        }
    }

    private final ReadOnlyKeyValueStore<Bytes, byte[]> store;
    private final KeyValueStore<Bytes, byte[]> writable;

    private EmaEntries(ReadOnlyKeyValueStore<Bytes, byte[]> store, KeyValueStore<Bytes, byte[]> writable) {
        this.store = store;
        this.writable = writable;
    }

    public static EmaEntries writable(KeyValueStore<Bytes, byte[]> store) {
        return new EmaEntries(store, store);
    }

    public static EmaEntries readOnly(ReadOnlyKeyValueStore<Bytes, byte[]> store) {
        return new EmaEntries(store, null);
    }

    /**
     * The entry of the run's profile at element {@code offset} of {@code tensor}, or null.
     *
     * @throws IllegalStateException naming the entry, if it is corrupted
     */
    public EmaEntry get(String run, String profile, String tensor, long offset) {
        try {
            return EmaEntry.wrap(store.get(EmaKey.of(run, profile, tensor, offset)));
        } catch (IllegalStateException e) {
            throw new IllegalStateException("EMA of run " + run + " profile " + profile + " tensor " + tensor
                    + " at element " + offset + ": " + e.getMessage() + "; stop the service and"
                    + " delete its state directory to restore the store from its changelog", e);
        }
    }

    /**
     * The copy named {@code name} of the run's state (its progress, layout, distances, restore
     * points, as their stores hold them) kept with its entries by {@link #putCopy}, or null.
     * Written in the same store transaction as the entries, the copies are the state the entries
     * belong with: the progress tells whether that is the committed one, and the rest is where a
     * run left behind catches up from.
     */
    public byte[] copy(String run, String name) {
        return store.get(EmaKey.copyOf(run, name));
    }

    /** Keeps a copy of some of the run's state with its entries; null deletes it. */
    public void putCopy(String run, String name, byte[] stored) {
        if (stored == null) {
            writable.delete(EmaKey.copyOf(run, name));
        } else {
            writable.put(EmaKey.copyOf(run, name), stored);
        }
    }

    /** Stores the entry, sealed; returns the bytes stored, for a copy kept elsewhere. */
    public byte[] put(String run, String profile, String tensor, long offset, EmaEntry entry) {
        byte[] sealed = entry.bytes();
        writable.put(EmaKey.of(run, profile, tensor, offset), sealed);
        return sealed;
    }

    /** The stored entries of the run's profile and tensor, by offset; close it when done. */
    public Scan scan(String run, String profile, String tensor) {
        return new Scan(store.prefixScan(tensorPrefix(run, profile, tensor), new BytesSerializer()));
    }

    /** Entries of one tensor in offset order, over a store iterator that must be closed. */
    public static final class Scan implements Iterator<Stored>, AutoCloseable {

        private final KeyValueIterator<Bytes, byte[]> it;

        private Scan(KeyValueIterator<Bytes, byte[]> it) {
            this.it = it;
        }

        @Override
        public boolean hasNext() {
            return it.hasNext();
        }

        @Override
        public Stored next() {
            var kv = it.next();
            long offset = ByteBuffer.wrap(kv.key.get(), kv.key.get().length - Long.BYTES, Long.BYTES).getLong();
            return new Stored(offset, kv.value);
        }

        @Override
        public void close() {
            it.close();
        }
    }

    /** The key prefix shared by the entries of one tensor: an {@link EmaKey} without its offset. */
    static Bytes tensorPrefix(String run, String profile, String tensor) {
        byte[] key = EmaKey.of(run, profile, tensor, 0).get();
        return Bytes.wrap(Arrays.copyOf(key, key.length - Long.BYTES));
    }
}
