package io.averager.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import io.averager.wire.RecordLimits;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The endpoint's handling of one exchange, and helpers for its routes: JSON bodies, JSON errors, URL path and query coding. */
final class Http {

    private static final Logger log = LoggerFactory.getLogger(Http.class);
    static final ObjectMapper JSON = new ObjectMapper();
    static final String JSON_TYPE = "application/json";

    private Http() {
    }

    /** A request the endpoint refuses: the status and what was wrong. */
    static final class Refusal extends RuntimeException {
        final int status;

        Refusal(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    /** What serves one request: writes the response, or throws a {@link Refusal}. */
    @FunctionalInterface
    interface Route {
        void serve(HttpExchange exchange) throws IOException, InterruptedException;
    }

    /**
     * Serves one exchange by {@code route} and ends it. A failure before the response began is
     * answered with its status: a refusal's, 503 with {@code Retry-After} for a state store that
     * moved to another instance mid-request ({@code moving} says what the instance is doing),
     * else 500. A failure after the response began (a download cut short) is thrown on, so that
     * the server drops the connection: the client then sees a body that ends before its declared
     * length as an error, where only closing the exchange would leave it waiting forever.
     */
    static void handle(HttpExchange exchange, Route route, Supplier<String> moving) throws IOException {
        exchange.getResponseHeaders().set("Access-Control-Allow-Origin", "*");
        try {
            route.serve(exchange);
        } catch (Refusal r) {
            failIfBegun(exchange, r);
            sendError(exchange, r.status, r.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("Interrupted while serving " + exchange.getRequestURI(), e);
        } catch (InvalidStateStoreException e) {
            failIfBegun(exchange, e);
            exchange.getResponseHeaders().set("Retry-After", "1");
            sendError(exchange, 503, "State moving between instances (" + moving.get() + "): " + e.getMessage()
                    + "; retry shortly");
        } catch (IOException | RuntimeException e) {
            log.warn("{} {} failed: {}", exchange.getRequestMethod(), exchange.getRequestURI(), e.toString());
            failIfBegun(exchange, e);
            sendError(exchange, 500, e.toString());
        } finally {
            exchange.close();
        }
    }

    private static void failIfBegun(HttpExchange exchange, Exception e) throws IOException {
        if (exchange.getResponseCode() != -1) {
            throw e instanceof IOException io ? io : new IOException(e.getMessage(), e);
        }
    }

    static void send(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    static void sendJson(HttpExchange exchange, int status, JsonNode body) throws IOException {
        send(exchange, status, JSON_TYPE, JSON.writeValueAsString(body));
    }

    /** {@code {"error": message, "status": status}}. */
    static void sendError(HttpExchange exchange, int status, String message) throws IOException {
        ObjectNode error = JSON.createObjectNode().put("error", message).put("status", status);
        sendJson(exchange, status, error);
    }

    /** Longest query string served: parameters are short (a profile name, a number). */
    static final int MAX_QUERY_CHARS = 2048;

    /**
     * Refuses, with 400, a query string longer than {@value #MAX_QUERY_CHARS} characters or with
     * a parameter other than {@code allowed}, which the route would ignore: a typo (profil=)
     * should not quietly get the default.
     */
    static void parameters(HttpExchange exchange, String... allowed) {
        String raw = exchange.getRequestURI().getRawQuery();
        if (raw == null || raw.isEmpty()) {
            return;
        }
        if (raw.length() > MAX_QUERY_CHARS) {
            throw new Refusal(400, "Query string of " + raw.length() + " characters; at most " + MAX_QUERY_CHARS + " are served");
        }
        Map<String, String> params;
        try {
            params = query(raw);
        } catch (IllegalArgumentException e) {
            throw new Refusal(400, "Query string does not decode: " + e.getMessage());
        }
        for (String name : params.keySet()) {
            if (!List.of(allowed).contains(name)) {
                throw new Refusal(400, "Unknown query parameter '" + name + "' for " + exchange.getRequestURI().getRawPath()
                        + (allowed.length == 0 ? ": it takes none" : ": expected " + String.join(", ", allowed)));
            }
        }
    }

    /**
     * The run id of a path segment: percent-decoded, as UTF-8, up to {@value RecordLimits#MAX_RUN_BYTES}
     * bytes; 400 otherwise.
     */
    static String decodeRun(String raw) {
        String run;
        try {
            run = decodeSegment(raw);
        } catch (IllegalArgumentException e) {
            throw new Refusal(400, "Run id '" + raw + "' does not decode: " + e.getMessage());
        }
        if (run.indexOf('\uFFFD') >= 0) {
            throw new Refusal(400, "Run id '" + raw + "' is not percent-encoded UTF-8");
        }
        if (run.getBytes(StandardCharsets.UTF_8).length > RecordLimits.MAX_RUN_BYTES) {
            throw new Refusal(400, "Run id of more than " + RecordLimits.MAX_RUN_BYTES + " bytes: no run has one that long");
        }
        return run;
    }

    /** Decodes one percent-encoded path segment; {@code +} stays a plus sign, as in paths it is one. */
    static String decodeSegment(String raw) {
        return URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** Encodes a string as one path segment: {@code /}, spaces and the rest percent-encoded. */
    static String encodeSegment(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** The query parameters of a raw query string; the first of a repeated name wins. */
    static Map<String, String> query(String rawQuery) {
        Map<String, String> params = new HashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return params;
        }
        for (String pair : rawQuery.split("&")) {
            int eq = pair.indexOf('=');
            String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            params.putIfAbsent(name, value);
        }
        return params;
    }
}
