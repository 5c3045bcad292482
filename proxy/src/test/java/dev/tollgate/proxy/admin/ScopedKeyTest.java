package dev.tollgate.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.models.ErrorType;
import com.anthropic.models.messages.MessageCreateParams;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.PermissionDeniedException;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.proxy.TollgateNode;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A key's scope over real HTTP: allowed models (403, PermissionDenied in both SDKs), client networks (403), expiry and
 * a rotated-out secret (401), the model list filtered per key, label and tags changed live by PATCH, a rotation with a
 * grace period cut short by a later one, a mistyped key told apart by its checksum; all journaled with their author and kept across a restart.
 */
class ScopedKeyTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private SimulatedProvider sim;
    private TollgateNode node;
    private final String configKey = ApiKeys.newRawKey(new SecureRandom());
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeEach
    void start() throws Exception {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
        node = startNode();
    }

    /** A node with two lanes, so a key's lane tag names a declared lane. */
    private TollgateNode startNode() throws InterruptedException {
        return AdminTestNode.start(AdminTestNode.config(sim, dir, configKey, new dev.tollgate.config.ListenerConfig("127.0.0.1", 0))
                .withLanes(List.of(dev.tollgate.config.LaneConfig.of("interactive", 64, 0, 1_000), dev.tollgate.config.LaneConfig.of("batch", 4, 16, 1_000))));
    }

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
        sim.close();
    }

    private HttpResponse<String> admin(String method, String path, String body) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.adminPort() + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + AdminTestNode.WRITE_TOKEN).header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode admin(String method, String path, String body, int status) throws Exception {
        return AdminTestNode.admin(http, node, method, path, body, status);
    }

    private HttpResponse<String> chat(String key, String model) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/v1/chat/completions")).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(String key, String path, String header) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + path)).timeout(Duration.ofSeconds(30))
                .headers(header.equals("Authorization") ? new String[] {header, "Bearer " + key} : new String[] {header, key, "anthropic-version", "2023-06-01"})
                .GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode error(HttpResponse<String> response, int status) throws Exception {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        return JSON.readTree(response.body()).path("error");
    }

    private static List<String> ids(HttpResponse<String> models) throws Exception {
        assertThat(models.statusCode()).as(models.body()).isEqualTo(200);
        List<String> ids = new ArrayList<>();
        JSON.readTree(models.body()).path("data").forEach(model -> ids.add(model.path("id").asText()));
        return ids;
    }

    @Test
    void aKeyServesOnlyItsModelsFromItsNetworksUntilItExpires() throws Exception {
        admin("POST", "/admin/v1/accounts", "{\"id\":\"acme\"}", 201);
        HttpResponse<String> credit = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.adminPort() + "/admin/v1/accounts/acme/credits"))
                .header("Authorization", "Bearer " + AdminTestNode.WRITE_TOKEN).header("Idempotency-Key", "fund")
                .POST(HttpRequest.BodyPublishers.ofString("{\"amount_micros\":50000000}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(credit.statusCode()).isEqualTo(201);
        JsonNode issued = admin("POST", "/admin/v1/keys", """
                {"account": "acme", "label": "ci", "env": "staging", "lane": "interactive", "models": ["gpt-4o*", "claude-haiku-4-5"],
                 "expires_at": "2099-01-01T00:00:00Z", "networks": ["10.0.0.0/8"], "limits": {"day_micros": 2000000}}""", 201);
        String secret = issued.path("key").asText();
        assertThat(secret).matches("tg-[0-9A-Za-z]{49}");
        // A lane tag binds the key's requests to that lane, so it must name a declared one; nothing is issued otherwise.
        JsonNode undeclared = admin("POST", "/admin/v1/keys", "{\"account\": \"acme\", \"lane\": \"nightly\"}", 400).path("error");
        assertThat(undeclared.path("message").asText()).contains("no lane named \"nightly\"").contains("interactive, batch");
        String keyPath = "/admin/v1/keys/" + issued.path("id").asText();
        assertThat(issued.path("env").asText()).isEqualTo("staging");
        assertThat(issued.path("lane").asText()).isEqualTo("interactive");
        assertThat(issued.path("models").toString()).isEqualTo("[\"gpt-4o*\",\"claude-haiku-4-5\"]");
        assertThat(issued.path("expires_at").asText()).isEqualTo("2099-01-01T00:00:00Z");
        assertThat(issued.path("networks").toString()).isEqualTo("[\"10.0.0.0/8\"]");
        assertThat(issued.path("limits").path("day_micros").asLong()).isEqualTo(2_000_000);

        // From 127.0.0.1, which 10.0.0.0/8 does not hold: refused before anything else, in the surface's shape.
        JsonNode network = error(chat(secret, "gpt-4o-mini"), 403);
        assertThat(network.path("code").asText()).isEqualTo("network_not_allowed");
        assertThat(network.path("message").asText()).contains("10.0.0.0/8").doesNotContain(secret);
        admin("PATCH", keyPath, "{\"networks\": [\"127.0.0.0/8\", \"::1/128\"]}", 200);

        assertThat(chat(secret, "gpt-4o-mini").statusCode()).isEqualTo(200);
        JsonNode model = error(chat(secret, "gpt-4.1"), 403);
        assertThat(model.path("code").asText()).isEqualTo("model_not_allowed");
        assertThat(model.path("param").asText()).isEqualTo("model");
        assertThat(model.path("message").asText()).contains("gpt-4.1").contains("gpt-4o*");
        assertThat(ids(get(secret, "/v1/models", "Authorization"))).containsExactlyInAnyOrder("gpt-4o", "gpt-4o-mini");
        assertThat(ids(get(secret, "/v1/models", "x-api-key"))).as("the Anthropic surface lists the key's Claude models")
                .containsExactly("claude-haiku-4-5");
        assertThat(ids(get(configKey, "/v1/models", "Authorization"))).as("an unscoped key lists every model").contains("gpt-4.1", "gpt-5");

        OpenAIClient openAi = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + node.port() + "/v1").apiKey(secret).maxRetries(0).build();
        AnthropicClient anthropic = AnthropicOkHttpClient.builder().baseUrl("http://127.0.0.1:" + node.port()).apiKey(secret).maxRetries(0).build();
        try {
            PermissionDeniedException openAiError = catchThrowableOfType(PermissionDeniedException.class, () -> openAi.chat().completions()
                    .create(ChatCompletionCreateParams.builder().model("gpt-5").addUserMessage("Hi").build()));
            assertThat(openAiError).isNotNull();
            assertThat(openAiError.code()).hasValue("model_not_allowed");
            com.anthropic.errors.PermissionDeniedException anthropicError = catchThrowableOfType(com.anthropic.errors.PermissionDeniedException.class,
                    () -> anthropic.messages().create(MessageCreateParams.builder().model("claude-sonnet-4-5").maxTokens(10).addUserMessage("Hi").build()));
            assertThat(anthropicError).isNotNull();
            assertThat(anthropicError.errorType()).hasValue(ErrorType.PERMISSION_ERROR);
            assertThat(anthropic.messages().create(MessageCreateParams.builder().model("claude-haiku-4-5").maxTokens(10).addUserMessage("Hi").build())
                    .content()).isNotEmpty();
        } finally {
            openAi.close();
            anthropic.close();
        }

        // A label and tags change live, each change journaled with the token that made it.
        JsonNode renamed = admin("PATCH", keyPath, "{\"label\": \"ci-nightly\", \"env\": \"batch\", \"models\": null, \"note\": \"widen\"}", 200);
        assertThat(renamed.path("label").asText()).isEqualTo("ci-nightly");
        assertThat(renamed.path("env").asText()).isEqualTo("batch");
        assertThat(renamed.path("models").isNull()).isTrue();
        assertThat(renamed.path("limits").path("day_micros").asLong()).as("a scope change keeps the caps").isEqualTo(2_000_000);
        assertThat(chat(secret, "gpt-4.1").statusCode()).isEqualTo(200);
        JsonNode audit = admin("GET", "/admin/v1/audit?limit=1", null, 200).path("data").get(0);
        assertThat(audit.path("action").asText()).isEqualTo("key.changed");
        assertThat(audit.path("actor").asText()).isEqualTo("ops");
        assertThat(audit.path("note").asText()).isEqualTo("widen");
        assertThat(audit.path("label").asText()).isEqualTo("ci-nightly");

        // An expiry in the past stops the key at once; clearing it brings it back.
        JsonNode expired = admin("PATCH", keyPath, "{\"expires_at\": \"2020-01-01T00:00:00Z\"}", 200);
        assertThat(expired.path("status").asText()).isEqualTo("expired");
        JsonNode refused = error(chat(secret, "gpt-4o-mini"), 401);
        assertThat(refused.path("code").asText()).isEqualTo("invalid_api_key");
        assertThat(refused.path("message").asText()).contains("expired at 2020-01-01T00:00:00Z");
        admin("PATCH", keyPath, "{\"expires_at\": null}", 200);
        assertThat(chat(secret, "gpt-4o-mini").statusCode()).isEqualTo(200);

        // Bad scopes are refused, naming the field, and change nothing.
        for (String bad : new String[] {"{\"models\": []}", "{\"models\": [\"gpt*4\"]}", "{\"networks\": [\"example.com/8\"]}",
                "{\"networks\": \"10.0.0.0/8\"}", "{\"expires_at\": \"tomorrow\"}", "{\"expires_at\": 5}", "{\"env\": \"Prod\"}",
                "{\"lane\": 3}", "{\"label\": \"\"}", "{\"colour\": \"red\"}"}) {
            JsonNode badError = JSON.readTree(admin("PATCH", keyPath, bad).body()).path("error");
            assertThat(badError.path("type").asText()).as(bad).isEqualTo("invalid_request_error");
        }
        JsonNode unchanged = admin("GET", keyPath, null, 200);
        assertThat(unchanged.path("label").asText()).isEqualTo("ci-nightly");
        assertThat(unchanged.path("networks").toString()).isEqualTo("[\"127.0.0.0/8\",\"0:0:0:0:0:0:0:1/128\"]");

        // Everything survives a restart: the journal holds it.
        node.close();
        node = startNode();
        JsonNode restarted = admin("GET", keyPath, null, 200);
        for (String field : new String[] {"label", "env", "lane", "models", "expires_at", "networks", "limits", "status"}) {
            assertThat(restarted.path(field)).as(field).isEqualTo(unchanged.path(field));
        }
        assertThat(chat(secret, "gpt-4.1").statusCode()).isEqualTo(200);
    }

    @Test
    void aRotatedKeysOldSecretWorksForItsGracePeriodOnlyAndATypoIsToldApart() throws Exception {
        JsonNode issued = admin("POST", "/admin/v1/keys", "{\"account\": \"bootstrap\", \"label\": \"svc\", \"limits\": {\"total_micros\": 900000}}", 201);
        String first = issued.path("key").asText();
        String keyPath = "/admin/v1/keys/" + issued.path("id").asText();
        assertThat(chat(first, "gpt-4o-mini").statusCode()).isEqualTo(200);

        JsonNode rotated = admin("POST", keyPath + "/rotate", "{\"grace_period_seconds\": 3600, \"note\": \"yearly\"}", 200);
        String second = rotated.path("key").asText();
        assertThat(second).isNotEqualTo(first).matches("tg-[0-9A-Za-z]{49}");
        assertThat(rotated.path("id").asText()).as("the key keeps its id").isEqualTo(issued.path("id").asText());
        assertThat(rotated.path("prefix").asText()).isEqualTo(second.substring(0, 7) + "...");
        assertThat(rotated.path("previous_secrets").size()).isEqualTo(1);
        assertThat(rotated.path("limits").path("total_micros").asLong()).as("caps stay with the key").isEqualTo(900_000);
        assertThat(admin("GET", keyPath, null, 200).has("key")).as("the secret is never shown again").isFalse();
        assertThat(chat(second, "gpt-4o-mini").statusCode()).isEqualTo(200);
        assertThat(chat(first, "gpt-4o-mini").statusCode()).as("within the grace period").isEqualTo(200);
        JsonNode spend = admin("GET", keyPath, null, 200).path("spend");
        assertThat(spend.path("total_micros").asLong()).as("both secrets spend through the one key's windows").isPositive();

        JsonNode again = admin("POST", keyPath + "/rotate", "{}", 200);
        String third = again.path("key").asText();
        JsonNode cut = error(chat(second, "gpt-4o-mini"), 401);
        assertThat(cut.path("message").asText()).contains("replaced by a new one");
        // A rotation without grace (a leak) ends every older secret now, however long its own grace had been.
        assertThat(again.path("previous_secrets").size()).as(again.toString()).isZero();
        assertThat(error(chat(first, "gpt-4o-mini"), 401).path("message").asText()).doesNotContain("checksum");
        assertThat(chat(third, "gpt-4o-mini").statusCode()).isEqualTo(200);
        JsonNode audit = admin("GET", "/admin/v1/audit?limit=2", null, 200).path("data");
        assertThat(audit.get(0).path("action").asText()).isEqualTo("key.rotated");
        assertThat(audit.get(1).path("note").asText()).isEqualTo("yearly");

        // One character changed: the checksum says so, without a lookup; a revoked key has a sound checksum.
        char last = third.charAt(third.length() - 1);
        String typo = third.substring(0, third.length() - 1) + (last == 'a' ? 'b' : 'a');
        assertThat(error(chat(typo, "gpt-4o-mini"), 401).path("message").asText()).contains("checksum");

        node.close();
        node = startNode();
        assertThat(chat(third, "gpt-4o-mini").statusCode()).isEqualTo(200);
        assertThat(chat(first, "gpt-4o-mini").statusCode()).as("replayed from the journal, the first secret's end is still capped").isEqualTo(401);
        assertThat(chat(second, "gpt-4o-mini").statusCode()).isEqualTo(401);

        admin("POST", keyPath + "/revoke", null, 200);
        for (String secret : new String[] {first, third}) {
            JsonNode revoked = error(chat(secret, "gpt-4o-mini"), 401);
            assertThat(revoked.path("message").asText()).doesNotContain("checksum");
        }
        assertThat(error(admin("POST", keyPath + "/rotate", "{}"), 409).path("message").asText()).contains("revoked");

        JsonNode configKeyRecord = null;
        for (JsonNode key : admin("GET", "/admin/v1/keys?account=bootstrap", null, 200).path("data")) {
            if (key.path("source").asText().equals("config")) {
                configKeyRecord = key;
            }
        }
        assertThat(configKeyRecord).isNotNull();
        assertThat(error(admin("POST", "/admin/v1/keys/" + configKeyRecord.path("id").asText() + "/rotate", "{}"), 409).path("message").asText())
                .contains("configuration");
        JsonNode fresh = admin("POST", "/admin/v1/keys", "{\"account\": \"bootstrap\"}", 201);
        for (String bad : new String[] {"{\"grace_period_seconds\": -1}", "{\"grace_period_seconds\": 2592001}", "{\"grace_period_seconds\": \"1h\"}"}) {
            assertThat(error(admin("POST", "/admin/v1/keys/" + fresh.path("id").asText() + "/rotate", bad), 400).path("message").asText())
                    .as(bad).contains("grace_period_seconds");
        }
    }
}
