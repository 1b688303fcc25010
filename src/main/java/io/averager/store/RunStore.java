package io.averager.store;

import io.averager.wire.WireCodec;
import io.averager.wire.avro.RunLayout;
import io.averager.wire.avro.RunProgress;
import io.averager.wire.avro.RunState;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BiConsumer;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The runs' state, typed, over two stores: {@value Stores#RUNS} (run id to {@link RunProgress},
 * written with every record) and {@value Stores#LAYOUTS} (run id to {@link RunLayout}, written
 * when the layout changes). A run whose progress is still a {@link RunState}, the single record
 * earlier versions kept, reads as its two parts; the writable store also rewrites it so.
 *
 * <p>The writable store keeps the layouts of the runs it last read (at most {@value #CACHED}):
 * a layout is never changed once written, only replaced by one of a later step, so progress
 * naming the cached layout's step is all a chunk needs to read. Decoding a 291-tensor layout for
 * every chunk cost more than the rest of the run's state together.
 *
 * <p>Progress and layout are two reads. A reader on another thread than the one applying the run
 * (the HTTP API) may see them from two sides of a {@code SET}: {@link RunProgress#getLayoutStep()}
 * names the {@link RunLayout#getStep()} it belongs with, and such a read is tried again.
 */
public final class RunStore {

    /** Layout step of a run whose state was migrated from a {@link RunState}: not known. */
    static final long MIGRATED = -1;
    private static final int TORN_READ_TRIES = 20;
    static final int CACHED = 64;

    private final ReadOnlyKeyValueStore<String, byte[]> progress;
    private final ReadOnlyKeyValueStore<String, byte[]> layouts;
    private final KeyValueStore<String, byte[]> writableProgress;
    private final KeyValueStore<String, byte[]> writableLayouts;
    private final Map<String, RunLayout> cache = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, RunLayout> eldest) {
            return size() > CACHED;
        }
    };

    private RunStore(ReadOnlyKeyValueStore<String, byte[]> progress, ReadOnlyKeyValueStore<String, byte[]> layouts,
                     KeyValueStore<String, byte[]> writableProgress, KeyValueStore<String, byte[]> writableLayouts) {
        this.progress = progress;
        this.layouts = layouts;
        this.writableProgress = writableProgress;
        this.writableLayouts = writableLayouts;
    }

    /**
     * The stores of the thread that applies the runs: read and written. Make one each time the
     * stores are opened (a processor's {@code init}), so that what it caches is theirs.
     */
    public static RunStore writable(KeyValueStore<String, byte[]> progress, KeyValueStore<String, byte[]> layouts) {
        return new RunStore(progress, layouts, progress, layouts);
    }

    /** Read-only views, as interactive queries give them. */
    public static RunStore readOnly(ReadOnlyKeyValueStore<String, byte[]> progress,
                                    ReadOnlyKeyValueStore<String, byte[]> layouts) {
        return new RunStore(progress, layouts, null, null);
    }

    /**
     * The run's state, or null if no snapshot of it was seen.
     *
     * @throws InvalidStateStoreException when a read-only view keeps seeing layout and progress
     *     from two sides of a change
     */
    public Run get(String run) {
        for (int tries = 0; ; tries++) {
            Run state = read(run, progress.get(run));
            if (state == null || state.layout() != null && state.layout().getStep() == state.progress().getLayoutStep()) {
                return state;
            }
            if (writableProgress != null) {
                throw new IllegalStateException("Run " + run + ": its progress names layout step "
                        + state.progress().getLayoutStep() + ", the layouts store holds "
                        + (state.layout() == null ? "none" : "step " + state.layout().getStep())
                        + "; stop the service and delete its state directory to restore the stores from their changelogs");
            }
            if (tries == TORN_READ_TRIES) {
                throw new InvalidStateStoreException("Run " + run + ": its layout and progress are being rewritten");
            }
            LockSupport.parkNanos(1_000_000);
        }
    }

    /** Writes the run's progress, and its layout too when {@code layoutChanged}; returns the progress as stored. */
    public byte[] put(String run, Run state, boolean layoutChanged) {
        if (layoutChanged) {
            writableLayouts.put(run, WireCodec.encode(state.layout()));
            cache.put(run, state.layout());
        }
        byte[] stored = WireCodec.encode(state.progress());
        writableProgress.put(run, stored);
        return stored;
    }

    /**
     * Every run in the progress store, in key order, with its layout (null where it is missing or
     * from another side of a change: views of standby copies restore the two stores separately).
     */
    public void forEach(BiConsumer<String, Run> action) {
        try (KeyValueIterator<String, byte[]> it = progress.all()) {
            while (it.hasNext()) {
                var kv = it.next();
                Run state = read(kv.key, kv.value);
                boolean matches = state.layout() != null && state.layout().getStep() == state.progress().getLayoutStep();
                action.accept(kv.key, matches ? state : new Run(null, state.progress()));
            }
        }
    }

    private Run read(String run, byte[] stored) {
        if (stored == null) {
            return null;
        }
        SpecificRecordBase record = WireCodec.decode(stored);
        if (record instanceof RunState legacy) {
            Run migrated = new Run(new RunLayout(MIGRATED, legacy.getTensors(), legacy.getGrid(), legacy.getChunkCount(), List.of()),
                    new RunProgress(MIGRATED, legacy.getLastStep(), legacy.getSnapshots(), legacy.getLastCheckpointStep(),
                            legacy.getLastCheckpointTime(), legacy.getPending(), 0, -1L, -1L, null, null, -1L, false, -1L, -1L));
            if (writableProgress != null) {
                put(run, migrated, true);
            }
            return migrated;
        }
        if (!(record instanceof RunProgress p)) {
            throw new IllegalStateException("Run " + run + ": the runs store holds a " + record.getSchema().getName()
                    + ", expected RunProgress");
        }
        RunLayout cached = writableProgress == null ? null : cache.get(run);
        if (cached != null && cached.getStep() == p.getLayoutStep()) {
            return new Run(cached, p);
        }
        byte[] storedLayout = layouts.get(run);
        RunLayout layout = storedLayout == null ? null : WireCodec.decode(storedLayout, RunLayout.class);
        if (layout != null && writableProgress != null) {
            cache.put(run, layout);
        }
        return new Run(layout, p);
    }
}
