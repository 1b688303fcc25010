package io.averager.catalog;

import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.RewindAnswer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The rewinds of runs, from the service's answers on the run-events topic, and the checkpoints
 * they supersede. A checkpoint is superseded when its run was rewound, after the checkpoint's
 * step was averaged, to a step below it: the trainer abandoned that branch of the run. Such a
 * checkpoint stays stored and listed, but is never a run's latest. Immutable.
 */
public final class Rewinds {

    public static final Rewinds NONE = new Rewinds(Map.of());

    private final Map<String, List<RewindAnswer>> byRun;

    private Rewinds(Map<String, List<RewindAnswer>> byRun) {
        this.byRun = byRun;
    }

    /** The rewinds among {@code answers}; refusals, which changed nothing, are left out. */
    public static Rewinds of(Collection<RewindAnswer> answers) {
        Map<String, List<RewindAnswer>> byRun = new HashMap<>();
        for (RewindAnswer a : answers) {
            if (a.getRewound()) {
                byRun.computeIfAbsent(a.getRun(), r -> new ArrayList<>()).add(a);
            }
        }
        byRun.values().forEach(l -> l.sort(Comparator.comparingInt(RewindAnswer::getRewinds)));
        return new Rewinds(byRun);
    }

    /** The first rewind that abandoned the branch of {@code m}'s step, if any. */
    public Optional<RewindAnswer> supersededBy(CheckpointManifest m) {
        for (RewindAnswer a : byRun.getOrDefault(m.getRun(), List.of())) {
            if (a.getRewinds() > m.getRewinds() && a.getToStep() < m.getStep()) {
                return Optional.of(a);
            }
        }
        return Optional.empty();
    }

    public boolean isLive(CheckpointManifest m) {
        return supersededBy(m).isEmpty();
    }

    /** {@code manifests} without the superseded ones, in their order. */
    public List<CheckpointManifest> live(List<CheckpointManifest> manifests) {
        return manifests.stream().filter(this::isLive).toList();
    }

    /** How a table or message says that {@code m} is superseded, or "live". */
    public String describe(CheckpointManifest m) {
        return supersededBy(m).map(a -> "superseded (rewind " + a.getRewinds() + " to step " + a.getToStep() + ")")
                .orElse("live");
    }
}
