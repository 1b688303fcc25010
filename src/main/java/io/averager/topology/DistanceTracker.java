package io.averager.topology;

import io.averager.ema.Profile;
import io.averager.store.DistanceHistory;
import java.util.List;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Keeps each run's {@link DistanceHistory} in the distances store for the apply processor: the
 * sums of the snapshot being applied are stored with every chunk, in the same transaction as the
 * EMA entries, so a restart mid-snapshot resumes them exactly. Used by one stream task's thread.
 */
final class DistanceTracker {

    private final KeyValueStore<String, byte[]> store;
    private final List<String> profiles;

    DistanceTracker(KeyValueStore<String, byte[]> store, List<Profile> profiles) {
        this.store = store;
        this.profiles = profiles.stream().map(Profile::name).toList();
    }

    DistanceHistory load(String run) {
        return DistanceHistory.decode(store.get(run), profiles);
    }

    void save(String run, DistanceHistory history) {
        store.put(run, history.encode());
    }

    /** The snapshot of {@code step} was averaged whole: its distances become a point of the run's chart. */
    void complete(String run, long step, long time, boolean checkpoint) {
        DistanceHistory history = load(run);
        history.complete(step, time, checkpoint);
        save(run, history);
    }

    /** The snapshot being applied will not be averaged whole: no point for it. */
    void discard(String run) {
        byte[] stored = store.get(run);
        if (stored != null) {
            DistanceHistory history = DistanceHistory.decode(stored, profiles);
            history.discardPending();
            save(run, history);
        }
    }
}
