package io.averager.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.Predicate;

/** A client of one instance's HTTP endpoint, for the tests. */
final class HttpApi {

    static final ObjectMapper JSON = new ObjectMapper();
    /** How long any one request may take: a hung response fails the test instead of stalling it. */
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Duration POLL = Duration.ofMillis(200);

    final int port;
    private final HttpClient noRedirects = HttpClient.newHttpClient();
    private final HttpClient redirects = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL).build();

    HttpApi(int port) {
        this.port = port;
    }

    static String segment(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    HttpResponse<String> get(String path) throws Exception {
        return noRedirects.send(HttpRequest.newBuilder(uri(path)).timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<byte[]> bytes(String path) throws Exception {
        return redirects.send(HttpRequest.newBuilder(uri(path)).timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    HttpResponse<String> send(String method, String path) throws Exception {
        return noRedirects.send(HttpRequest.newBuilder(uri(path)).timeout(TIMEOUT).method(method, HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    JsonNode json(String path) throws Exception {
        HttpResponse<String> r = redirects.send(HttpRequest.newBuilder(uri(path)).timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new AssertionError("GET " + path + " answered " + r.statusCode() + ": " + r.body());
        }
        return JSON.readTree(r.body());
    }

    /** Polls {@code path} until its JSON satisfies {@code done}; returns that JSON. */
    JsonNode await(String path, Predicate<JsonNode> done, Duration timeout) throws Exception {
        return Await.waitingFor("GET " + path + " to reach the expected state", timeout).every(POLL).until(() -> {
            try {
                return new Answer(json(path), null);
            } catch (AssertionError e) {
                return new Answer(null, e.getMessage());
            }
        }, a -> a.json() != null && done.test(a.json())).json();
    }

    /** Waits until /health/ready answers 200. */
    void awaitReady(Duration timeout) throws Exception {
        Await.waitingFor("/health/ready to answer 200", timeout).every(POLL)
                .until(() -> get("/health/ready").statusCode() == 200);
    }

    /** A JSON answer, or why there was none. */
    private record Answer(JsonNode json, String failure) {
        @Override
        public String toString() {
            return json != null ? json.toString() : "failure: " + failure;
        }
    }
}
