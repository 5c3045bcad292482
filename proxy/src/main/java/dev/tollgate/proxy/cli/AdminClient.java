package dev.tollgate.proxy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.StringJoiner;

/** The CLI's side of the admin API: one call, one answer, and an error message a person can act on. */
final class AdminClient {
    static final String URL_ENV = "TOLLGATE_ADMIN_URL";
    static final String DEFAULT_URL = "http://127.0.0.1:8081";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A refused or failed call, with the API's own message. */
    static final class Failure extends RuntimeException {
        Failure(String message) {
            super(message, null, false, false);
        }
    }

    record Answer(int status, String body, Map<String, String> headers) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new Failure("the admin API answered with something that is not JSON (HTTP " + status + ")");
            }
        }
    }

    private final String baseUrl;
    private final String token;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    AdminClient(String baseUrl, String token) {
        this.baseUrl = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
        this.token = token;
    }

    static String query(Map<String, String> parameters) {
        StringJoiner joined = new StringJoiner("&", "?", "");
        joined.setEmptyValue("");
        parameters.forEach((name, value) -> {
            if (value != null) {
                joined.add(name + "=" + URLEncoder.encode(value, StandardCharsets.UTF_8));
            }
        });
        return joined.toString();
    }

    static Map<String, String> parameters(String... pairs) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            map.put(pairs[i], pairs[i + 1]);
        }
        return map;
    }

    Answer get(String path, String accept) {
        return send("GET", path, null, null, accept);
    }

    Answer post(String path, JsonNode body, String idempotencyKey) {
        return send("POST", path, body == null ? null : body.toString(), idempotencyKey, null);
    }

    Answer patch(String path, JsonNode body) {
        return send("PATCH", path, body.toString(), null, null);
    }

    private Answer send(String method, String path, String body, String idempotencyKey, String accept) {
        if (token == null || token.isBlank()) {
            throw new Failure("no admin token: set TOLLGATE_ADMIN_TOKEN (the demo prints one)");
        }
        URI uri;
        try {
            uri = URI.create(baseUrl + path);
        } catch (IllegalArgumentException e) {
            throw new Failure("not a URL: " + baseUrl + path);
        }
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + token)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        if (idempotencyKey != null) {
            request.header("Idempotency-Key", idempotencyKey);
        }
        if (accept != null) {
            request.header("Accept", accept);
        }
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (ConnectException e) {
            throw new Failure("cannot reach the admin API at " + baseUrl + " (is Tollgate running? --url or " + URL_ENV + " points elsewhere)");
        } catch (IOException e) {
            throw new Failure("the admin API at " + baseUrl + " did not answer: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure("interrupted");
        }
        Map<String, String> headers = new LinkedHashMap<>();
        response.headers().map().forEach((name, values) -> headers.put(name.toLowerCase(java.util.Locale.ROOT), values.getFirst()));
        Answer answer = new Answer(response.statusCode(), response.body(), headers);
        if (answer.status() >= 400) {
            String message;
            try {
                JsonNode error = JSON.readTree(answer.body()).path("error");
                message = error.path("message").asText("") + " (HTTP " + answer.status() + " " + error.path("type").asText("") + ")";
            } catch (IOException e) {
                message = "HTTP " + answer.status();
            }
            throw new Failure(message);
        }
        return answer;
    }
}
