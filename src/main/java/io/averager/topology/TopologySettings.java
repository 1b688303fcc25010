package io.averager.topology;

import io.averager.ema.Profile;
import io.averager.kernel.Kernel;
import io.averager.lifecycle.NonFinitePolicy;
import io.averager.metrics.RunMeters;
import io.averager.wire.Signatures;
import java.util.List;
import java.util.Objects;

/**
 * What the topology needs to know, as typed values.
 *
 * @param checkpointEverySteps checkpoint when a snapshot's step crosses a multiple of this; 0: never
 * @param checkpointEveryMs checkpoint when this much snapshot time has passed since the last; 0: never
 * @param restorePoints the checkpoints of each run whose EMA is kept to rewind the run to, the latest ones
 * @param maxGrid largest chunk grid in elements a snapshot may declare
 * @param maxTensorElements largest tensor a snapshot may declare
 * @param maxMessageBytes largest record produced, and largest value kept in a state store
 * @param nonFinite what to do with chunks holding NaN or infinities
 * @param changelog back the EMA store with a changelog topic; false keeps it on local disk only, with a
 *     copy of each run's progress to tell whether it is the state the committed progress was reached with
 * @param history where a local EMA left behind its committed progress reads the records it missed
 *     ({@link SnapshotHistory#NONE}: it cannot, and the service stops)
 * @param signatures the runs whose records must be signed, and their keys
 * @param selection the runs and steps averaged: {@link Selection#ALL} for the live service
 * @param observer told of progress: {@link TopologyObserver#NONE} for the live service
 * @param meters the meters of the service instance running the topology
 */
public record TopologySettings(
        String snapshotsTopic,
        String checkpointsTopic,
        String deadLettersTopic,
        String runEventsTopic,
        List<Profile> profiles,
        Kernel kernel,
        long checkpointEverySteps,
        long checkpointEveryMs,
        int restorePoints,
        long maxGrid,
        long maxTensorElements,
        int maxMessageBytes,
        NonFinitePolicy nonFinite,
        boolean changelog,
        SnapshotHistory history,
        Signatures signatures,
        Selection selection,
        TopologyObserver observer,
        RunMeters meters) {

    public TopologySettings {
        profiles = List.copyOf(profiles);
        Objects.requireNonNull(nonFinite, "nonFinite");
        Objects.requireNonNull(history, "history");
        Objects.requireNonNull(signatures, "signatures");
        Objects.requireNonNull(selection, "selection");
        Objects.requireNonNull(observer, "observer");
        Objects.requireNonNull(meters, "meters");
        if (restorePoints < 0) {
            throw new IllegalArgumentException("restorePoints must not be negative, got " + restorePoints);
        }
        if (profiles.isEmpty()) {
            throw new IllegalArgumentException("at least one EMA profile is needed");
        }
    }

    /** These settings for a replay: only {@code selection}, reporting to {@code observer}. */
    public TopologySettings scoped(Selection selection, TopologyObserver observer) {
        return new TopologySettings(snapshotsTopic, checkpointsTopic, deadLettersTopic, runEventsTopic, profiles, kernel,
                checkpointEverySteps, checkpointEveryMs, restorePoints, maxGrid, maxTensorElements, maxMessageBytes,
                nonFinite, changelog, history, signatures, selection, observer, meters);
    }

    /** These settings recording to {@code meters}. */
    public TopologySettings withMeters(RunMeters meters) {
        return new TopologySettings(snapshotsTopic, checkpointsTopic, deadLettersTopic, runEventsTopic, profiles, kernel,
                checkpointEverySteps, checkpointEveryMs, restorePoints, maxGrid, maxTensorElements, maxMessageBytes,
                nonFinite, changelog, history, signatures, selection, observer, meters);
    }
}
