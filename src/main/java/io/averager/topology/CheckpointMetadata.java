package io.averager.topology;

import io.averager.ema.Profile;
import java.util.LinkedHashMap;
import java.util.Map;

/** The {@code __metadata__} of an EMA checkpoint file, shared by the checkpoints and the live download. */
public final class CheckpointMetadata {

    private CheckpointMetadata() {
    }

    /**
     * The publisher's metadata, then averager's, which win on a clash: run, profile, step,
     * snapshots averaged, for a forked run its parent and the parent's step
     * ({@code forked_from}, {@code forked_from_step}), the profile's settings as {@code ema.*},
     * and the format.
     *
     * @param parent the run this one was forked from, or null
     */
    public static Map<String, String> of(Map<String, String> publisher, String run, Profile p, long step,
                                         long snapshotsAveraged, String parent, long parentStep) {
        Map<String, String> m = new LinkedHashMap<>(publisher);
        m.put("run", run);
        m.put("profile", p.name());
        m.put("step", Long.toString(step));
        m.put("snapshots_averaged", Long.toString(snapshotsAveraged));
        if (parent != null) {
            m.put("forked_from", parent);
            m.put("forked_from_step", Long.toString(parentStep));
        }
        p.describe().forEach((k, v) -> m.put("ema." + k, v));
        m.put("format", "averager-ema");
        return m;
    }
}
