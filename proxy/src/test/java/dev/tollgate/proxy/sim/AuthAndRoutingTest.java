package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import static dev.tollgate.proxy.sim.SimTestSupport.chat;
import static dev.tollgate.proxy.sim.SimTestSupport.messages;
import static dev.tollgate.proxy.sim.SimTestSupport.parse;
import static dev.tollgate.proxy.sim.SimTestSupport.send;
import static org.assertj.core.api.Assertions.assertThat;

/** Keys, unknown paths, malformed bodies and the request record, against a provider that requires one key. */
class AuthAndRoutingTest {

    private static final String REQUIRED_KEY = "sk-the-only-key";
    private static SimulatedProvider sim;

    @BeforeAll
    static void start() {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults().withRequiredApiKey(REQUIRED_KEY));
    }

    @AfterAll
    static void stop() {
        sim.close();
    }

    private static HttpRequest.Builder post(String path, String body) {
        return HttpRequest.newBuilder(URI.create(sim.baseUrl() + path))
                .timeout(Duration.ofSeconds(10))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
    }

    @Test
    void openAiPathsAcceptTheRequiredBearerKey() {
        var response = send(post("/chat/completions", chat("gpt-4o", "[sim:events=1]").toString())
                .header("authorization", "Bearer " + REQUIRED_KEY));
        assertThat(response.statusCode()).isEqualTo(200);
    }

    @Test
    void openAiMissingKeyIs401InOpenAiShape() {
        HttpResponse<String> response = send(post("/chat/completions", chat("gpt-4o", "hi").toString()));
        assertThat(response.statusCode()).isEqualTo(401);
        assertThat(response.headers().firstValue("x-request-id")).isPresent();
        JsonNode error = parse(response.body()).get("error");
        assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.get("message").asText()).contains("API key");
        assertThat(error.get("param").isNull()).isTrue();
        assertThat(error.get("code").isNull()).isTrue();
    }

    @Test
    void openAiWrongKeyIs401InvalidApiKey() {
        HttpResponse<String> response = send(post("/embeddings", "{\"model\":\"m\",\"input\":\"x\"}")
                .header("authorization", "Bearer sk-wrong"));
        assertThat(response.statusCode()).isEqualTo(401);
        assertThat(parse(response.body()).get("error").get("code").asText()).isEqualTo("invalid_api_key");
    }

    @Test
    void anthropicPathsTakeXApiKeyOrBearerAndAnswerInAnthropicShape() {
        String body = messages("claude-haiku-4-5", "hi", 5).toString();
        HttpResponse<String> missing = send(post("/messages", body).header("anthropic-version", "2023-06-01"));
        assertThat(missing.statusCode()).isEqualTo(401);
        JsonNode error = parse(missing.body());
        assertThat(error.get("type").asText()).isEqualTo("error");
        assertThat(error.get("error").get("type").asText()).isEqualTo("authentication_error");
        assertThat(error.get("request_id").asText()).startsWith("req_");
        assertThat(missing.headers().firstValue("request-id")).hasValue(error.get("request_id").asText());

        HttpResponse<String> wrong = send(post("/messages", body).header("x-api-key", "nope"));
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(parse(wrong.body()).get("error").get("type").asText()).isEqualTo("authentication_error");

        HttpResponse<String> right = send(post("/messages", body).header("x-api-key", REQUIRED_KEY)
                .header("anthropic-version", "2023-06-01"));
        assertThat(right.statusCode()).isEqualTo(200);

        // anthropic-java 3.x sends its API key as a bearer token.
        HttpResponse<String> bearer = send(post("/messages", body).header("authorization", "Bearer " + REQUIRED_KEY));
        assertThat(bearer.statusCode()).isEqualTo(200);
        HttpResponse<String> wrongBearer = send(post("/messages/count_tokens", body).header("authorization", "Bearer nope"));
        assertThat(wrongBearer.statusCode()).isEqualTo(401);
        assertThat(parse(wrongBearer.body()).get("error").get("type").asText()).isEqualTo("authentication_error");
    }

    @Test
    void unknownPathIs404InOpenAiShape() {
        HttpResponse<String> response = send(post("/nowhere", "{}").header("authorization", "Bearer " + REQUIRED_KEY));
        assertThat(response.statusCode()).isEqualTo(404);
        JsonNode error = parse(response.body()).get("error");
        assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.get("message").asText()).contains("/v1/nowhere");
    }

    @Test
    void malformedJsonIs400InEachProvidersShape() {
        HttpResponse<String> openAi = send(post("/chat/completions", "{\"model\": ")
                .header("authorization", "Bearer " + REQUIRED_KEY));
        assertThat(openAi.statusCode()).isEqualTo(400);
        assertThat(parse(openAi.body()).get("error").get("type").asText()).isEqualTo("invalid_request_error");

        HttpResponse<String> anthropic = send(post("/messages", "not json").header("x-api-key", REQUIRED_KEY));
        assertThat(anthropic.statusCode()).isEqualTo(400);
        JsonNode error = parse(anthropic.body());
        assertThat(error.get("type").asText()).isEqualTo("error");
        assertThat(error.get("error").get("type").asText()).isEqualTo("invalid_request_error");

        HttpResponse<String> trailing = send(post("/chat/completions", "{} {}")
                .header("authorization", "Bearer " + REQUIRED_KEY));
        assertThat(trailing.statusCode()).isEqualTo(400);
    }

    @Test
    void requestsAreRecordedWithLowerCaseHeaders() {
        long before = sim.requestsReceived();
        String body = chat("gpt-4o", "record me [sim:events=1]").toString();
        send(post("/chat/completions?trace=1", body).header("Authorization", "Bearer " + REQUIRED_KEY)
                .header("X-Custom-Thing", "yes"));
        assertThat(sim.requestsReceived()).isEqualTo(before + 1);
        RecordedRequest recorded = sim.recentRequests().getLast();
        assertThat(recorded.method()).isEqualTo("POST");
        assertThat(recorded.path()).isEqualTo("/v1/chat/completions?trace=1");
        assertThat(recorded.body()).isEqualTo(body);
        assertThat(recorded.headers()).containsKey("x-custom-thing").containsKey("authorization");
        assertThat(recorded.header("X-Custom-Thing")).isEqualTo("yes");
    }

    @Test
    void recentRequestsKeepsTheLast256() {
        try (SimulatedProvider own = SimulatedProvider.start(SimulatedProvider.Settings.defaults())) {
            var client = SimTestSupport.CLIENT;
            for (int i = 0; i < 300; i++) {
                send(client, HttpRequest.newBuilder(URI.create(own.baseUrl() + "/models"))
                        .header("authorization", "Bearer k").header("x-seq", Integer.toString(i)).GET().build());
            }
            assertThat(own.requestsReceived()).isEqualTo(300);
            assertThat(own.recentRequests()).hasSize(256);
            assertThat(own.recentRequests().getFirst().header("x-seq")).isEqualTo("44");
            assertThat(own.recentRequests().getLast().header("x-seq")).isEqualTo("299");
        }
    }

    @Test
    void settingsHaveDefaultsCopyHelpersAndChecks() {
        SimulatedProvider.Settings defaults = SimulatedProvider.Settings.defaults();
        assertThat(defaults).isEqualTo(new SimulatedProvider.Settings("127.0.0.1", 0, 0, 0, 24, null, null));
        assertThat(defaults.ioThreads()).isEqualTo(1);
        SimulatedProvider.Settings changed = defaults.withPort(8080).withFirstByteDelayMs(5).withInterEventDelayMs(6)
                .withDefaultEvents(7).withRequiredApiKey("k").withIoThreads(2).withHost("localhost");
        assertThat(changed).isEqualTo(new SimulatedProvider.Settings("localhost", 8080, 5, 6, 7, "k", null, 2));
        org.assertj.core.api.Assertions.assertThatIllegalArgumentException().isThrownBy(() -> defaults.withIoThreads(0));
        org.assertj.core.api.Assertions.assertThatIllegalArgumentException().isThrownBy(() -> defaults.withDefaultEvents(-1));
    }

    @Test
    void baseUrlNamesTheBoundPort() {
        assertThat(sim.port()).isPositive();
        assertThat(sim.baseUrl()).isEqualTo("http://127.0.0.1:" + sim.port() + "/v1");
        assertThat(sim.rootUrl()).isEqualTo("http://127.0.0.1:" + sim.port());
    }
}
