package io.averager.store;

import java.nio.ByteBuffer;
import java.util.List;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Each run's distances, typed, over the {@value Stores#DISTANCES} store, under two keys a run:
 * {@link PendingDistances#key}, the sums of the snapshot being applied, rewritten with every chunk
 * in the same transaction as the EMA entries (so a restart mid-snapshot resumes them exactly) and
 * small; and {@link DistanceHistory#key}, the history, written once a snapshot.
 */
public final class Distances {

    private final ReadOnlyKeyValueStore<String, byte[]> store;
    private final KeyValueStore<String, byte[]> writable;
    private final List<String> profiles;

    private Distances(ReadOnlyKeyValueStore<String, byte[]> store, KeyValueStore<String, byte[]> writable,
                      List<String> profiles) {
        this.store = store;
        this.writable = writable;
        this.profiles = List.copyOf(profiles);
    }

    /** @param profiles the names of the service's profiles, in order */
    public static Distances writable(KeyValueStore<String, byte[]> store, List<String> profiles) {
        return new Distances(store, store, profiles);
    }

    public static Distances readOnly(ReadOnlyKeyValueStore<String, byte[]> store, List<String> profiles) {
        return new Distances(store, null, profiles);
    }

    /** The run's distance history: empty if it has none. */
    public DistanceHistory history(String run) {
        return DistanceHistory.decode(store.get(DistanceHistory.key(run)), profiles);
    }

    /** The sums of the snapshot being applied to the run, to add a chunk to and {@link #save}. */
    public PendingDistances pending(String run) {
        return PendingDistances.decode(store.get(PendingDistances.key(run)), profiles);
    }

    public void save(String run, PendingDistances pending) {
        writable.put(PendingDistances.key(run), pending.encode());
    }

    /** The snapshot of {@code step} was averaged whole: its distances become a point of the run's chart. */
    public void complete(String run, long step, long time, boolean checkpoint) {
        PendingDistances pending = pending(run);
        if (pending.step() == step) {
            DistanceHistory history = history(run);
            history.add(step, time, checkpoint, pending.relative());
            writable.put(DistanceHistory.key(run), history.encode());
        }
        writable.delete(PendingDistances.key(run));
    }

    /** The run was rewound: its history becomes {@code history} (as stored, null for none), and no snapshot is pending. */
    public void restore(String run, ByteBuffer history) {
        if (history == null) {
            writable.delete(DistanceHistory.key(run));
        } else {
            byte[] bytes = new byte[history.remaining()];
            history.duplicate().get(bytes);
            writable.put(DistanceHistory.key(run), bytes);
        }
        writable.delete(PendingDistances.key(run));
    }

    /** The snapshot being applied will not be averaged whole: no point for it. */
    public void discard(String run) {
        writable.delete(PendingDistances.key(run));
    }
}
