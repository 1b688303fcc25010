package io.averager.ops;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import org.apache.kafka.streams.KafkaStreams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small HTTP server for operators: {@code GET /metrics} (Prometheus text format: averager's
 * own metrics, Kafka Streams' and the JVM's), {@code GET /health/live} (200 unless the Kafka
 * Streams client has failed) and {@code GET /health/ready} (200 only while it is RUNNING, that
 * is, assigned and restored). Other paths answer 404 with a JSON error. Thread-safe.
 */
public final class OpsServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(OpsServer.class);

    private final HttpServer server;
    private final PrometheusMeterRegistry registry;
    private final KafkaStreamsMetrics streamsMetrics;

    private OpsServer(HttpServer server, PrometheusMeterRegistry registry, KafkaStreamsMetrics streamsMetrics) {
        this.server = server;
        this.registry = registry;
        this.streamsMetrics = streamsMetrics;
    }

    /**
     * Starts serving on {@code port} (0: any free port) and registers the Prometheus registry
     * with Micrometer's global registry, where averager's own meters are.
     */
    public static OpsServer start(int port, KafkaStreams streams) {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        KafkaStreamsMetrics streamsMetrics = new KafkaStreamsMetrics(streams);
        streamsMetrics.bindTo(registry);
        Metrics.addRegistry(registry);
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress(port), 0);
            server.setExecutor(Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "averager-ops");
                t.setDaemon(true);
                return t;
            }));
            server.createContext("/", exchange -> {
                try (exchange) {
                    route(exchange, registry, streams);
                }
            });
            server.start();
            log.info("Metrics and health on http://0.0.0.0:{}/metrics, /health/live, /health/ready",
                    server.getAddress().getPort());
            return new OpsServer(server, registry, streamsMetrics);
        } catch (IOException e) {
            Metrics.removeRegistry(registry);
            streamsMetrics.close();
            throw new UncheckedIOException("Cannot serve metrics on port " + port + ": " + e.getMessage(), e);
        }
    }

    private static void route(HttpExchange exchange, PrometheusMeterRegistry registry, KafkaStreams streams)
            throws IOException {
        String path = exchange.getRequestURI().getPath();
        if (!exchange.getRequestMethod().equals("GET")) {
            send(exchange, 405, "application/json", "{\"error\":\"only GET is served\"}");
            return;
        }
        KafkaStreams.State state = streams.state();
        switch (path) {
            case "/metrics" -> send(exchange, 200, "text/plain; version=0.0.4; charset=utf-8", registry.scrape());
            case "/health/live" -> send(exchange, live(state) ? 200 : 503, "application/json",
                    "{\"state\":\"" + state + "\"}");
            case "/health/ready" -> send(exchange, state == KafkaStreams.State.RUNNING ? 200 : 503, "application/json",
                    "{\"state\":\"" + state + "\"}");
            default -> send(exchange, 404, "application/json",
                    "{\"error\":\"no such path; try /metrics, /health/live or /health/ready\"}");
        }
    }

    private static boolean live(KafkaStreams.State state) {
        return state != KafkaStreams.State.ERROR && state != KafkaStreams.State.PENDING_ERROR
                && state != KafkaStreams.State.NOT_RUNNING;
    }

    private static void send(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** The port served. */
    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
        Metrics.removeRegistry(registry);
        streamsMetrics.close();
        registry.close();
    }
}
