package io.averager.topology;

import io.averager.ema.Profile;
import io.averager.store.DistanceHistory;
import io.averager.store.PendingDistances;
import java.util.List;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Keeps each run's distances in the distances store for the apply processor, under two keys a
 * run: {@link PendingDistances#key}, the sums of the snapshot being applied, rewritten with every chunk in the
 * same transaction as the EMA entries (so a restart mid-snapshot resumes them exactly) and small;
 * and {@link DistanceHistory#key}, the history, written once a snapshot. Used by one
 * stream task's thread.
 */
final class DistanceTracker {

    private final KeyValueStore<String, byte[]> store;
    private final List<String> profiles;

    DistanceTracker(KeyValueStore<String, byte[]> store, List<Profile> profiles) {
        this.store = store;
        this.profiles = profiles.stream().map(Profile::name).toList();
    }

    /** The sums of the snapshot being applied to the run, to add a chunk to and {@link #save}. */
    PendingDistances pending(String run) {
        return PendingDistances.decode(store.get(PendingDistances.key(run)), profiles);
    }

    void save(String run, PendingDistances pending) {
        store.put(PendingDistances.key(run), pending.encode());
    }

    /** The snapshot of {@code step} was averaged whole: its distances become a point of the run's chart. */
    void complete(String run, long step, long time, boolean checkpoint) {
        PendingDistances pending = pending(run);
        if (pending.step() == step) {
            DistanceHistory history = DistanceHistory.decode(store.get(DistanceHistory.key(run)), profiles);
            history.add(step, time, checkpoint, pending.relative());
            store.put(DistanceHistory.key(run), history.encode());
        }
        store.delete(PendingDistances.key(run));
    }

    /** The snapshot being applied will not be averaged whole: no point for it. */
    void discard(String run) {
        store.delete(PendingDistances.key(run));
    }
}
