package io.averager.lifecycle;

import io.averager.ema.Profile;
import io.averager.kernel.Kernels;
import io.averager.lifecycle.Decision.DistanceChange;
import io.averager.store.DistanceHistory;
import io.averager.store.EmaEntry;
import io.averager.store.PendingDistances;
import io.averager.store.Run;
import io.averager.topology.TestSnapshot;
import io.averager.topology.TensorData;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.RunLayout;
import io.averager.wire.avro.RunProgress;
import io.averager.wire.avro.SnapshotChunk;
import io.averager.wire.avro.SnapshotCommit;
import io.averager.wire.avro.SnapshotHeader;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecordBase;

/**
 * A {@link SnapshotLifecycle} over runs kept in maps, as the stores keep them: each record's
 * state is read afresh from bytes, and its {@link Decision} is written back as the apply
 * processor writes it (entries, distances, then progress and layout only where the decision says
 * they changed). So state the lifecycle changed but did not ask to write is lost here as it would
 * be there. Collects the rejections and checkpoint events in order, like the topics they go to.
 * Not thread-safe.
 */
final class InMemoryRuns {

    private final SnapshotLifecycle lifecycle;
    private final List<String> profiles;
    private final Map<String, byte[]> progress = new HashMap<>();
    private final Map<String, byte[]> layouts = new HashMap<>();
    private final Map<String, byte[]> entries = new HashMap<>();
    private final Map<String, byte[]> pendingDistances = new HashMap<>();
    private final Map<String, byte[]> histories = new HashMap<>();
    private final List<Rejection> rejections = new ArrayList<>();
    private final List<CheckpointEvent> checkpoints = new ArrayList<>();

    InMemoryRuns(NonFinitePolicy nonFinite, long checkpointEverySteps, long checkpointEveryMs, Profile... profiles) {
        this.lifecycle = new SnapshotLifecycle(List.of(profiles), Kernels.byName(Kernels.JAVA), checkpointEverySteps,
                checkpointEveryMs, nonFinite);
        this.profiles = Arrays.stream(profiles).map(Profile::name).toList();
    }

    InMemoryRuns(long checkpointEverySteps, long checkpointEveryMs, Profile... profiles) {
        this(NonFinitePolicy.REJECT, checkpointEverySteps, checkpointEveryMs, profiles);
    }

    static Profile profile(String name, double decay) {
        return Profile.builder(name).decay(decay).build();
    }

    /** The run's state as stored, or null before its first snapshot. */
    Run run(String run) {
        byte[] p = progress.get(run);
        if (p == null) {
            return null;
        }
        byte[] l = layouts.get(run);
        return new Run(l == null ? null : WireCodec.decode(l, RunLayout.class), WireCodec.decode(p, RunProgress.class));
    }

    Decision header(SnapshotHeader h, long timestamp) {
        return apply(h.getRun(), lifecycle.header(run(h.getRun()), h, timestamp));
    }

    Decision header(SnapshotHeader h) {
        return header(h, TestSnapshot.DEFAULT_TIMESTAMP);
    }

    /** A chunk, reading the run's entries and distance sums only where the lifecycle asks for them. */
    Decision chunk(SnapshotChunk c) {
        String run = c.getRun();
        return apply(run, lifecycle.chunk(run(run), c, profile -> entry(run, profile, c.getTensor(), c.getOffset()),
                () -> PendingDistances.decode(pendingDistances.get(run), profiles)));
    }

    Decision commit(SnapshotCommit m, long timestamp) {
        return apply(m.getRun(), lifecycle.commit(run(m.getRun()), m, timestamp));
    }

    Decision commit(SnapshotCommit m) {
        return commit(m, TestSnapshot.DEFAULT_TIMESTAMP);
    }

    /** A header, chunk or commit at the default timestamp. */
    Decision send(SpecificRecordBase record) {
        return send(record, TestSnapshot.DEFAULT_TIMESTAMP);
    }

    Decision send(SpecificRecordBase record, long timestamp) {
        if (record instanceof SnapshotHeader h) {
            return header(h, timestamp);
        }
        return record instanceof SnapshotChunk c ? chunk(c) : commit((SnapshotCommit) record, timestamp);
    }

    /** The snapshot's header, chunks and commit at its timestamp; their decisions in order. */
    List<Decision> publish(TestSnapshot snapshot) {
        return snapshot.records().stream().map(r -> send(r, snapshot.timestamp())).toList();
    }

    /** The stored entry, or null; a fresh copy, as a store read gives. */
    EmaEntry entry(String run, String profile, String tensor, long offset) {
        byte[] stored = entries.get(key(run, profile, tensor, offset));
        return stored == null ? null : EmaEntry.wrap(stored.clone());
    }

    /** A copy of the stored entry's bytes, or null: to show that nothing touched it. */
    byte[] entryBytes(String run, String profile, String tensor, long offset) {
        byte[] stored = entries.get(key(run, profile, tensor, offset));
        return stored == null ? null : stored.clone();
    }

    float[] emaF32(String run, String profile, String tensor, long offset) {
        return TensorData.readF32(entry(run, profile, tensor, offset).data());
    }

    /** The run's distance history as the apply processor would have stored it. */
    DistanceHistory history(String run) {
        return DistanceHistory.decode(histories.get(run), profiles);
    }

    /** Every rejection since the last call, in order. */
    List<Rejection> rejections() {
        List<Rejection> out = List.copyOf(rejections);
        rejections.clear();
        return out;
    }

    /** Every checkpoint event since the last call, in order; the data of each is a copy. */
    List<CheckpointEvent> checkpoints() {
        List<CheckpointEvent> out = List.copyOf(checkpoints);
        checkpoints.clear();
        return out;
    }

    private Decision apply(String run, Decision d) {
        for (Decision.EntryUpdate e : d.entries()) {
            entries.put(key(run, e.profile(), e.tensor(), e.offset()), e.entry().bytes().clone());
        }
        if (d.distances() instanceof DistanceChange.Save s) {
            pendingDistances.put(run, s.pending().encode());
        } else if (d.distances() instanceof DistanceChange.Complete c) {
            PendingDistances pending = PendingDistances.decode(pendingDistances.remove(run), profiles);
            if (pending.step() == c.step()) {
                DistanceHistory history = history(run);
                history.add(c.step(), c.time(), c.checkpoint(), pending.relative());
                histories.put(run, history.encode());
            }
        } else if (d.distances() instanceof DistanceChange.Discard) {
            pendingDistances.remove(run);
        }
        if (d.progressChanged()) {
            if (d.layoutChanged()) {
                layouts.put(run, WireCodec.encode(d.run().layout()));
            }
            progress.put(run, WireCodec.encode(d.run().progress()));
        }
        for (CheckpointEvent event : d.checkpoint()) {
            checkpoints.add(event instanceof CheckpointEvent.Data data ? copy(data) : event);
        }
        rejections.addAll(d.rejections());
        return d;
    }

    /** The event with its EMA copied: the one the lifecycle gives is valid during the call only. */
    private static CheckpointEvent.Data copy(CheckpointEvent.Data d) {
        ByteBuffer ema = d.ema().duplicate();
        byte[] bytes = new byte[ema.remaining()];
        ema.get(bytes);
        return new CheckpointEvent.Data(d.run(), d.profile(), d.step(), d.tensor(), d.offset(),
                ByteBuffer.wrap(bytes).order(d.ema().order()));
    }

    private static String key(String run, String profile, String tensor, long offset) {
        return run + "\0" + profile + "\0" + tensor + "\0" + offset;
    }
}
