package io.averager.store;

import io.averager.wire.WireCodec;
import io.averager.wire.avro.RestorePoint;
import io.averager.wire.avro.RunProgress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.serialization.BytesSerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The restore points of each run, typed, over the {@value Stores#RESTORE_POINTS} store: a copy of
 * every EMA entry as it was at a checkpointed step, so that the run can be rewound there, keyed
 * (run, step, profile, tensor, offset), and under the run's own key the list of its complete
 * restore points, oldest first. Keys are length-prefixed like {@link EmaKey}s, so a step's
 * entries share a prefix and the list's key is no entry's.
 */
public final class RestorePoints {

    private final ReadOnlyKeyValueStore<Bytes, byte[]> store;
    private final KeyValueStore<Bytes, byte[]> writable;

    private RestorePoints(ReadOnlyKeyValueStore<Bytes, byte[]> store, KeyValueStore<Bytes, byte[]> writable) {
        this.store = store;
        this.writable = writable;
    }

    public static RestorePoints writable(KeyValueStore<Bytes, byte[]> store) {
        return new RestorePoints(store, store);
    }

    public static RestorePoints readOnly(ReadOnlyKeyValueStore<Bytes, byte[]> store) {
        return new RestorePoints(store, null);
    }

    /** The run's complete restore points, oldest first; empty if it has none. */
    public List<RestorePoint> list(String run) {
        byte[] stored = store.get(listKey(run));
        return stored == null ? new ArrayList<>()
                : new ArrayList<>(WireCodec.decode(stored, io.averager.wire.avro.RestorePoints.class).getPoints());
    }

    public void putList(String run, List<RestorePoint> points) {
        writable.put(listKey(run), WireCodec.encode(new io.averager.wire.avro.RestorePoints(List.copyOf(points))));
    }

    /** The run's list as stored, or null: for a copy kept elsewhere. */
    public byte[] storedList(String run) {
        return store.get(listKey(run));
    }

    /** Puts back a list {@link #storedList} gave; null deletes it. */
    public void putStoredList(String run, byte[] stored) {
        if (stored == null) {
            writable.delete(listKey(run));
        } else {
            writable.put(listKey(run), stored);
        }
    }

    /**
     * The entry of the run's profile at element {@code offset} of {@code tensor} as it was at
     * {@code step}, or null.
     *
     * @throws IllegalStateException naming the entry, if it is corrupted
     */
    public EmaEntry get(String run, long step, String profile, String tensor, long offset) {
        try {
            return EmaEntry.wrap(store.get(key(run, step, profile, tensor, offset)));
        } catch (IllegalStateException e) {
            throw new IllegalStateException("Restore point of run " + run + " step " + step + " profile " + profile
                    + " tensor " + tensor + " at element " + offset + ": " + e.getMessage(), e);
        }
    }

    /**
     * {@code entry} as of the run's current branch: one written before the run's last rewind reads
     * as its copy in the restore point the branch started from (null if that has none).
     */
    public EmaEntry asOfBranch(EmaEntry entry, String run, RunProgress progress, String profile, String tensor,
                               long offset) {
        if (entry == null || entry.branch() >= progress.getBranch()) {
            return entry;
        }
        return get(run, progress.getRestoredFrom(), profile, tensor, offset);
    }

    /** Keeps an entry's stored bytes, as {@link EmaEntries#put} sealed them, as the run's entry at {@code step}. */
    public void put(String run, long step, String profile, String tensor, long offset, byte[] sealed) {
        writable.put(key(run, step, profile, tensor, offset), sealed);
    }

    /** Deletes every entry kept for the run's {@code step}; the list is the caller's to change. */
    public void drop(String run, long step) {
        List<Bytes> keys = new ArrayList<>();
        try (KeyValueIterator<Bytes, byte[]> it = store.prefixScan(stepPrefix(run, step), new BytesSerializer())) {
            it.forEachRemaining(kv -> keys.add(kv.key));
        }
        keys.forEach(writable::delete);
    }

    static Bytes key(String run, long step, String profile, String tensor, long offset) {
        byte[] r = run.getBytes(StandardCharsets.UTF_8);
        byte[] p = profile.getBytes(StandardCharsets.UTF_8);
        byte[] t = tensor.getBytes(StandardCharsets.UTF_8);
        ByteBuffer key = ByteBuffer.allocate(4 + r.length + 8 + 4 + p.length + 4 + t.length + 8);
        key.putInt(r.length).put(r).putLong(step).putInt(p.length).put(p).putInt(t.length).put(t).putLong(offset);
        return Bytes.wrap(key.array());
    }

    private static Bytes stepPrefix(String run, long step) {
        byte[] r = run.getBytes(StandardCharsets.UTF_8);
        return Bytes.wrap(ByteBuffer.allocate(4 + r.length + 8).putInt(r.length).put(r).putLong(step).array());
    }

    private static Bytes listKey(String run) {
        byte[] r = run.getBytes(StandardCharsets.UTF_8);
        return Bytes.wrap(ByteBuffer.allocate(4 + r.length).putInt(r.length).put(r).array());
    }
}
