package io.averager.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import io.averager.ema.Profile;
import io.averager.store.DistanceHistory;
import io.averager.store.Distances;
import io.averager.store.Run;
import io.averager.store.RunStore;
import io.averager.store.Stores;
import io.averager.wire.avro.CheckpointManifest;
import io.averager.wire.avro.RunProgress;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.HostInfo;

/**
 * {@code GET /runs}: every run of the application with its last step and each profile's last
 * checkpoint, gathered from every instance; {@code GET /runs/{run}/distance}: the run's chart
 * data, from the instance owning the run. Thread-safe.
 */
final class RunsApi {

    static final Duration PEER_TIMEOUT = Duration.ofSeconds(5);
    private static final String ACTIVE = "active";
    private static final String STANDBY = "standby";
    private static final String CHECKPOINTS = "checkpoints";

    private final StateQueries state;
    private final Owners owners;
    private final List<Profile> profiles;
    private final CheckpointCatalog catalog;
    private final HttpClient http;
    private final String scheme;
    private final String peerToken;

    /**
     * @param http the client that asks the other instances, over {@code scheme}, with
     *     {@code peerToken} as its bearer token when not null
     */
    RunsApi(StateQueries state, Owners owners, List<Profile> profiles, CheckpointCatalog catalog, HttpClient http,
            String scheme, String peerToken) {
        this.state = state;
        this.owners = owners;
        this.profiles = profiles;
        this.catalog = catalog;
        this.http = http;
        this.scheme = scheme;
        this.peerToken = peerToken == null || peerToken.isEmpty() ? null : peerToken;
    }

    /**
     * {@code GET /runs[?scope=local]}: scope local lists the runs whose state this instance holds,
     * active or standby. Gathered, each run is listed once, from its active copy where one answers,
     * else from a standby, else (its state moving between instances) from its checkpoints alone.
     * Only the runs {@code principal} may read are listed.
     */
    void list(HttpExchange exchange, Access.Principal principal) throws IOException {
        boolean local = "local".equals(Http.query(exchange.getRequestURI().getRawQuery()).get("scope"));
        Predicate<String> readable = run -> principal.may(Access.Role.READ, run);
        if (local) {
            ObjectNode body = Http.JSON.createObjectNode();
            body.putArray("runs").addAll(localRuns().stream().filter(r -> readable.test(r.get("run").asText())).toList());
            Http.sendJson(exchange, 200, body);
            return;
        }
        ObjectNode body = Http.JSON.createObjectNode();
        ArrayNode unreachable = body.putArray("unreachable");
        Map<String, JsonNode> runs = new TreeMap<>();
        try {
            localRuns().forEach(r -> keepBetter(runs, r));
        } catch (Http.Refusal | InvalidStateStoreException e) {
            // Its stores moving in a rebalance: what peers and checkpoints say stands in for them.
            unreachable.add(owners.self().host() + ":" + owners.self().port() + ": " + e.getMessage());
        }
        for (HostInfo peer : owners.others()) {
            try {
                peerRuns(peer).forEach(r -> keepBetter(runs, r));
            } catch (IOException e) {
                unreachable.add(peer.host() + ":" + peer.port() + ": " + e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("Interrupted asking " + peer, e);
            }
        }
        for (String run : catalog.runs()) {
            runs.computeIfAbsent(run, this::fromCheckpoints);
        }
        runs.keySet().removeIf(readable.negate());
        body.putArray("runs").addAll(runs.values());
        Http.sendJson(exchange, 200, body);
    }

    private List<JsonNode> localRuns() {
        List<JsonNode> runs = new ArrayList<>();
        RunStore.readOnly(state.allLocalOrStandby(Stores.RUNS), state.allLocalOrStandby(Stores.LAYOUTS))
                .forEach((run, s) -> runs.add(describe(run, s)));
        return runs;
    }

    /** Keeps the active copy of a run over a standby's, and of two alike the one further on. */
    private static void keepBetter(Map<String, JsonNode> runs, JsonNode run) {
        runs.merge(run.get("run").asText(), run, (a, b) -> {
            boolean activeA = ACTIVE.equals(a.path("source").asText());
            boolean activeB = ACTIVE.equals(b.path("source").asText());
            if (activeA != activeB) {
                return activeA ? a : b;
            }
            return b.path("lastStep").asLong() > a.path("lastStep").asLong() ? b : a;
        });
    }

    private List<JsonNode> peerRuns(HostInfo peer) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(
                URI.create(scheme + "://" + peer.host() + ":" + peer.port() + "/runs?scope=local")).timeout(PEER_TIMEOUT);
        if (peerToken != null) {
            request.header("Authorization", "Bearer " + peerToken);
        }
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IOException("answered " + response.statusCode() + ": " + response.body());
        }
        List<JsonNode> runs = new ArrayList<>();
        Http.JSON.readTree(response.body()).path("runs").forEach(runs::add);
        return runs;
    }

    private ObjectNode describe(String run, Run state) {
        HostInfo owner = owners.activeHost(run);
        RunProgress s = state.progress();
        ObjectNode r = Http.JSON.createObjectNode().put("run", run).put("lastStep", s.getLastStep())
                .put("snapshots", s.getSnapshots());
        if (state.layout() == null) {
            r.putNull("tensors");
        } else {
            r.put("tensors", state.layout().getTensors().size());
        }
        if (owner == null) {
            r.putNull("owner");
        } else {
            r.put("owner", owner.host() + ":" + owner.port());
        }
        r.put("source", owners.self().equals(owner) ? ACTIVE : STANDBY);
        if (s.getPending() == null) {
            r.putNull("applyingStep");
        } else {
            r.put("applyingStep", s.getPending().getStep());
        }
        r.put("rewinds", s.getBranch());
        if (s.getRestoredFrom() < 0) {
            r.putNull("resumedFrom");
        } else {
            r.put("resumedFrom", s.getRestoredFrom());
        }
        return withCheckpoints(r, run);
    }

    /** A run whose state no instance serves right now: what its checkpoints say. */
    private ObjectNode fromCheckpoints(String run) {
        ObjectNode r = Http.JSON.createObjectNode().put("run", run);
        long last = -1;
        for (Profile p : profiles) {
            CheckpointManifest m = catalog.last(run, p.name());
            last = Math.max(last, m == null ? -1 : m.getStep());
        }
        r.put("lastStep", last).putNull("snapshots").putNull("tensors").putNull("owner").put("source", CHECKPOINTS)
                .putNull("applyingStep").putNull("rewinds").putNull("resumedFrom");
        return withCheckpoints(r, run);
    }

    private ObjectNode withCheckpoints(ObjectNode r, String run) {
        ArrayNode ps = r.putArray("profiles");
        for (Profile p : profiles) {
            ObjectNode profile = ps.addObject().put("profile", p.name());
            CheckpointManifest m = catalog.last(run, p.name());
            if (m == null) {
                profile.putNull("lastCheckpoint");
            } else {
                profile.putObject("lastCheckpoint").put("step", m.getStep()).put("uri", m.getUri())
                        .put("format", m.getFormat()).put("time", m.getSnapshotTime().toString())
                        .put("size", m.getSize()).put("sha256", m.getSha256());
            }
        }
        return r;
    }

    /** {@code GET /runs/{run}/distance}: the run's relative distance per profile over recent snapshots. */
    void distance(HttpExchange exchange, String run) throws IOException {
        int partition = owners.localPartitionOrRedirect(exchange, run);
        if (partition < 0) {
            return;
        }
        if (RunStore.readOnly(state.local(Stores.RUNS, partition), state.local(Stores.LAYOUTS, partition)).get(run) == null) {
            throw new Http.Refusal(404, "Unknown run " + run + ": no snapshot of it was averaged");
        }
        DistanceHistory history = Distances.readOnly(state.local(Stores.DISTANCES, partition),
                profiles.stream().map(Profile::name).toList()).history(run);
        ObjectNode body = Http.JSON.createObjectNode().put("run", run);
        history.profiles().forEach(body.putArray("profiles")::add);
        ArrayNode points = body.putArray("points");
        for (DistanceHistory.Point p : history.points()) {
            ObjectNode point = points.addObject().put("step", p.step()).put("time", Instant.ofEpochMilli(p.time()).toString())
                    .put("checkpoint", p.checkpoint());
            ObjectNode distance = point.putObject("distance");
            for (int i = 0; i < history.profiles().size(); i++) {
                double v = p.relative()[i];
                if (Double.isFinite(v)) {
                    distance.put(history.profiles().get(i), v);
                } else {
                    distance.putNull(history.profiles().get(i));
                }
            }
        }
        Http.sendJson(exchange, 200, body);
    }
}
