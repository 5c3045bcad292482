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
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rate limits per key and per account over real HTTP: requests per minute with the surfaces' own headers, a 429 with
 * retry-after that the official SDKs raise as their rate-limit exception, concurrency, a request bigger than the whole
 * token allowance, an account's limit shared by its keys under concurrency, limits kept across a restart, and the
 * provider's own rate-limit headers never reaching the client.
 */
class RateLimitTest {
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

    private JsonNode admin(String method, String path, String body, int status) throws Exception {
        return AdminTestNode.admin(http, node, method, path, body, status);
    }

    private HttpRequest chat(String key, String prompt, int maxTokens) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/v1/chat/completions")).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"gpt-4o-mini\",\"max_tokens\":" + maxTokens
                        + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}")).build();
    }

    private HttpResponse<String> send(HttpRequest request) throws Exception {
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private String issue(String account, String limits) throws Exception {
        return admin("POST", "/admin/v1/keys", "{\"account\":\"" + account + "\",\"limits\":" + limits + "}", 201).path("key").asText();
    }

    @Test
    void aKeysRequestsPerMinuteAreCountedInTheSurfacesHeadersAndRefusedWithRetryAfter() throws Exception {
        String secret = issue("bootstrap", "{\"rpm\": 3, \"tpm\": 100000}");
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> answer = send(chat(secret, "Hi [sim:events=3]", 50));
            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
            assertThat(answer.headers().firstValue("x-ratelimit-limit-requests")).hasValue("3");
            assertThat(answer.headers().firstValue("x-ratelimit-remaining-requests")).hasValue(String.valueOf(2 - i));
            assertThat(answer.headers().firstValue("x-ratelimit-reset-requests").orElseThrow()).matches("\\d+(ms|s)|\\d+m\\d+s");
            assertThat(answer.headers().firstValue("x-ratelimit-limit-tokens")).hasValue("100000");
            assertThat(Long.parseLong(answer.headers().firstValue("x-ratelimit-remaining-tokens").orElseThrow())).isBetween(0L, 100_000L);
        }
        HttpResponse<String> refused = send(chat(secret, "Hi", 50));
        assertThat(refused.statusCode()).as(refused.body()).isEqualTo(429);
        JsonNode error = JSON.readTree(refused.body()).path("error");
        assertThat(error.path("code").asText()).isEqualTo("rate_limit_exceeded");
        assertThat(error.path("type").asText()).isEqualTo("requests");
        assertThat(error.path("message").asText()).contains("3 requests per minute");
        long retryAfter = Long.parseLong(refused.headers().firstValue("retry-after").orElseThrow());
        assertThat(retryAfter).isBetween(1L, 60L);
        assertThat(refused.headers().firstValue("x-ratelimit-remaining-requests")).hasValue("0");
        assertThat(refused.headers().firstValue("x-should-retry")).isEmpty();

        OpenAIClient openAi = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + node.port() + "/v1").apiKey(secret).maxRetries(0).build();
        AnthropicClient anthropic = AnthropicOkHttpClient.builder().baseUrl("http://127.0.0.1:" + node.port()).apiKey(secret).maxRetries(0).build();
        try {
            RateLimitException openAiError = catchThrowableOfType(RateLimitException.class, () -> openAi.chat().completions()
                    .create(ChatCompletionCreateParams.builder().model("gpt-4o-mini").addUserMessage("Hi").build()));
            assertThat(openAiError).isNotNull();
            assertThat(openAiError.code()).hasValue("rate_limit_exceeded");
            com.anthropic.errors.RateLimitException anthropicError = catchThrowableOfType(com.anthropic.errors.RateLimitException.class,
                    () -> anthropic.messages().create(MessageCreateParams.builder().model("claude-haiku-4-5").maxTokens(10).addUserMessage("Hi").build()));
            assertThat(anthropicError).isNotNull();
            assertThat(anthropicError.errorType()).hasValue(ErrorType.RATE_LIMIT_ERROR);
            assertThat(anthropicError.headers().values("anthropic-ratelimit-requests-limit")).containsExactly("3");
            assertThat(anthropicError.headers().values("anthropic-ratelimit-requests-reset").get(0)).endsWith("Z");
        } finally {
            openAi.close();
            anthropic.close();
        }

        // Limits are journaled with their author and come back after a restart; null clears one.
        JsonNode key = admin("GET", "/admin/v1/keys?account=bootstrap", null, 200).path("data");
        String keyId = null;
        for (JsonNode each : key) {
            if (each.path("limits").path("rpm").asLong() == 3) {
                keyId = each.path("id").asText();
            }
        }
        assertThat(keyId).isNotNull();
        assertThat(admin("GET", "/admin/v1/audit?limit=1", null, 200).path("data").get(0).path("action").asText()).isEqualTo("key.rate_limits_set");
        node.close();
        node = AdminTestNode.start(sim, dir, configKey);
        JsonNode restarted = admin("GET", "/admin/v1/keys/" + keyId, null, 200).path("limits");
        assertThat(restarted.path("rpm").asLong()).isEqualTo(3);
        assertThat(restarted.path("tpm").asLong()).isEqualTo(100_000);
        assertThat(restarted.path("concurrency").isNull()).isTrue();
        admin("PATCH", "/admin/v1/keys/" + keyId, "{\"limits\": {\"rpm\": null}}", 200);
        HttpResponse<String> unlimited = send(chat(secret, "Hi", 50));
        assertThat(unlimited.statusCode()).isEqualTo(200);
        assertThat(unlimited.headers().firstValue("x-ratelimit-limit-requests")).isEmpty();
        assertThat(unlimited.headers().firstValue("x-ratelimit-limit-tokens")).hasValue("100000");

        for (String bad : new String[] {"{\"limits\": {\"rpm\": 0}}", "{\"limits\": {\"tpm\": \"many\"}}", "{\"limits\": {\"concurrency\": 1.5}}"}) {
            assertThat(admin("PATCH", "/admin/v1/keys/" + keyId, bad, 400).path("error").path("message").asText()).as(bad).contains("limits.");
        }
    }

    @Test
    void concurrencyAndTheTokenAllowanceRefuseWhatTheyMust() throws Exception {
        String secret = issue("bootstrap", "{\"concurrency\": 2, \"tpm\": 1000}");
        List<CompletableFuture<HttpResponse<String>>> held = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            held.add(http.sendAsync(chat(secret, "slow [sim:first-byte-ms=3000]", 100), HttpResponse.BodyHandlers.ofString()));
        }
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (sim.requestsReceived() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(sim.requestsReceived()).as("both held requests reached the provider").isEqualTo(2);
        HttpResponse<String> third = send(chat(secret, "a third at once", 100));
        assertThat(third.statusCode()).as(third.body()).isEqualTo(429);
        assertThat(JSON.readTree(third.body()).path("error").path("message").asText()).contains("2 requests at once");
        for (CompletableFuture<HttpResponse<String>> answer : held) {
            assertThat(answer.get().statusCode()).isEqualTo(200);
        }
        // Held tokens come back at settlement: what the two used, not their worst case, stays charged.
        assertThat(send(chat(secret, "after them [sim:events=2]", 100)).statusCode()).isEqualTo(200);

        HttpResponse<String> tooBig = send(chat(secret, "huge", 4000));
        assertThat(tooBig.statusCode()).isEqualTo(429);
        assertThat(JSON.readTree(tooBig.body()).path("error").path("message").asText()).contains("more than this key's limit of 1000 tokens");
        assertThat(tooBig.headers().firstValue("x-should-retry")).as("no wait admits it").hasValue("false");
        assertThat(tooBig.headers().firstValue("retry-after")).isEmpty();
    }

    private static final String[] OPENAI_REQUESTS_HEADERS = {"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"};
    private static final String[] ANTHROPIC_REQUESTS_HEADERS = {"anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
            "anthropic-ratelimit-requests-reset"};

    /** OpenAI's chat or Anthropic's messages at {@code base}, streamed or not. */
    private static HttpRequest generate(String base, boolean anthropic, boolean stream, String key, String prompt) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + (anthropic ? "/v1/messages" : "/v1/chat/completions")))
                .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json");
        if (anthropic) {
            request.header("x-api-key", key).header("anthropic-version", "2023-06-01");
        } else {
            request.header("Authorization", "Bearer " + key);
        }
        String model = anthropic ? "claude-haiku-4-5" : "gpt-4o-mini";
        return request.POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"max_tokens\":20,\"stream\":" + stream
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}")).build();
    }

    /** Every rate-limit header of either surface in the answer, by lower-case name. */
    private static Map<String, String> rateLimitHeaders(HttpResponse<String> response) {
        Map<String, String> found = new TreeMap<>();
        response.headers().map().forEach((name, values) -> {
            String lower = name.toLowerCase(Locale.ROOT);
            if (lower.startsWith("x-ratelimit-") || lower.startsWith("anthropic-ratelimit-")) {
                found.put(lower, String.join(",", values));
            }
        });
        return found;
    }

    /**
     * The provider's rate-limit headers describe Tollgate's own account at the provider, not the client's key: on JSON and
     * streamed answers of both surfaces, and on the provider's 429 passed through, the client gets Tollgate's headers or none.
     */
    @Test
    void theProvidersRateLimitHeadersNeverReachTheClient() throws Exception {
        String proxy = "http://127.0.0.1:" + node.port();
        String requestsOnly = issue("bootstrap", "{\"rpm\": 50}");
        for (boolean anthropic : new boolean[] {false, true}) {
            String[] tollgates = anthropic ? ANTHROPIC_REQUESTS_HEADERS : OPENAI_REQUESTS_HEADERS;
            for (boolean stream : new boolean[] {false, true}) {
                String what = (anthropic ? "messages" : "chat") + (stream ? " streamed" : "");
                // Or this test would prove nothing.
                Map<String, String> providers = rateLimitHeaders(send(generate(sim.rootUrl(), anthropic, stream, "sk-direct", "Hi [sim:events=3]")));
                assertThat(providers).as("the simulator's own, " + what).containsKeys(tollgates).hasSizeGreaterThan(tollgates.length);

                HttpResponse<String> unlimited = send(generate(proxy, anthropic, stream, configKey, "Hi [sim:events=3]"));
                assertThat(unlimited.statusCode()).as(unlimited.body()).isEqualTo(200);
                assertThat(rateLimitHeaders(unlimited)).as("a key without limits, " + what).isEmpty();

                HttpResponse<String> limited = send(generate(proxy, anthropic, stream, requestsOnly, "Hi [sim:events=3]"));
                assertThat(limited.statusCode()).as(limited.body()).isEqualTo(200);
                Map<String, String> headers = rateLimitHeaders(limited);
                assertThat(headers.keySet()).as("a key with a limit of requests only, " + what).containsExactlyInAnyOrder(tollgates);
                assertThat(headers.get(tollgates[0])).isEqualTo("50");
            }
            // Tollgate forwards the client's retry to the same account at the provider, so the provider's wait is the client's.
            HttpResponse<String> refused = send(generate(proxy, anthropic, false, configKey, "[sim:error=429]"));
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(429);
            assertThat(refused.headers().firstValue("retry-after")).hasValue("1");
            assertThat(rateLimitHeaders(refused)).isEmpty();
            HttpResponse<String> refusedLimited = send(generate(proxy, anthropic, false, requestsOnly, "[sim:error=429]"));
            assertThat(refusedLimited.statusCode()).as(refusedLimited.body()).isEqualTo(429);
            assertThat(refusedLimited.headers().firstValue("retry-after")).hasValue("1");
            assertThat(rateLimitHeaders(refusedLimited).keySet()).containsExactlyInAnyOrder(tollgates);
        }
    }

    @Test
    void requestsRefusedBeforeGoingUpstreamDoNotCountButOnesThatFailedUpstreamDo() throws Exception {
        admin("POST", "/admin/v1/accounts", "{\"id\":\"thin\"}", 201);
        String secret = issue("thin", "{\"rpm\": 2}");
        for (int i = 0; i < 4; i++) {
            // The OpenAI surface answers a low balance as OpenAI does, 429 insufficient_quota: only the code tells it from a rate limit.
            HttpResponse<String> refused = send(chat(secret, "Hi", 50));
            assertThat(JSON.readTree(refused.body()).path("error").path("code").asText()).as("unfunded request %d: %s", i, refused.body())
                    .isEqualTo("insufficient_quota");
        }
        HttpResponse<String> credit = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.adminPort() + "/admin/v1/accounts/thin/credits"))
                .header("Authorization", "Bearer " + AdminTestNode.WRITE_TOKEN).header("Idempotency-Key", "fund")
                .POST(HttpRequest.BodyPublishers.ofString("{\"amount_micros\":50000000}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(credit.statusCode()).as(credit.body()).isEqualTo(201);
        for (int i = 0; i < 2; i++) {
            HttpResponse<String> served = send(chat(secret, "Hi [sim:events=2]", 50));
            assertThat(served.statusCode()).as("funded request %d after the refusals: %s", i, served.body()).isEqualTo(200);
        }
        HttpResponse<String> third = send(chat(secret, "Hi", 50));
        assertThat(JSON.readTree(third.body()).path("error").path("code").asText()).as("the two served used the minute's requests: %s", third.body())
                .isEqualTo("rate_limit_exceeded");

        // The provider saw this one, so it counts although it failed.
        String other = issue("thin", "{\"rpm\": 2}");
        HttpResponse<String> failed = send(chat(other, "Hi [sim:error=500]", 50));
        assertThat(failed.statusCode()).as(failed.body()).isNotIn(200, 429);
        assertThat(send(chat(other, "Hi [sim:events=2]", 50)).statusCode()).isEqualTo(200);
        HttpResponse<String> limited = send(chat(other, "Hi", 50));
        assertThat(JSON.readTree(limited.body()).path("error").path("code").asText()).as(limited.body()).isEqualTo("rate_limit_exceeded");
    }

    /** Seeded: keys of one account racing for its shared limit of requests per minute never pass it together. */
    @Test
    void anAccountsLimitIsSharedByItsKeysUnderConcurrency() throws Exception {
        long seed = Long.getLong("tollgate.seed", 20261127L);
        System.out.println("RateLimitTest seed=" + seed + " (rerun with -Dtollgate.seed=" + seed + ")");
        Random random = new Random(seed);
        int rpm = 5 + random.nextInt(20);
        admin("POST", "/admin/v1/accounts", "{\"id\":\"acme\"}", 201);
        http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.adminPort() + "/admin/v1/accounts/acme/credits"))
                .header("Authorization", "Bearer " + AdminTestNode.WRITE_TOKEN).header("Idempotency-Key", "fund")
                .POST(HttpRequest.BodyPublishers.ofString("{\"amount_micros\":50000000}")).build(), HttpResponse.BodyHandlers.ofString());
        JsonNode account = admin("PATCH", "/admin/v1/accounts/acme", "{\"limits\": {\"rpm\": " + rpm + "}, \"note\": \"shared\"}", 200);
        assertThat(account.path("limits").path("rpm").asLong()).isEqualTo(rpm);
        List<String> secrets = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            secrets.add(admin("POST", "/admin/v1/keys", "{\"account\":\"acme\"}", 201).path("key").asText());
        }
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        int sent = rpm + 10 + random.nextInt(20);
        for (int i = 0; i < sent; i++) {
            answers.add(http.sendAsync(chat(secrets.get(random.nextInt(secrets.size())), "Hi [sim:events=" + (1 + random.nextInt(5)) + "]", 20),
                    HttpResponse.BodyHandlers.ofString()));
        }
        int served = 0;
        for (CompletableFuture<HttpResponse<String>> answer : answers) {
            HttpResponse<String> response = answer.get();
            if (response.statusCode() == 200) {
                served++;
            } else {
                assertThat(response.statusCode()).as(response.body()).isEqualTo(429);
                assertThat(JSON.readTree(response.body()).path("error").path("message").asText()).startsWith("Your account's rate limit");
            }
        }
        assertThat(served).as("%d sent against an account limit of %d a minute", sent, rpm).isLessThanOrEqualTo(rpm).isPositive();
        assertThat(admin("GET", "/admin/v1/audit?limit=4", null, 200).path("data").findValuesAsText("action")).contains("account.rate_limits_set");
        node.close();
        node = AdminTestNode.start(sim, dir, configKey);
        assertThat(admin("GET", "/admin/v1/accounts/acme", null, 200).path("limits").path("rpm").asLong()).isEqualTo(rpm);
        assertThat(admin("PATCH", "/admin/v1/accounts/acme", "{\"limits\": {\"day_micros\": 5}}", 400).path("error").path("message").asText())
                .contains("unknown field day_micros");
    }
}
