package dev.tollgate.proxy.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.ConfigLoader;
import dev.tollgate.config.Limits;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.ModelRow;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.proxy.Outcome;
import dev.tollgate.proxy.TestGateways;
import dev.tollgate.proxy.Transport;
import dev.tollgate.proxy.faults.InvariantChecker;
import dev.tollgate.proxy.listener.TollgateServer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tollgate in front of an OpenAI-compatible server that is not its simulator ({@link VllmLikeServer}, shaped like
 * vLLM), configured from YAML as an operator would: a provider {@code vllm} priced as {@code openai}, with its own key
 * and extra headers, one of them from the environment. Every request is billed exactly the server's usage, every
 * error passes back with the server's status and body and costs nothing, and the account is conserved.
 */
class OpenAiCompatibleProviderTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ModelRow MINI = CatalogLoader.loadBuiltin().find("openai", "gpt-4o-mini");
    private static final long OPENING_MICROS = 1_000_000;
    private static final String VLLM_KEY = "vllm-served-with-api-key-7f3a";
    private static final String GATEWAY_TOKEN = "gw-token-in-front-of-vllm-91c2";
    /** Six words: the server counts 8 (template) + 4 (message) + 6 = 18 prompt tokens. */
    private static final String PROMPT = "Say hello to the metering proxy";
    private static final long PROMPT_TOKENS = 18;
    /** Twelve words and the end-of-sequence token. */
    private static final long COMPLETION_TOKENS = 13;

    @TempDir
    Path dir;
    private VllmLikeServer vllm;
    private TestGateways test;
    private TollgateServer server;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeEach
    void start() throws Exception {
        vllm = VllmLikeServer.start("gpt-4o-mini", VLLM_KEY, 2048);
        String yaml = """
                listeners:
                  proxy: { host: 127.0.0.1, port: 0 }
                journal: { directory: journal }
                providers:
                  - name: vllm
                    protocol: openai
                    baseUrl: "%s"
                    apiKeyEnv: VLLM_API_KEY
                    pricesAs: openai
                    extraHeaders:
                      X-Tenant: acme-research
                    extraHeadersEnv:
                      X-Gateway-Token: VLLM_GATEWAY_TOKEN
                """.formatted(vllm.baseUrl());
        TollgateConfig config = ConfigLoader.load("tollgate.yaml", new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)), dir,
                Map.of("VLLM_API_KEY", VLLM_KEY, "VLLM_GATEWAY_TOKEN", GATEWAY_TOKEN)::get);
        test = new TestGateways(config.providers(), OPENING_MICROS, Limits.defaults());
        server = TollgateServer.start(test.gateway, new ListenerConfig("127.0.0.1", 0), 2, Transport.best());
    }

    @AfterEach
    void everyRequestEndedOnceAndTheAccountIsConserved() {
        try {
            InvariantChecker.check(test).assertHolds();
            long debited = test.gateway.accounts().balances().debitedMicros(test.slot());
            assertThat(test.available() + debited).as("balance + debits == the opening credit").isEqualTo(OPENING_MICROS);
            var account = test.replayJournal().account(TestGateways.ACCOUNT);
            assertThat(account.debitedMicros()).as("the journal rebuilds the debits").isEqualTo(debited);
            for (VllmLikeServer.Received request : vllm.received()) {
                assertThat(request.headers().toString() + request.body()).as("the client's Tollgate key never reaches the server")
                        .doesNotContain(test.key);
            }
        } finally {
            server.close();
            vllm.close();
            test.close();
        }
    }

    @Test
    void aJsonAnswerIsBilledExactlyTheServersUsageAndTheOperatorsHeadersAndKeyReachIt() throws Exception {
        HttpResponse<String> response = post(chat("gpt-4o-mini", PROMPT, false, ",\"max_tokens\":64"), "X-Tenant", "someone-else");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode body = JSON.readTree(response.body());
        assertThat(body.get("id").asText()).startsWith("chatcmpl-");
        assertThat(body.at("/choices/0/message/content").asText()).isEqualTo(VllmLikeServer.REPLY);
        assertThat(body.at("/usage/prompt_tokens").asLong()).isEqualTo(PROMPT_TOKENS);
        assertThat(body.at("/usage/completion_tokens").asLong()).isEqualTo(COMPLETION_TOKENS);
        assertThat(body.at("/usage/prompt_tokens_details").isNull()).as("vLLM's body reaches the client as it was").isTrue();
        assertThat(body.has("prompt_logprobs")).isTrue();

        Outcome outcome = awaitOutcomes(1).get(0);
        assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
        assertThat(outcome.provider()).as("the journal names the provider that served").isEqualTo("vllm");
        assertThat(outcome.usageReportedByProvider()).isTrue();
        assertThat(outcome.usage().inputTokens()).isEqualTo(PROMPT_TOKENS);
        assertThat(outcome.usage().outputTokens()).isEqualTo(COMPLETION_TOKENS);
        long expected = expectedCost(PROMPT_TOKENS, COMPLETION_TOKENS);
        assertThat(outcome.debitedMicros()).isEqualTo(expected);
        assertThat(test.available()).isEqualTo(OPENING_MICROS - expected);

        VllmLikeServer.Received upstream = vllm.received().get(0);
        assertThat(upstream.path()).isEqualTo("/v1/chat/completions");
        assertThat(upstream.header("X-Tenant")).as("the operator's header, not the client's").containsExactly("acme-research");
        assertThat(upstream.header("X-Gateway-Token")).as("from the environment").containsExactly(GATEWAY_TOKEN);
        assertThat(upstream.header("Authorization")).containsExactly("Bearer " + VLLM_KEY);

        ByteArrayOutputStream page = new ByteArrayOutputStream();
        test.gateway.metrics().writeTextFormat(page);
        assertThat(page.toString(StandardCharsets.UTF_8).lines().filter(line -> line.startsWith("tollgate_requests_total{")))
                .as("a model of the rows it prices as, not 'other'")
                .anySatisfy(line -> assertThat(line).contains("provider=\"vllm\"").contains("model=\"gpt-4o-mini\"").endsWith(" 1.0"));
    }

    @Test
    void aStreamWithUsageInEveryChunkIsBilledTheLastCountNotTheirSum() throws Exception {
        HttpResponse<String> response = post(chat("gpt-4o-mini", PROMPT, true,
                ",\"max_tokens\":64,\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":true}"));
        assertThat(response.statusCode()).isEqualTo(200);
        List<JsonNode> chunks = dataEvents(response.body());
        assertThat(chunks).hasSize(1 + 12 + 1 + 1).allSatisfy(chunk -> assertThat(chunk.has("usage")).isTrue());
        long summed = chunks.stream().mapToLong(chunk -> chunk.at("/usage/completion_tokens").asLong()).sum();
        assertThat(summed).as("what summing would bill: 0 + 1 + ... + 12 + 13 + 13").isEqualTo(104);
        assertThat(chunks.getLast().get("choices")).isEmpty();
        assertThat(response.body()).endsWith("data: [DONE]\n\n");

        Outcome outcome = awaitOutcomes(1).get(0);
        assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
        assertThat(outcome.usageReportedByProvider()).isTrue();
        assertThat(outcome.usage().inputTokens()).isEqualTo(PROMPT_TOKENS);
        assertThat(outcome.usage().outputTokens()).isEqualTo(COMPLETION_TOKENS);
        assertThat(outcome.debitedMicros()).isEqualTo(expectedCost(PROMPT_TOKENS, COMPLETION_TOKENS));
        assertThat(vllm.received().get(0).header("X-Tenant")).containsExactly("acme-research");
    }

    @Test
    void aStreamWhoseClientAskedNoUsageIsBilledFromTheUsageChunkTollgateAskedFor() throws Exception {
        HttpResponse<String> response = post(chat("gpt-4o-mini", PROMPT, true, ",\"max_tokens\":5"));
        assertThat(response.statusCode()).isEqualTo(200);
        List<JsonNode> chunks = dataEvents(response.body());
        assertThat(chunks).as("the role chunk and five words; the usage chunk is Tollgate's, not the client's").hasSize(6)
                .noneMatch(chunk -> chunk.has("usage"));
        assertThat(chunks.getLast().at("/choices/0/finish_reason").asText()).isEqualTo("length");
        assertThat(vllm.received().get(0).body()).contains("\"include_usage\":true");

        Outcome outcome = awaitOutcomes(1).get(0);
        assertThat(outcome.usageReportedByProvider()).isTrue();
        assertThat(outcome.usage().outputTokens()).as("five words, cut at max_tokens: no end-of-sequence token").isEqualTo(5);
        assertThat(outcome.debitedMicros()).isEqualTo(expectedCost(PROMPT_TOKENS, 5));
    }

    @Test
    void theServersErrorsPassBackWithTheirStatusAndBodyAndCostNothing() throws Exception {
        // gpt-4o is a row of openai, so Tollgate admits it for vllm; the server serves only gpt-4o-mini.
        HttpResponse<String> notServed = post(chat("gpt-4o", PROMPT, false, ",\"max_tokens\":64"));
        assertThat(notServed.statusCode()).isEqualTo(404);
        assertThat(notServed.body()).isEqualTo(VllmLikeServer.errorBody("The model `gpt-4o` does not exist.", "NotFoundError", 404));

        HttpResponse<String> tooLong = post(chat("gpt-4o-mini", PROMPT, false, ",\"max_tokens\":4000"));
        assertThat(tooLong.statusCode()).isEqualTo(400);
        assertThat(tooLong.body()).isEqualTo(VllmLikeServer.errorBody("This model's maximum context length is 2048 tokens. However, you requested "
                + "4018 tokens (18 in the messages, 4000 in the completion). Please reduce the length of the messages or completion.", "BadRequestError", 400));

        // An engine failure before any output arrives as vLLM's flat error chunk under a 200 stream.
        HttpResponse<String> failed = post(chat("gpt-4o-mini", PROMPT + " " + VllmLikeServer.ENGINE_ERROR, true, ",\"max_tokens\":64"));
        assertThat(failed.statusCode()).isEqualTo(200);
        assertThat(failed.body()).contains("\"object\":\"error\"").contains("\"type\":\"InternalServerError\"");

        List<Outcome> outcomes = awaitOutcomes(3);
        assertThat(outcomes).allSatisfy(outcome -> {
            assertThat(outcome.status()).as(outcome.reason()).isEqualTo(Outcome.RELEASED);
            assertThat(outcome.debitedMicros()).isZero();
        });
        assertThat(outcomes).extracting(Outcome::reason).contains("upstream_status_404", "upstream_status_400");
        assertThat(test.available()).isEqualTo(OPENING_MICROS);
        assertThat(vllm.received()).hasSize(3);
    }

    // ------------------------------------------------------------------ helpers

    private HttpResponse<String> post(String json, String... headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
                .header("Authorization", "Bearer " + test.key)
                .header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(json));
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String chat(String model, String text, boolean stream, String extra) {
        return "{\"model\":\"" + model + "\",\"stream\":" + stream + extra + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}]}";
    }

    private static List<JsonNode> dataEvents(String sse) throws Exception {
        List<JsonNode> events = new ArrayList<>();
        for (String line : sse.split("\n")) {
            if (line.startsWith("data: ") && !line.equals("data: [DONE]")) {
                events.add(JSON.readTree(line.substring(6)));
            }
        }
        return events;
    }

    /** Waits until {@code count} outcomes were published (a stream's outcome may follow the client's last byte). */
    private List<Outcome> awaitOutcomes(int count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (test.outcomes.size() < count && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(test.outcomes).hasSize(count);
        return new ArrayList<>(test.outcomes);
    }

    /** ceil((input * input price + output * output price) / 1e6) at openai's gpt-4o-mini row, worked out apart from CostRule. */
    private static long expectedCost(long input, long output) {
        BigInteger numerator = BigInteger.valueOf(input).multiply(BigInteger.valueOf(MINI.inputMicrosPerMillionTokens()))
                .add(BigInteger.valueOf(output).multiply(BigInteger.valueOf(MINI.outputMicrosPerMillionTokens())));
        BigInteger[] divided = numerator.divideAndRemainder(BigInteger.valueOf(1_000_000));
        return divided[0].longValueExact() + (divided[1].signum() > 0 ? 1 : 0);
    }
}
