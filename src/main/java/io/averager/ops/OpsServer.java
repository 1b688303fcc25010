package io.averager.ops;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.averager.ema.Profile;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.X509TrustManager;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.state.HostInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP endpoint for operators and users: {@code GET /metrics} (Prometheus text format:
 * averager's own metrics, Kafka Streams' and the JVM's), {@code GET /health/live} (200 unless the
 * Kafka Streams client has failed), {@code GET /health/ready} (200 only while it is RUNNING and
 * restores no state),
 * the runs API ({@code /runs}, {@code /runs/{run}/ema?profile=P}, {@code /runs/{run}/distance},
 * {@code /runs/{run}/synthesize?sigma_rel=S[&step=N]}; run ids percent-encoded as one path
 * segment) and the status page ({@code /}). Bad requests get
 * a 4xx with a JSON error {@code {"error": "...", "status": N}}. Thread-safe.
 *
 * <p>Bound first ({@link #bind}), so the port is known for Kafka Streams'
 * {@code application.server} ({@link #hostInfo}); then {@link #start}ed with the Kafka Streams client.
 */
public final class OpsServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(OpsServer.class);
    /** Threads beyond the syntheses and downloads that may all run at once: for health probes and the rest of the API. */
    private static final int SPARE_THREADS = 2;

    /** Seconds a client has to send a request's headers and body: a slow client loses its connection. */
    private static final String MAX_REQUEST_SECONDS = "20";

    private final HttpServer server;
    private final ExecutorService executor;
    private final HttpSettings settings;
    private final Guard guard;
    private final HttpClient peers;
    private PrometheusMeterRegistry registry;
    private KafkaStreamsMetrics streamsMetrics;
    private CheckpointCatalog catalog;

    private OpsServer(HttpServer server, ExecutorService executor, HttpSettings settings, Guard guard, HttpClient peers) {
        this.server = server;
        this.executor = executor;
        this.settings = settings;
        this.guard = guard;
        this.peers = peers;
    }

    /**
     * Binds the address and port of {@code settings} without serving yet, with TLS if it names a
     * keystore and for the principals of its access file if it names one.
     *
     * @throws IllegalArgumentException naming the setting whose file cannot be used
     */
    public static OpsServer bind(HttpSettings settings) {
        // The JDK's server reads these once; a setting given to the JVM wins.
        System.setProperty("sun.net.httpserver.maxReqTime",
                System.getProperty("sun.net.httpserver.maxReqTime", MAX_REQUEST_SECONDS));
        X509TrustManager trusted = Tls.trustManager(settings.truststore(), settings.truststorePassword());
        Access access = settings.accessFile() == null ? null : Access.read(settings.accessFile(), Clock.systemUTC());
        Guard guard = new Guard(access, settings.truststore() == null ? null : trusted, settings.peerToken(),
                Clock.systemUTC());
        InetSocketAddress address = new InetSocketAddress(settings.bind(), settings.port());
        try {
            HttpServer server;
            if (settings.tls()) {
                HttpsServer https = HttpsServer.create(address, 0);
                SSLContext context = Tls.serverContext(settings.keystore(), settings.keystorePassword(), trusted);
                boolean clientCertificates = settings.truststore() != null;
                https.setHttpsConfigurator(new HttpsConfigurator(context) {
                    @Override
                    public void configure(HttpsParameters params) {
                        SSLParameters p = context.getDefaultSSLParameters();
                        p.setWantClientAuth(clientCertificates);
                        params.setSSLParameters(p);
                    }
                });
                server = https;
            } else {
                server = HttpServer.create(address, 0);
            }
            // Every synthesis and download allowed at once may be slow (a client reading nothing):
            // the pool has threads for all of them and SPARE_THREADS more, so probes always answer.
            int threads = SynthesisDownload.CONCURRENT + settings.maxDownloads() + SPARE_THREADS;
            ExecutorService executor = Executors.newFixedThreadPool(threads, r -> {
                Thread t = new Thread(r, "averager-http");
                t.setDaemon(true);
                return t;
            });
            server.setExecutor(executor);
            HttpClient.Builder client = HttpClient.newBuilder().connectTimeout(RunsApi.PEER_TIMEOUT);
            if (settings.tls()) {
                client.sslContext(Tls.clientContext(trusted));
            }
            return new OpsServer(server, executor, settings, guard, client.build());
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot serve HTTP on " + settings.bind() + ":" + settings.port() + " (averager.http.bind,"
                    + " averager.http.port): " + e.getMessage(), e);
        }
    }

    /**
     * Where others reach this server: {@code advertised} as {@code host} or {@code host:port}
     * (without a port, the bound one); empty: this machine's host name and the bound port.
     */
    public HostInfo hostInfo(String advertised) {
        if (advertised.isEmpty()) {
            try {
                return new HostInfo(InetAddress.getLocalHost().getCanonicalHostName(), port());
            } catch (UnknownHostException e) {
                return new HostInfo("localhost", port());
            }
        }
        int colon = advertised.lastIndexOf(':');
        if (colon < 0 || advertised.endsWith("]")) {
            return new HostInfo(advertised, port());
        }
        return new HostInfo(advertised.substring(0, colon), Integer.parseInt(advertised.substring(colon + 1)));
    }

    /**
     * Starts serving; {@code /metrics} shows {@code registry}, with the JVM's and Kafka Streams'
     * meters added to it.
     *
     * @param self this instance's {@code application.server}
     * @param checkpoints where the manifests and checkpoints are, for /runs and synthesis
     * @param registry the service instance's meters
     */
    public void start(KafkaStreams streams, HostInfo self, List<Profile> profiles, CheckpointAccess checkpoints,
                      PrometheusMeterRegistry registry) {
        this.registry = registry;
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        Restoration restoration = new Restoration();
        streams.setGlobalStateRestoreListener(restoration);
        streamsMetrics = new KafkaStreamsMetrics(streams);
        streamsMetrics.bindTo(registry);
        catalog = new CheckpointCatalog(checkpoints.consumerProperties(), checkpoints.manifestsTopic(),
                checkpoints.runEventsTopic());
        catalog.start();
        StateQueries state = new StateQueries(streams);
        String scheme = settings.tls() ? "https" : "http";
        Owners owners = new Owners(streams, self, scheme, guard);
        Routes routes = new Routes(streams, restoration, registry, guard,
                new RunsApi(state, owners, profiles, catalog, peers, scheme, settings.peerToken()),
                new EmaDownload(state, owners, profiles, settings.maxDownloads()),
                SynthesisDownload.clearingLeftovers(checkpoints), statusPage());
        server.createContext("/", routes::handle);
        server.start();
        log.info("HTTP{} on {}:{} as {}:{}, {}: status page /, /runs, /metrics, /health/live, /health/ready",
                settings.tls() ? "S" : "", settings.bind(), port(), self.host(), self.port(), guard.open()
                        ? "open to anyone who reaches it (no averager.http.access.file)"
                        : "for the tokens and certificates of " + settings.accessFile());
    }

    private static String statusPage() {
        try (InputStream in = OpsServer.class.getResourceAsStream("status.html")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException | NullPointerException e) {
            throw new IllegalStateException("The status page is missing from the classpath", e);
        }
    }

    /** The port served. */
    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        if (catalog != null) {
            catalog.close();
        }
        if (streamsMetrics != null) {
            streamsMetrics.close();
        }
    }

    /** Dispatches requests by method and path. */
    private record Routes(KafkaStreams streams, Restoration restoration, PrometheusMeterRegistry registry, Guard guard,
                          RunsApi runs, EmaDownload ema, SynthesisDownload synthesis, String statusPage) {

        void handle(HttpExchange exchange) throws IOException {
            Http.handle(exchange, this::route, () -> "Kafka Streams is " + streams.state());
        }

        private void route(HttpExchange exchange) throws IOException, InterruptedException {
            if (!exchange.getRequestMethod().equals("GET")) {
                exchange.getResponseHeaders().set("Allow", "GET");
                throw new Http.Refusal(405, "Method " + exchange.getRequestMethod() + " is not allowed: only GET is served");
            }
            String path = exchange.getRequestURI().getRawPath();
            KafkaStreams.State state = streams.state();
            switch (path) {
                case "/", "/index.html" -> {
                    Http.parameters(exchange);
                    Http.send(exchange, 200, "text/html; charset=utf-8", statusPage);
                }
                case "/metrics" -> {
                    Http.parameters(exchange);
                    guard.check(exchange, Access.Role.METRICS, null);
                    Http.send(exchange, 200, "text/plain; version=0.0.4; charset=utf-8", registry.scrape());
                }
                case "/health/live" -> Http.send(exchange, live(state) ? 200 : 503, Http.JSON_TYPE,
                        "{\"state\":\"" + state + "\"}");
                case "/health/ready" -> {
                    int restoring = restoration.partitions();
                    Http.send(exchange, state == KafkaStreams.State.RUNNING && restoring == 0 ? 200 : 503,
                            Http.JSON_TYPE, "{\"state\":\"" + state + "\",\"restoring_partitions\":" + restoring + "}");
                }
                case "/runs", "/runs/" -> {
                    Http.parameters(exchange, "scope");
                    runs.list(exchange, guard.check(exchange, Access.Role.READ, null));
                }
                default -> runRoute(exchange, path);
            }
        }

        private void runRoute(HttpExchange exchange, String path) throws IOException, InterruptedException {
            String[] parts = path.split("/", -1);
            if (parts.length == 4 && parts[1].equals("runs") && !parts[2].isEmpty()) {
                String run = Http.decodeRun(parts[2]);
                switch (parts[3]) {
                    case "ema" -> {
                        checkRunRequest(exchange, Access.Role.READ, run, "profile");
                        ema.serve(exchange, run);
                        return;
                    }
                    case "distance" -> {
                        checkRunRequest(exchange, Access.Role.READ, run);
                        runs.distance(exchange, run);
                        return;
                    }
                    case "synthesize" -> {
                        checkRunRequest(exchange, Access.Role.SYNTHESIZE, run, "sigma_rel", "step");
                        synthesis.serve(exchange, run);
                        return;
                    }
                    default -> throw new Http.Refusal(404, "No such resource " + parts[3] + " of run " + run
                            + ": try /runs/{run}/ema?profile=P, /runs/{run}/distance or"
                            + " /runs/{run}/synthesize?sigma_rel=S (run ids percent-encoded)");
                }
            }
            throw new Http.Refusal(404, "No such path " + path + "; try /, /runs, /runs/{run}/ema?profile=P,"
                    + " /runs/{run}/distance, /runs/{run}/synthesize?sigma_rel=S, /metrics, /health/live or /health/ready");
        }

        /**
         * Refuses a request of a run's resource with parameters other than {@code parameters} (and
         * the grant of a redirect, which any run route takes) or from a client without {@code role} on the run.
         */
        private void checkRunRequest(HttpExchange exchange, Access.Role role, String run, String... parameters) {
            String[] allowed = Arrays.copyOf(parameters, parameters.length + 1);
            allowed[parameters.length] = Guard.GRANT;
            Http.parameters(exchange, allowed);
            guard.check(exchange, role, run);
        }

        private static boolean live(KafkaStreams.State state) {
            return state != KafkaStreams.State.ERROR && state != KafkaStreams.State.PENDING_ERROR
                    && state != KafkaStreams.State.NOT_RUNNING;
        }
    }
}
