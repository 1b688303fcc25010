package io.averager.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link Http#handle} on a real JDK HTTP server, against a real HTTP client. */
@Timeout(60)
class HttpTest {

    private final HttpClient client = HttpClient.newHttpClient();
    private HttpServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    @Test
    void aBodyCutShortAfterItsHeadersReachesTheClientAsAnErrorNotAWaitWithoutEnd() throws Exception {
        serve(exchange -> {
            exchange.sendResponseHeaders(200, 1000);
            try (OutputStream body = exchange.getResponseBody()) {
                body.write(new byte[100]);
                body.flush();
                throw new IOException("EMA moved on during the download");
            }
        });
        CompletableFuture<HttpResponse<byte[]>> response = client.sendAsync(request(), HttpResponse.BodyHandlers.ofByteArray());
        // Without the dropped connection the client waits for the other 900 bytes for ever.
        assertThatThrownBy(() -> response.get(20, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(IOException.class);
        // The server serves the next request on a new connection.
        serve(exchange -> Http.send(exchange, 200, "text/plain", "fine"));
        assertThat(client.send(request(), HttpResponse.BodyHandlers.ofString()).body()).isEqualTo("fine");
    }

    @Test
    void aStoreThatMovedBeforeTheResponseBeganIsA503ToRetry() throws Exception {
        serve(exchange -> {
            throw new InvalidStateStoreException("The state store, runs, may have migrated to another instance.");
        });
        HttpResponse<String> r = client.send(request(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.headers().firstValue("Retry-After")).hasValue("1");
        assertThat(r.body()).contains("State moving between instances (testing)").contains("may have migrated");
    }

    @Test
    void aRefusalIsAnsweredWithItsStatusAndAFailureWith500() throws Exception {
        serve(exchange -> {
            throw new Http.Refusal(404, "Unknown run r");
        });
        HttpResponse<String> refused = client.send(request(), HttpResponse.BodyHandlers.ofString());
        assertThat(refused.statusCode()).isEqualTo(404);
        assertThat(refused.body()).isEqualTo("{\"error\":\"Unknown run r\",\"status\":404}");

        serve(exchange -> {
            throw new IllegalStateException("broken");
        });
        HttpResponse<String> failed = client.send(request(), HttpResponse.BodyHandlers.ofString());
        assertThat(failed.statusCode()).isEqualTo(500);
        assertThat(failed.body()).contains("java.lang.IllegalStateException: broken");
    }

    private void serve(Http.Route route) throws IOException {
        stop();
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> Http.handle(exchange, route, () -> "testing"));
        server.start();
    }

    private HttpRequest request() {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/x")).build();
    }
}
