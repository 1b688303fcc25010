package io.averager.ops;

import com.sun.net.httpserver.HttpExchange;
import io.averager.ema.Profile;
import io.averager.ema.TensorSpec;
import io.averager.format.SafetensorsLayout;
import io.averager.store.DistanceHistory;
import io.averager.store.Distances;
import io.averager.store.EmaEntries;
import io.averager.store.EmaEntry;
import io.averager.store.RestorePoints;
import io.averager.store.Run;
import io.averager.store.RunStore;
import io.averager.store.Stores;
import io.averager.topology.CheckpointMetadata;
import io.averager.wire.Tensors;
import io.averager.wire.WireCodec;
import io.averager.wire.avro.RunProgress;
import io.averager.wire.avro.CheckpointHeader;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /runs/{run}/ema?profile=P}: the run's current EMA of one profile as a safetensors
 * file, streamed from the EMA store one entry at a time, so memory stays at one entry whatever
 * the model's size. The file is the one a checkpoint of that step would be, except that it lacks
 * the publisher's own metadata.
 *
 * <p>Consistent at one step: entries are updated chunk by chunk while a snapshot is applied, so
 * the download waits (up to {@link #WAIT_MS}) until no snapshot of the run is being applied.
 * If the last snapshot closed was averaged whole (the run's distance history ends with it), every
 * entry holds its step; otherwise a first pass checks that they all hold one step, and a mixed
 * EMA is refused with 409. The entries are then streamed, each checked again: one that moved on
 * meanwhile (the next snapshot began) aborts the response before its end, so a client never takes
 * a mixed file for a whole one, and retries.
 */
final class EmaDownload {

    private static final Logger log = LoggerFactory.getLogger(EmaDownload.class);
    static final long WAIT_MS = 10_000;
    static final String STEP_HEADER = "X-Averager-Step";

    private final StateQueries state;
    private final Owners owners;
    private final List<Profile> profiles;
    private final Semaphore downloads;
    private final int maxDownloads;

    /** @param maxDownloads the most downloads served at once; more are refused with 429 */
    EmaDownload(StateQueries state, Owners owners, List<Profile> profiles, int maxDownloads) {
        this.state = state;
        this.owners = owners;
        this.profiles = profiles;
        this.downloads = new Semaphore(maxDownloads);
        this.maxDownloads = maxDownloads;
    }

    void serve(HttpExchange exchange, String run) throws IOException, InterruptedException {
        String name = Http.query(exchange.getRequestURI().getRawQuery()).get("profile");
        if (name == null || name.isEmpty()) {
            throw new Http.Refusal(400, "Missing query parameter profile: one of " + names());
        }
        Profile profile = profiles.stream().filter(p -> p.name().equals(name)).findFirst()
                .orElseThrow(() -> new Http.Refusal(404, "Unknown profile " + name + ": expected one of " + names()));
        int partition = owners.localPartitionOrRedirect(exchange, run);
        if (partition < 0) {
            return;
        }
        // Taken only for a download this instance serves: a bad request or a redirect never waits for one.
        if (!downloads.tryAcquire()) {
            exchange.getResponseHeaders().set("Retry-After", "5");
            throw new Http.Refusal(429, maxDownloads + " EMA downloads are being served by this instance"
                    + " (averager.http.max.downloads); retry shortly");
        }
        try {
            download(exchange, run, profile, partition);
        } finally {
            downloads.release();
        }
    }

    private void download(HttpExchange exchange, String run, Profile profile, int partition)
            throws IOException, InterruptedException {
        RunStore runs = RunStore.readOnly(state.local(Stores.RUNS, partition), state.local(Stores.LAYOUTS, partition));
        EmaEntries ema = EmaEntries.readOnly(state.local(Stores.EMA, partition));
        RestorePoints restorePoints = RestorePoints.readOnly(state.local(Stores.RESTORE_POINTS, partition));
        Run runState = settled(runs, run, exchange);
        long step = runState.progress().getLastStep();
        List<TensorSpec> tensors = Tensors.specs(runState.layout().getTensors()).stream()
                .map(t -> new TensorSpec(t.name(), t.dtype().accumulator(), t.shape())).toList();
        SafetensorsLayout layout = SafetensorsLayout.of(tensors, metadata(run, profile, step, runState));
        String mixed = lastWholeStep(run, partition) == step ? null : stream(ema, restorePoints, run, runState.progress(), profile.name(), layout, step, null);
        if (mixed != null) {
            throw new Http.Refusal(409, "The EMA of run " + run + " profile " + profile.name()
                    + " is not at one step: " + mixed + ". The last snapshot was not averaged whole;"
                    + " the next complete snapshot makes the EMA consistent again");
        }
        exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
        exchange.getResponseHeaders().set(STEP_HEADER, Long.toString(step));
        exchange.getResponseHeaders().set("Content-Disposition", "attachment; filename=\""
                + Http.encodeSegment(run) + "-" + Http.encodeSegment(profile.name()) + "-" + step + ".safetensors\"");
        exchange.sendResponseHeaders(200, layout.size());
        try (OutputStream body = exchange.getResponseBody()) {
            ByteBuffer header = layout.header();
            byte[] headerBytes = new byte[header.remaining()];
            header.get(headerBytes);
            body.write(headerBytes);
            mixed = stream(ema, restorePoints, run, runState.progress(), profile.name(), layout, step, body);
            if (mixed != null) {
                // Closing short of the declared length tells the client the file is incomplete.
                log.info("Download of run {} profile {} step {} cut short: {}", run, profile.name(), step, mixed);
                throw new IOException("EMA moved on during the download: " + mixed);
            }
        }
    }

    /**
     * The checkpoint file's metadata, in the order a checkpoint file has it: the sink writes the
     * map as decoded from the checkpoint header record, so the same round trip gives the same order.
     */
    private static Map<String, String> metadata(String run, Profile profile, long step, Run s) {
        CheckpointHeader header = new CheckpointHeader(run, profile.name(), step, s.layout().getTensors(),
                s.layout().getGrid(), s.layout().getChunkCount(),
                CheckpointMetadata.of(Map.of(), run, profile, step, s.progress().getSnapshots(), s.progress().getParent(),
                        s.progress().getParentStep()), s.progress().getBranch());
        return WireCodec.decode(WireCodec.encode(header), CheckpointHeader.class).getMetadata();
    }

    /** The step of the run's last snapshot averaged whole, by its distance history; -1 if unknown. */
    private long lastWholeStep(String run, int partition) {
        List<DistanceHistory.Point> points = Distances.readOnly(state.local(Stores.DISTANCES, partition), names())
                .history(run).points();
        return points.isEmpty() ? -1 : points.get(points.size() - 1).step();
    }

    /** The run's state once no snapshot of it is being applied; 404 for an unknown run, 503 if one stays open. */
    private static Run settled(RunStore runs, String run, HttpExchange exchange) throws InterruptedException {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (true) {
            Run s = runs.get(run);
            if (s == null) {
                throw new Http.Refusal(404, "Unknown run " + run + ": no snapshot of it was averaged");
            }
            RunProgress p = s.progress();
            if (p.getPending() == null && p.getLastStep() >= 0) {
                return s;
            }
            if (System.currentTimeMillis() > deadline) {
                exchange.getResponseHeaders().set("Retry-After", "1");
                throw new Http.Refusal(503, "Run " + run + " is applying the snapshot of step "
                        + (p.getPending() == null ? "?" : p.getPending().getStep()) + " for over " + WAIT_MS
                        + " ms; retry between snapshots");
            }
            Thread.sleep(50);
        }
    }

    /**
     * Checks that every entry of the profile's tensors holds {@code step} and fills its tensor
     * exactly, writing each entry's data to {@code out} when given; returns what is wrong, or null.
     * An entry of a branch before the run's last rewind is read as its restore point's copy.
     */
    private static String stream(EmaEntries ema, RestorePoints restorePoints, String run, RunProgress progress,
                                 String profile, SafetensorsLayout layout, long step, OutputStream out)
            throws IOException {
        for (TensorSpec t : layout.tensors()) {
            long expected = 0;
            try (EmaEntries.Scan it = ema.scan(run, profile, t.name())) {
                while (it.hasNext()) {
                    EmaEntries.Stored stored = it.next();
                    long offset = stored.offset();
                    if (offset >= t.numel()) {
                        break; // left by a layout before the last SET, when the tensor was larger
                    }
                    if (offset < expected) {
                        continue; // left by a layout on another grid, inside an entry of this one
                    }
                    EmaEntry entry;
                    try {
                        entry = restorePoints.asOfBranch(stored.entry(), run, progress, profile, t.name(), offset);
                    } catch (IllegalStateException e) {
                        return "tensor " + t.name() + " at element " + offset + ": " + e.getMessage();
                    }
                    if (entry == null) {
                        return "tensor " + t.name() + " at element " + offset + " has no copy in the restore point of step "
                                + progress.getRestoredFrom();
                    }
                    if (offset != expected) {
                        return "tensor " + t.name() + " has an entry at element " + offset + " where " + expected
                                + " was expected";
                    }
                    if (entry.lastStep() != step) {
                        return "tensor " + t.name() + " at element " + offset + " holds step " + entry.lastStep()
                                + ", the run's last step is " + step;
                    }
                    expected += entry.dataBytes() / t.dtype().size();
                    if (expected > t.numel()) {
                        return "tensor " + t.name() + " has an entry at element " + offset + " running past its "
                                + t.numel() + " elements";
                    }
                    if (out != null) {
                        // Straight from the stored array: one write of the whole entry.
                        ByteBuffer data = entry.data();
                        out.write(data.array(), data.arrayOffset() + data.position(), data.remaining());
                    }
                }
            }
            if (expected != t.numel()) {
                return "tensor " + t.name() + " has entries for " + expected + " of its " + t.numel() + " elements";
            }
        }
        return null;
    }

    private List<String> names() {
        return profiles.stream().map(Profile::name).toList();
    }
}
