package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/** Shared client side for the simulator's tests: JDK HttpClient, JSON building and an SSE parser. */
final class SimTestSupport {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String KEY = "sk-test-key";

    static final HttpClient CLIENT = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    private SimTestSupport() {
    }

    /** One server-sent event: its {@code event:} name (null when absent) and its {@code data:}. */
    record SseEvent(String event, String data) {
        JsonNode json() {
            return parse(data);
        }
    }

    static ObjectNode object() {
        return JSON.createObjectNode();
    }

    static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A chat body with one user message. */
    static ObjectNode chat(String model, String userText) {
        ObjectNode body = object().put("model", model);
        body.putArray("messages").addObject().put("role", "user").put("content", userText);
        return body;
    }

    /** An Anthropic messages body with one user message. */
    static ObjectNode messages(String model, String userText, int maxTokens) {
        ObjectNode body = object().put("model", model).put("max_tokens", maxTokens);
        body.putArray("messages").addObject().put("role", "user").put("content", userText);
        return body;
    }

    static HttpRequest.Builder openAi(SimulatedProvider sim, String path, Object body) {
        return HttpRequest.newBuilder(URI.create(sim.baseUrl() + path))
                .timeout(Duration.ofSeconds(20))
                .header("authorization", "Bearer " + KEY)
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
    }

    static HttpRequest.Builder anthropic(SimulatedProvider sim, String path, Object body) {
        return HttpRequest.newBuilder(URI.create(sim.baseUrl() + path))
                .timeout(Duration.ofSeconds(20))
                .header("x-api-key", KEY)
                .header("anthropic-version", "2023-06-01")
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
    }

    static HttpResponse<String> send(HttpRequest.Builder request) {
        return send(CLIENT, request.build());
    }

    static HttpResponse<String> send(HttpClient client, HttpRequest request) {
        try {
            return client.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * Parses a whole {@code text/event-stream} body. Strict on purpose: every event must end with
     * a blank line ({@code \n\n}) and hold exactly one {@code data:} line.
     */
    static List<SseEvent> parseSse(String body) {
        if (!body.endsWith("\n\n")) {
            throw new AssertionError("stream does not end with a blank line: ..." + tail(body));
        }
        List<SseEvent> events = new ArrayList<>();
        for (String block : body.substring(0, body.length() - 2).split("\n\n", -1)) {
            String event = null;
            String data = null;
            for (String line : block.split("\n", -1)) {
                if (line.startsWith("event: ")) {
                    event = line.substring("event: ".length());
                } else if (line.startsWith("data: ")) {
                    if (data != null) {
                        throw new AssertionError("two data lines in one event: " + block);
                    }
                    data = line.substring("data: ".length());
                } else {
                    throw new AssertionError("unexpected line in event: '" + line + "' in " + block);
                }
            }
            if (data == null) {
                throw new AssertionError("event without data: " + block);
            }
            events.add(new SseEvent(event, data));
        }
        return events;
    }

    static String tail(String text) {
        return text.length() <= 200 ? text : text.substring(text.length() - 200);
    }

    /** Polls a condition the server reaches asynchronously (a counter after a disconnect). */
    static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    /** The concatenation of the words the simulator generates for {@code tokens} tokens. */
    static String expectedText(int tokens) {
        return SimTokens.text(tokens);
    }
}
