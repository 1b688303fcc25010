package io.averager.ops;

import com.sun.net.httpserver.HttpExchange;
import io.averager.store.Stores;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StreamsMetadata;
import org.apache.kafka.streams.state.HostInfo;

/**
 * Which instance owns a run, by Kafka Streams' metadata ({@code application.server} of each
 * instance): requests for a run owned elsewhere are redirected there with 307, keeping the path
 * and query. Thread-safe.
 */
final class Owners {

    private final KafkaStreams streams;
    private final HostInfo self;
    private final String scheme;
    private final Guard guard;

    /**
     * @param scheme of the redirects' locations: the instances serve alike
     * @param guard signs the redirects, so that the owner serves them without the client's credentials
     */
    Owners(KafkaStreams streams, HostInfo self, String scheme, Guard guard) {
        this.streams = streams;
        this.self = self;
        this.scheme = scheme;
        this.guard = guard;
    }

    /**
     * The partition of the run's state here, or -1 after answering the request: a redirect to
     * the owner, or 503 while no instance owns the run (rebalancing, or the service is not running).
     */
    int localPartitionOrRedirect(HttpExchange exchange, String run) throws IOException {
        KeyQueryMetadata owner;
        try {
            owner = metadata(run);
        } catch (IllegalStateException e) {
            throw new Http.Refusal(503, "Kafka Streams is " + streams.state() + ": " + e.getMessage());
        }
        if (owner == null) {
            exchange.getResponseHeaders().set("Retry-After", "1");
            throw new Http.Refusal(503, "No instance owns run " + run + " right now (Kafka Streams is "
                    + streams.state() + "); retry shortly");
        }
        if (owner.activeHost().equals(self)) {
            return owner.partition();
        }
        String path = exchange.getRequestURI().getRawPath();
        List<String> query = new ArrayList<>();
        String raw = exchange.getRequestURI().getRawQuery();
        if (raw != null && !raw.isEmpty()) {
            Arrays.stream(raw.split("&")).filter(p -> !p.startsWith(Guard.GRANT + "=")).forEach(query::add);
        }
        String grant = guard.grantFor(path);
        if (grant != null) {
            query.add(grant);
        }
        String location = scheme + "://" + owner.activeHost().host() + ":" + owner.activeHost().port() + path
                + (query.isEmpty() ? "" : "?" + String.join("&", query));
        exchange.getResponseHeaders().set("Location", location);
        Http.sendError(exchange, 307, "Run " + run + " is served by " + owner.activeHost().host() + ":"
                + owner.activeHost().port());
        return -1;
    }

    /** The instance whose active task holds the run's state now, or null while none does. */
    HostInfo activeHost(String run) {
        try {
            KeyQueryMetadata owner = metadata(run);
            return owner == null ? null : owner.activeHost();
        } catch (IllegalStateException e) {
            return null;
        }
    }

    /** Where the run's state is, or null while no active task holds it. */
    private KeyQueryMetadata metadata(String run) {
        KeyQueryMetadata owner = streams.queryMetadataForKey(Stores.RUNS, run, Serdes.String().serializer());
        if (owner == null || owner.activeHost() == null || owner.activeHost().equals(HostInfo.unavailable())) {
            return null;
        }
        return owner;
    }

    /** The other instances of the application, by their {@code application.server}. */
    List<HostInfo> others() {
        return streams.metadataForAllStreamsClients().stream().map(StreamsMetadata::hostInfo)
                .filter(h -> !h.equals(self) && !h.equals(HostInfo.unavailable())).distinct().toList();
    }

    HostInfo self() {
        return self;
    }
}
