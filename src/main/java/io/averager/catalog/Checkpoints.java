package io.averager.catalog;

import io.averager.AveragerException;
import io.averager.wire.avro.CheckpointManifest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeSet;

/** Finding checkpoints among the manifests of the manifests topic. Pure functions. */
public final class Checkpoints {

    private static final Comparator<CheckpointManifest> ORDER = Comparator.comparing(CheckpointManifest::getRun)
            .thenComparing(CheckpointManifest::getProfile).thenComparingLong(CheckpointManifest::getStep)
            .thenComparingInt(CheckpointManifest::getRewinds).thenComparing(CheckpointManifest::getFormat);

    private Checkpoints() {
    }

    /**
     * One manifest per run, profile, step, branch and format (the last published: a redo after a
     * crash publishes the same checkpoint again), of {@code run} and {@code profile} where given,
     * ordered by run, profile, step, branch and format. Superseded ones included.
     */
    public static List<CheckpointManifest> list(List<CheckpointManifest> manifests, Optional<String> run,
                                                Optional<String> profile) {
        Map<String, CheckpointManifest> last = new LinkedHashMap<>();
        for (CheckpointManifest m : manifests) {
            if (run.map(m.getRun()::equals).orElse(true) && profile.map(m.getProfile()::equals).orElse(true)) {
                last.put(m.getRun().length() + ":" + m.getRun() + "/" + m.getProfile() + "@" + m.getStep() + "~"
                        + m.getRewinds() + "." + m.getFormat(), m);
            }
        }
        List<CheckpointManifest> list = new ArrayList<>(last.values());
        list.sort(ORDER);
        return list;
    }

    /**
     * The live checkpoint of {@code run} at {@code step}, or at its highest live step if none is
     * given: checkpoints that a rewind superseded are never chosen. Without {@code profile}, the
     * run must have checkpoints of one profile only; without {@code format}, the step must have
     * files of one format only.
     *
     * @throws AveragerException naming what exists when no checkpoint, or more than one, fits
     */
    public static CheckpointManifest select(Catalog catalog, String run, Optional<String> profile,
                                            OptionalLong step, Optional<String> format) {
        List<CheckpointManifest> ofRun = list(catalog.manifests(), Optional.of(run), Optional.empty());
        if (ofRun.isEmpty()) {
            throw new AveragerException("No checkpoint of run " + run + " in the manifests");
        }
        TreeSet<String> profiles = new TreeSet<>();
        ofRun.forEach(m -> profiles.add(m.getProfile()));
        String chosen = profile.orElseGet(() -> {
            if (profiles.size() > 1) {
                throw new AveragerException("Run " + run + " has checkpoints of profiles " + String.join(", ", profiles)
                        + ": choose one with --profile");
            }
            return profiles.first();
        });
        List<CheckpointManifest> ofProfile = ofRun.stream().filter(m -> m.getProfile().equals(chosen)).toList();
        if (ofProfile.isEmpty()) {
            throw new AveragerException("Run " + run + " has no checkpoint of profile " + chosen + "; it has "
                    + String.join(", ", profiles));
        }
        List<CheckpointManifest> candidates = catalog.rewinds().live(ofProfile);
        if (candidates.isEmpty()) {
            throw new AveragerException("Run " + run + " profile " + chosen + " has no live checkpoint: every one is "
                    + catalog.rewinds().describe(ofProfile.get(ofProfile.size() - 1)));
        }
        long chosenStep = step.orElse(candidates.get(candidates.size() - 1).getStep());
        List<CheckpointManifest> atStep = candidates.stream().filter(m -> m.getStep() == chosenStep).toList();
        if (atStep.isEmpty()) {
            String abandoned = ofProfile.stream().filter(m -> m.getStep() == chosenStep).findFirst()
                    .map(m -> ": its checkpoint there is " + catalog.rewinds().describe(m) + " (" + m.getUri() + ")")
                    .orElse("");
            throw new AveragerException("Run " + run + " profile " + chosen + " has no live checkpoint at step "
                    + chosenStep + abandoned + "; live steps: " + steps(candidates));
        }
        // A step has one live branch; should two manifests of it be live, the later branch's counts.
        int branch = atStep.stream().mapToInt(CheckpointManifest::getRewinds).max().getAsInt();
        atStep = atStep.stream().filter(m -> m.getRewinds() == branch).toList();
        List<String> formats = atStep.stream().map(CheckpointManifest::getFormat).toList();
        if (format.isPresent()) {
            return atStep.stream().filter(m -> m.getFormat().equals(format.get())).findFirst()
                    .orElseThrow(() -> new AveragerException("Run " + run + " profile " + chosen + " step " + chosenStep
                            + " has no " + format.get() + " file; it has " + String.join(", ", formats)));
        }
        if (atStep.size() > 1) {
            throw new AveragerException("Run " + run + " profile " + chosen + " step " + chosenStep + " has files of formats "
                    + String.join(", ", formats) + ": choose one with --format");
        }
        return atStep.get(0);
    }

    private static String steps(List<CheckpointManifest> candidates) {
        List<String> steps = candidates.stream().map(m -> Long.toString(m.getStep())).distinct().toList();
        return steps.size() <= 20 ? String.join(", ", steps)
                : String.join(", ", steps.subList(0, 10)) + ", ..., " + String.join(", ", steps.subList(steps.size() - 10, steps.size()));
    }
}
