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
import com.openai.errors.RateLimitException;
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
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A key's hard spend cap through the whole node: set over the admin API, taken as a reservation at admission, so a
 * hundred concurrent requests against a daily cap that affords ten worst cases never spend past it; the refusal is
 * the surface's own (the official SDKs raise their usual exceptions); and a restart restores what was spent.
 */
class SpendCapTest {
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
        node = AdminTestNode.start(sim, dir, configKey);
    }

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
        sim.close();
    }

    private JsonNode admin(String method, String path, String body, int status, String... headers) throws Exception {
        return AdminTestNode.admin(http, node, method, path, body, status, headers);
    }

    private HttpRequest chat(String key, String prompt) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/v1/chat/completions")).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"gpt-4o-mini\",\"max_tokens\":200,\"messages\":[{\"role\":\"user\",\"content\":\""
                        + prompt + "\"}]}")).build();
    }

    @Test
    void aHundredConcurrentRequestsNeverSpendPastADailyCapThatAffordsTen() throws Exception {
        long seed = Long.getLong("tollgate.seed", 20261127L);
        System.out.println("SpendCapTest seed=" + seed + " (rerun with -Dtollgate.seed=" + seed + ")");
        Random random = new Random(seed);
        admin("POST", "/admin/v1/accounts", "{\"id\":\"acme\"}", 201);
        admin("POST", "/admin/v1/accounts/acme/credits", "{\"amount_micros\":100000000}", 201, "Idempotency-Key", "fund");
        JsonNode issued = admin("POST", "/admin/v1/keys", "{\"account\":\"acme\",\"label\":\"ci\"}", 201);
        String secret = issued.path("key").asText();
        String keyPath = "/admin/v1/keys/" + issued.path("id").asText();
        assertThat(issued.path("limits").path("day_micros").isNull()).isTrue();

        // One request without a cap tells what a worst case holds for this prompt.
        HttpResponse<String> probe = http.send(chat(secret, "probe [sim:events=4]"), HttpResponse.BodyHandlers.ofString());
        assertThat(probe.statusCode()).isEqualTo(200);
        long worstCase = Long.parseLong(probe.headers().firstValue("x-tollgate-reserved-micros").orElseThrow());
        long spentBefore = admin("GET", "/admin/v1/accounts/acme", null, 200).path("debited_micros").asLong();
        long cap = spentBefore + 10 * worstCase;
        JsonNode patched = admin("PATCH", keyPath, "{\"limits\":{\"day_micros\":" + cap + ",\"month_micros\":" + 5 * cap + "}}", 200);
        assertThat(patched.path("limits").path("day_micros").asLong()).isEqualTo(cap);
        assertThat(patched.path("limits").path("total_micros").isNull()).isTrue();
        assertThat(patched.path("spend").path("day_micros").asLong()).isEqualTo(spentBefore);
        JsonNode audit = admin("GET", "/admin/v1/audit?limit=1", null, 200).path("data").get(0);
        assertThat(audit.path("action").asText()).isEqualTo("key.limits_set");
        assertThat(audit.path("limits").path("day_micros").asLong()).isEqualTo(cap);
        assertThat(audit.path("actor").asText()).isEqualTo("ops");

        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            // Answers of random length, all within the reservation: some spend most of their worst case, some little.
            answers.add(http.sendAsync(chat(secret, "probe [sim:events=" + (1 + random.nextInt(200)) + "]"), HttpResponse.BodyHandlers.ofString()));
        }
        int served = 0;
        int capped = 0;
        for (CompletableFuture<HttpResponse<String>> answer : answers) {
            HttpResponse<String> response = answer.get();
            if (response.statusCode() == 200) {
                served++;
            } else {
                assertThat(response.statusCode()).as(response.body()).isEqualTo(429);
                JsonNode error = JSON.readTree(response.body()).path("error");
                assertThat(error.path("type").asText()).isEqualTo("insufficient_quota");
                assertThat(error.path("code").asText()).isEqualTo("spend_cap_reached");
                assertThat(error.path("message").asText()).contains("daily spend cap");
                capped++;
            }
        }
        System.out.println("SpendCapTest: " + served + " served, " + capped + " refused at the cap; worst case " + worstCase + " micros, cap " + cap);
        assertThat(served).isGreaterThanOrEqualTo(10);
        assertThat(capped).isPositive();
        node.gateway().ledger().writer().awaitWritten();
        JsonNode account = admin("GET", "/admin/v1/accounts/acme", null, 200);
        JsonNode key = admin("GET", keyPath, null, 200);
        assertThat(account.path("reserved_micros").asLong()).isZero();
        assertThat(account.path("debited_micros").asLong()).isLessThanOrEqualTo(cap);
        assertThat(key.path("spend").path("day_micros").asLong()).isEqualTo(account.path("debited_micros").asLong());
        assertThat(key.path("spend").path("total_micros").asLong()).isEqualTo(account.path("debited_micros").asLong());

        // The balance endpoint shows the key holder its caps and what it used.
        HttpResponse<String> balance = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/tollgate/v1/balance"))
                .header("Authorization", "Bearer " + secret).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(JSON.readTree(balance.body()).path("limits").path("day_micros").asLong()).isEqualTo(cap);

        // Full: the official SDKs raise their usual exceptions, and retrying is pointless until the window resets.
        admin("PATCH", keyPath, "{\"limits\":{\"day_micros\":" + account.path("debited_micros").asLong() + "}}", 200);
        OpenAIClient openAi = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + node.port() + "/v1").apiKey(secret).maxRetries(0).build();
        AnthropicClient anthropic = AnthropicOkHttpClient.builder().baseUrl("http://127.0.0.1:" + node.port()).apiKey(secret).maxRetries(0).build();
        try {
            RateLimitException openAiError = catchThrowableOfType(RateLimitException.class, () -> openAi.chat().completions()
                    .create(ChatCompletionCreateParams.builder().model("gpt-4o-mini").addUserMessage("Hi").build()));
            assertThat(openAiError).isNotNull();
            assertThat(openAiError.code()).hasValue("spend_cap_reached");
            assertThat(openAiError.headers().values("x-should-retry")).containsExactly("false");
            com.anthropic.errors.BadRequestException anthropicError = catchThrowableOfType(com.anthropic.errors.BadRequestException.class,
                    () -> anthropic.messages().create(MessageCreateParams.builder().model("claude-haiku-4-5").maxTokens(10).addUserMessage("Hi").build()));
            assertThat(anthropicError).isNotNull();
            assertThat(anthropicError.errorType()).hasValue(ErrorType.INVALID_REQUEST_ERROR);
            assertThat(anthropicError.apiMessage()).hasValueSatisfying(message -> assertThat(message).contains("spend cap"));
        } finally {
            openAi.close();
            anthropic.close();
        }

        // A restart restores the caps and what the key spent today, from the journal.
        long debited = account.path("debited_micros").asLong();
        node.close();
        node = null;
        node = AdminTestNode.start(sim, dir, configKey);
        JsonNode restarted = admin("GET", keyPath, null, 200);
        assertThat(restarted.path("limits").path("day_micros").asLong()).isEqualTo(debited);
        assertThat(restarted.path("spend").path("day_micros").asLong()).isEqualTo(debited);
        assertThat(restarted.path("spend").path("month_micros").asLong()).isEqualTo(debited);
        assertThat(http.send(chat(secret, "after the restart"), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(429);
        admin("PATCH", keyPath, "{\"limits\":{\"day_micros\":null}}", 200);
        assertThat(http.send(chat(secret, "uncapped by day [sim:events=3]"), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
    }
}
