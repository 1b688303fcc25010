package io.averager.topology;

import java.util.Set;

/**
 * Which snapshots the topology averages: all of them for the live service; some runs and a step
 * range for a replay. Records outside the selection are skipped without a dead letter: they are
 * other runs' history, not bad input.
 *
 * @param runs the run ids to keep; empty keeps every run
 * @param fromStep the first step kept: the first kept snapshot of a run sets its EMA
 * @param toStep the last step kept
 */
public record Selection(Set<String> runs, long fromStep, long toStep) {

    /** Everything: the live service. */
    public static final Selection ALL = new Selection(Set.of(), Long.MIN_VALUE, Long.MAX_VALUE);

    public Selection {
        runs = Set.copyOf(runs);
        if (fromStep > toStep) {
            throw new IllegalArgumentException("from step " + fromStep + " is after to step " + toStep);
        }
    }

    boolean keepsRun(String run) {
        return runs.isEmpty() || runs.contains(run);
    }

    boolean keepsStep(long step) {
        return step >= fromStep && step <= toStep;
    }
}
