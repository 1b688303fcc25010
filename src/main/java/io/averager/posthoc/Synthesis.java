package io.averager.posthoc;

import io.averager.AveragerException;
import io.averager.catalog.Checkpoints;
import io.averager.catalog.Download;
import io.averager.ema.PowerFunction;
import io.averager.format.SafetensorsReader;
import io.averager.sink.ObjectStore;
import io.averager.wire.avro.CheckpointManifest;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Function;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Synthesizes, from a run's stored checkpoints of power-function EMA profiles, the power EMA of
 * another relative width at a chosen step. It lists the run's safetensors checkpoints from the
 * manifests, fetches (and verifies) those of power profiles at steps up to the target into a work
 * directory, learns each one's exponent from its own metadata ({@code ema.type}, {@code ema.gamma}),
 * fits the target profile ({@link Fit}) and streams the weighted sum ({@link WeightedSum}).
 *
 * <p>Heap use is bounded by a chunk; the work directory holds the fetched checkpoints until
 * {@link #synthesize} returns. Not thread-safe.
 */
public final class Synthesis {

    private static final Logger log = LoggerFactory.getLogger(Synthesis.class);
    private static final String SAFETENSORS = "safetensors";

    private final List<CheckpointManifest> manifests;
    private final Function<String, ObjectStore> storeAt;
    private final Path workDir;

    /**
     * @param manifests the manifests topic's records
     * @param storeAt opens the object store at a location given by {@link Download#storeLocation}
     * @param workDir an existing directory for the fetched checkpoints
     */
    public Synthesis(List<CheckpointManifest> manifests, Function<String, ObjectStore> storeAt, Path workDir) {
        this.manifests = List.copyOf(manifests);
        this.storeAt = storeAt;
        this.workDir = workDir;
    }

    /**
     * What to synthesize: the power EMA of {@code run} of relative width {@code sigmaRel} at
     * {@code step} (empty: the last step with a power checkpoint). Immutable.
     *
     * @throws IllegalArgumentException saying what was expected, unless {@code 0 < sigmaRel < 0.2887}
     *     and {@code step > 0}
     */
    public record Target(String run, double sigmaRel, OptionalLong step) {

        public Target {
            PowerFunction.gammaOf(sigmaRel);
            if (step.isPresent() && step.getAsLong() <= 0) {
                throw new IllegalArgumentException("step is " + step.getAsLong() + "; expected a step > 0");
            }
        }
    }

    /**
     * The run has no power checkpoint to synthesize from at steps up to the target (or no
     * checkpoint at all); the message names the profiles it has checkpoints of.
     */
    public static final class NoPowerCheckpoints extends AveragerException {
        NoPowerCheckpoints(String message) {
            super(message);
        }
    }

    /**
     * Synthesizes {@code target} into {@code output}, fetching the checkpoints into a new directory
     * under {@code workParent} that is deleted before returning: the one entry point of
     * {@code averager synthesize} and of the HTTP API. Calls may run concurrently, each with its own
     * work directory.
     *
     * @param manifests the manifests topic's records
     * @param storeAt opens the object store at a location given by {@link Download#storeLocation}
     * @throws NoPowerCheckpoints if the run has no power checkpoint at steps up to the target
     */
    public static SynthesisReport synthesize(List<CheckpointManifest> manifests, Function<String, ObjectStore> storeAt,
                                             Path workParent, Target target, Path output) throws IOException {
        Files.createDirectories(workParent);
        Path work = Files.createTempDirectory(workParent, "averager-synthesize-");
        try {
            return new Synthesis(manifests, storeAt, work).synthesize(target.run(), target.sigmaRel(), target.step(), output);
        } finally {
            deleteTree(work);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /**
     * Writes the power EMA of {@code run} of relative width {@code sigmaRel} at {@code step} (by
     * default the last step with a power checkpoint) to {@code output}.
     *
     * @throws NoPowerCheckpoints naming the run when it has no power checkpoint at steps up to the target
     * @throws AveragerException naming the checkpoint when the run's checkpoints are inconsistent
     */
    public SynthesisReport synthesize(String run, double sigmaRel, OptionalLong step, Path output) throws IOException {
        // Rejects a width without a power function before anything is fetched.
        AveragingProfile.ofSigmaRel(1, sigmaRel);
        Map<String, ObjectStore> stores = new HashMap<>();
        try {
            List<Stored> stored = fetchPowerCheckpoints(run, step, stores);
            long target = step.orElseGet(() -> stored.stream().mapToLong(s -> s.manifest.getStep()).max().orElseThrow());
            List<AveragingProfile> profiles = stored.stream()
                    .map(s -> new AveragingProfile(s.manifest.getStep(), s.gamma)).toList();
            AveragingProfile wanted = AveragingProfile.ofSigmaRel(target, sigmaRel);
            Fit fit = Fit.of(profiles, wanted);
            double[] c = fit.coefficients();
            List<WeightedSum.Source> sources = new ArrayList<>();
            List<SynthesisReport.Used> used = new ArrayList<>();
            int latest = 0;
            for (int i = 0; i < stored.size(); i++) {
                CheckpointManifest m = stored.get(i).manifest;
                sources.add(new WeightedSum.Source(label(m), stored.get(i).file, c[i]));
                used.add(new SynthesisReport.Used(m.getProfile(), m.getStep(), stored.get(i).gamma, c[i], m.getUri()));
                if (m.getStep() > stored.get(latest).manifest.getStep()) {
                    latest = i;
                }
            }
            SynthesisReport report = new SynthesisReport(run, target, wanted.sigmaRel(), wanted.gamma(), used, fit);
            WeightedSum.write(sources, latest, report.metadata(), output, WeightedSum.CHUNK_ELEMENTS);
            return report;
        } finally {
            stores.values().forEach(ObjectStore::close);
        }
    }

    private record Stored(CheckpointManifest manifest, Path file, double gamma) {
    }

    /** The run's power checkpoints at steps up to {@code step}, fetched, in profile then step order. */
    private List<Stored> fetchPowerCheckpoints(String run, OptionalLong step, Map<String, ObjectStore> stores)
            throws IOException {
        Map<String, List<CheckpointManifest>> byProfile = new LinkedHashMap<>();
        List<CheckpointManifest> ofRun = Checkpoints.list(manifests, Optional.of(run), Optional.empty());
        if (ofRun.isEmpty()) {
            throw new NoPowerCheckpoints("Run " + run + " has no checkpoints in the manifests: an unknown run, or"
                    + " none of its checkpoints is stored yet");
        }
        for (CheckpointManifest m : ofRun) {
            if (m.getFormat().equals(SAFETENSORS) && m.getStep() <= step.orElse(Long.MAX_VALUE) && m.getStep() > 0) {
                byProfile.computeIfAbsent(m.getProfile(), p -> new ArrayList<>()).add(m);
            }
        }
        List<Stored> stored = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        for (List<CheckpointManifest> ofProfile : byProfile.values()) {
            ofProfile.sort(Comparator.comparingLong(CheckpointManifest::getStep).reversed());
            // The latest checkpoint says whether the profile is a power one before the rest is fetched.
            Stored probe = fetch(ofProfile.get(0), stores);
            if (probe == null) {
                skipped.add(ofProfile.get(0).getProfile());
                continue;
            }
            stored.add(probe);
            for (CheckpointManifest m : ofProfile.subList(1, ofProfile.size())) {
                Stored s = fetch(m, stores);
                if (s == null || Double.compare(s.gamma, probe.gamma) != 0) {
                    throw new AveragerException("Checkpoint of " + label(m) + " has "
                            + (s == null ? "no power profile" : "gamma " + s.gamma) + ", while its step "
                            + probe.manifest.getStep() + " has gamma " + probe.gamma
                            + "; a profile name must keep its settings for post-hoc synthesis");
                }
                stored.add(s);
            }
        }
        if (stored.isEmpty()) {
            throw new NoPowerCheckpoints("Run " + run + " has no safetensors checkpoint of a power profile"
                    + (step.isPresent() ? " at steps up to " + step.getAsLong() : "")
                    + (skipped.isEmpty() ? "" : "; profiles " + skipped + " are not power profiles")
                    + ": configure profiles with averager.profile.NAME.sigma.rel to synthesize later."
                    + " Its checkpoints: " + describe(ofRun));
        }
        if (!skipped.isEmpty()) {
            log.info("Run {}: profiles {} are not power profiles; synthesizing from the others", run, skipped);
        }
        stored.sort(Comparator.comparing((Stored s) -> s.manifest.getProfile())
                .thenComparingLong(s -> s.manifest.getStep()));
        return stored;
    }

    /** Fetches and verifies the file; null if it is not a power profile's checkpoint (then deleted). */
    private Stored fetch(CheckpointManifest m, Map<String, ObjectStore> stores) throws IOException {
        URI uri = URI.create(m.getUri());
        ObjectStore store = stores.computeIfAbsent(Download.storeLocation(uri), storeAt);
        Path file = workDir.resolve(m.getProfile() + "-step-" + m.getStep() + ".safetensors");
        Download.fetch(m, store, file);
        Map<String, String> meta;
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            meta = r.metadata();
        }
        if (!"power".equals(meta.get("ema.type"))) {
            Files.delete(file);
            return null;
        }
        try {
            return new Stored(m, file, Double.parseDouble(meta.get("ema.gamma")));
        } catch (RuntimeException e) {
            throw new AveragerException("Checkpoint of " + label(m) + " at " + m.getUri() + " has ema.gamma '"
                    + meta.get("ema.gamma") + "'; expected a number", e);
        }
    }

    /** The profiles of a run's checkpoints with their step ranges, e.g. {@code ema (steps 100..800)}. */
    private static String describe(List<CheckpointManifest> ofRun) {
        Map<String, long[]> steps = new LinkedHashMap<>();
        for (CheckpointManifest m : ofRun) {
            long[] range = steps.computeIfAbsent(m.getProfile(), p -> new long[] {Long.MAX_VALUE, Long.MIN_VALUE});
            range[0] = Math.min(range[0], m.getStep());
            range[1] = Math.max(range[1], m.getStep());
        }
        List<String> parts = new ArrayList<>();
        steps.forEach((profile, r) -> parts.add(profile + " (" + stepRange(r) + ")"));
        return String.join(", ", parts);
    }

    private static String stepRange(long[] range) {
        return range[0] == range[1] ? "step " + range[0] : "steps " + range[0] + ".." + range[1];
    }

    private static String label(CheckpointManifest m) {
        return "run " + m.getRun() + " profile " + m.getProfile() + " step " + m.getStep();
    }
}
