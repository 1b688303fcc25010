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
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            try {
                last = json(path);
                if (done.test(last)) {
                    return last;
                }
            } catch (AssertionError e) {
                last = JSON.createObjectNode().put("failure", e.getMessage());
            }
            Thread.sleep(200);
        }
        throw new AssertionError("GET " + path + " did not reach the expected state within " + timeout + "; last: " + last);
    }

    /** Waits until /health/ready answers 200. */
    void awaitReady(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (get("/health/ready").statusCode() != 200) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("Not ready within " + timeout);
            }
            Thread.sleep(200);
        }
    }
}
