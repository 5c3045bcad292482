package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.Limits;
import dev.tollgate.config.ModelRow;
import dev.tollgate.proxy.sim.RecordedRequest;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Tollgate between a real HTTP client and the simulated provider: what each kind of ending costs. */
class ProxyEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ModelRow MINI = CatalogLoader.loadBuiltin().find("openai", "gpt-4o-mini");
    private static final ModelRow HAIKU = CatalogLoader.loadBuiltin().find("anthropic", "claude-haiku-4-5");
    private final List<ProxyStack> stacks = new ArrayList<>();

    private ProxyStack stack(long balanceMicros) throws InterruptedException {
        return stack(balanceMicros, Limits.defaults());
    }

    private ProxyStack stack(long balanceMicros, Limits limits) throws InterruptedException {
        ProxyStack stack = new ProxyStack(balanceMicros, limits, SimulatedProvider.Settings.defaults());
        stacks.add(stack);
        return stack;
    }

    @AfterEach
    void everyReservationClosedAndConserved() {
        for (ProxyStack stack : stacks) {
            assertThat(stack.test.reserved()).as("nothing left reserved").isZero();
            assertThat(stack.test.conservationError()).as("credited - debited == available + reserved").isZero();
            assertThat(stack.test.available()).isNotNegative();
            var replayed = stack.test.replayJournal();
            assertThat(replayed.openReservations()).as("every journaled reservation has its outcome").isEmpty();
            var account = replayed.account(TestGateways.ACCOUNT);
            assertThat(account.availableMicros()).as("the journal rebuilds the live balance").isEqualTo(stack.test.available());
            assertThat(account.debitedMicros()).isEqualTo(stack.test.gateway.accounts().balances().debitedMicros(stack.test.slot()));
            assertThat(account.conservationErrorMicros()).isZero();
            for (RecordedRequest request : stack.sim.recentRequests()) {
                assertThat(request.headers().toString()).as("the client's key never reaches the provider").doesNotContain(stack.test.key);
            }
            stack.close();
        }
    }

    /** ceil(sum(tokens * price) / 1e6), computed independently of Tollgate's CostRule. */
    private static long expectedCost(ModelRow row, long input, long cacheRead, long cacheWrite, long output) {
        BigInteger numerator = BigInteger.valueOf(input).multiply(BigInteger.valueOf(row.inputMicrosPerMillionTokens()))
                .add(BigInteger.valueOf(cacheRead).multiply(BigInteger.valueOf(row.cacheReadMicrosPerMillionTokens())))
                .add(BigInteger.valueOf(cacheWrite).multiply(BigInteger.valueOf(row.cacheWriteMicrosPerMillionTokens())))
                .add(BigInteger.valueOf(output).multiply(BigInteger.valueOf(row.outputMicrosPerMillionTokens())));
        BigInteger[] divided = numerator.divideAndRemainder(BigInteger.valueOf(1_000_000));
        return divided[0].longValueExact() + (divided[1].signum() > 0 ? 1 : 0);
    }

    private static String chat(String text, boolean stream, String extra) {
        return "{\"model\":\"gpt-4o-mini\",\"stream\":" + stream + extra + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}]}";
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

    @Test
    void nonStreamingChatIsChargedExactlyWhatTheProviderReported() throws Exception {
        ProxyStack stack = stack(1_000_000);
        HttpResponse<String> response = stack.postOpenAi("/v1/chat/completions", chat("Hello [sim:events=7] [sim:cached=3]", false, ""));
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode usage = JSON.readTree(response.body()).get("usage");
        long prompt = usage.get("prompt_tokens").asLong();
        long cached = usage.at("/prompt_tokens_details/cached_tokens").asLong();
        long completion = usage.get("completion_tokens").asLong();
        assertThat(completion).isEqualTo(7);
        assertThat(cached).isEqualTo(3);
        Outcome outcome = stack.awaitOutcomes(1).get(0);
        long expected = expectedCost(MINI, prompt - cached, cached, 0, completion);
        assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
        assertThat(outcome.usageReportedByProvider()).isTrue();
        assertThat(outcome.debitedMicros()).isEqualTo(expected);
        assertThat(stack.test.available()).isEqualTo(1_000_000 - expected);
        RecordedRequest upstream = stack.sim.recentRequests().get(0);
        assertThat(upstream.header("authorization")).isEqualTo("Bearer sk-provider-test-key");
        assertThat(response.headers().firstValue("x-tollgate-request-id")).hasValue(outcome.requestId());
    }

    @Test
    void streamingHidesTheUsageChunkTollgateAskedForButBillsIt() throws Exception {
        ProxyStack stack = stack(1_000_000);
        HttpResponse<String> hidden = stack.postOpenAi("/v1/chat/completions", chat("Hi [sim:events=5]", true, ""));
        assertThat(hidden.headers().firstValue("content-type").orElse("")).startsWith("text/event-stream");
        List<JsonNode> events = dataEvents(hidden.body());
        assertThat(events).noneMatch(event -> event.get("choices").isEmpty());
        assertThat(hidden.body()).endsWith("data: [DONE]\n\n");
        assertThat(stack.sim.recentRequests().get(0).body()).contains("\"include_usage\":true");

        HttpResponse<String> shown = stack.postOpenAi("/v1/chat/completions",
                chat("Hi [sim:events=5]", true, ",\"stream_options\":{\"include_usage\":true}"));
        List<JsonNode> shownEvents = dataEvents(shown.body());
        JsonNode usageChunk = shownEvents.get(shownEvents.size() - 1);
        assertThat(usageChunk.get("choices")).isEmpty();
        assertThat(usageChunk.at("/usage/completion_tokens").asLong()).isEqualTo(5);

        List<Outcome> outcomes = stack.awaitOutcomes(2);
        assertThat(outcomes).allSatisfy(outcome -> {
            assertThat(outcome.usageReportedByProvider()).isTrue();
            assertThat(outcome.usage().outputTokens()).isEqualTo(5);
            assertThat(outcome.debitedMicros()).isEqualTo(expectedCost(MINI, outcome.usage().inputTokens(), 0, 0, 5));
        });
    }

    @Test
    void anthropicStreamBillsCacheReadsAndWritesAtTheirOwnPrices() throws Exception {
        ProxyStack stack = stack(10_000_000);
        String body = "{\"model\":\"claude-haiku-4-5\",\"stream\":true,\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"Hi there, a long enough prompt for the cache [sim:events=4] [sim:cached=5] [sim:cache-write=6]\"}]}";
        HttpResponse<String> response = stack.postAnthropic("/v1/messages", body);
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).contains("event: message_stop");
        Outcome outcome = stack.awaitOutcomes(1).get(0);
        assertThat(outcome.usage().cacheReadTokens()).isEqualTo(5);
        assertThat(outcome.usage().cacheWriteTokens()).isEqualTo(6);
        assertThat(outcome.usage().outputTokens()).isEqualTo(4);
        assertThat(outcome.debitedMicros()).isEqualTo(expectedCost(HAIKU, outcome.usage().inputTokens(), 5, 6, 4));
        assertThat(stack.sim.recentRequests().get(0).header("x-api-key")).isEqualTo("sk-provider-test-key");
    }

    @Test
    void withoutProviderUsageTheInlineCountAndAPromptEstimateAreBilled() throws Exception {
        ProxyStack stack = stack(1_000_000);
        HttpResponse<String> streamed = stack.postOpenAi("/v1/chat/completions", chat("quiet [sim:events=9] [sim:no-usage]", true, ""));
        assertThat(streamed.body()).endsWith("data: [DONE]\n\n");
        HttpResponse<String> whole = stack.postAnthropic("/v1/messages",
                "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"quiet [sim:events=7] [sim:no-usage]\"}]}");
        assertThat(JSON.readTree(whole.body()).has("usage")).isFalse();
        List<Outcome> outcomes = stack.awaitOutcomes(2);
        assertThat(outcomes).allSatisfy(outcome -> {
            assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
            assertThat(outcome.usageReportedByProvider()).isFalse();
            assertThat(outcome.usage().inputTokens()).as("prompt estimated with the model's encoding").isPositive();
        });
        assertThat(outcomes.get(0).usage().outputTokens()).isEqualTo(9);
        assertThat(outcomes.get(1).usage().outputTokens()).isEqualTo(7);
    }

    @Test
    void anUpstreamErrorBeforeAnyOutputCostsNothingAndKeepsTheProvidersShape() throws Exception {
        ProxyStack stack = stack(1_000_000);
        HttpResponse<String> response = stack.postOpenAi("/v1/chat/completions", chat("boom [sim:error=500]", true, ""));
        assertThat(response.statusCode()).isEqualTo(500);
        assertThat(JSON.readTree(response.body()).at("/error/type").asText()).isNotEmpty();
        Outcome outcome = stack.awaitOutcomes(1).get(0);
        assertThat(outcome.status()).isEqualTo(Outcome.RELEASED);
        assertThat(outcome.reason()).isEqualTo("upstream_status_500");
        assertThat(stack.test.available()).isEqualTo(1_000_000);
    }

    @Test
    void aStreamCutByTheUpstreamBillsWhatWasGeneratedAndTellsTheClient() throws Exception {
        ProxyStack stack = stack(1_000_000);
        HttpResponse<String> response = stack.postOpenAi("/v1/chat/completions", chat("cut [sim:events=20] [sim:fail-after=6]", true, ""));
        assertThat(response.body()).contains("\"code\":\"upstream_unavailable\"");
        Outcome outcome = stack.awaitOutcomes(1).get(0);
        assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
        assertThat(outcome.reason()).isEqualTo("upstream_connection_lost");
        assertThat(outcome.usageReportedByProvider()).isFalse();
        assertThat(outcome.usage().outputTokens()).isEqualTo(6);
        assertThat(outcome.usage().inputTokens()).as("prompt estimated with the model's encoding").isPositive();
    }

    @Test
    void aClientThatLeavesMidStreamPaysForWhatWasGeneratedAndTheUpstreamIsCancelled() throws Exception {
        ProxyStack stack = stack(1_000_000);
        HttpRequest request = HttpRequest.newBuilder(URI.create(stack.baseUrl() + "/v1/chat/completions"))
                .header("authorization", "Bearer " + stack.test.key).header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(chat("go [sim:events=500] [sim:delay-ms=10]", true, ""))).build();
        HttpResponse<InputStream> response = stack.http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        int contentEvents = 0;
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            String line;
            while (contentEvents < 5 && (line = reader.readLine()) != null) {
                if (line.contains("\"content\":\" ")) {
                    contentEvents++;
                }
            }
        }
        Outcome outcome = stack.awaitOutcomes(1).get(0);
        assertThat(outcome.reason()).isEqualTo("client_disconnected");
        assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
        assertThat(outcome.usage().outputTokens()).isBetween(5L, 499L);
        assertThat(outcome.debitedMicros()).isEqualTo(expectedCost(MINI, outcome.usage().inputTokens(), 0, 0, outcome.usage().outputTokens()));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (stack.sim.streamsCancelledByPeer() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(stack.sim.streamsCancelledByPeer()).as("the upstream request was cancelled").isEqualTo(1);
    }

    @Test
    void aShortBalanceLowersTheOutputCapSentUpstream() throws Exception {
        ProxyStack stack = stack(2_000);
        HttpResponse<String> response = stack.postOpenAi("/v1/chat/completions", chat("Hello [sim:events=5000]", false, ""));
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode sent = JSON.readTree(stack.sim.recentRequests().get(0).body());
        long cap = sent.get("max_completion_tokens").asLong();
        assertThat(cap).isPositive().isLessThan(MINI.maxOutputTokens());
        JsonNode answer = JSON.readTree(response.body());
        assertThat(answer.at("/choices/0/finish_reason").asText()).isEqualTo("length");
        assertThat(answer.at("/usage/completion_tokens").asLong()).isEqualTo(cap);
        Outcome outcome = stack.awaitOutcomes(1).get(0);
        assertThat(outcome.writtenOffMicros()).isZero();
        assertThat(outcome.debitedMicros()).isLessThanOrEqualTo(outcome.heldMicros());
    }

    @Test
    void aStreamOutgrowingItsReservationIsExtendedThenCutCleanly() throws Exception {
        // The upstream ignores the lowered cap, so only Tollgate's inline count stands between the stream and overspend.
        ProxyStack stack = stack(2_000);
        HttpResponse<String> response = stack.postOpenAi("/v1/chat/completions",
                chat("Hello [sim:events=20000] [sim:ignore-max-tokens]", true, ",\"stream_options\":{\"include_usage\":true}"));
        List<JsonNode> events = dataEvents(response.body());
        assertThat(response.body()).endsWith("data: [DONE]\n\n");
        JsonNode finish = events.get(events.size() - 2);
        assertThat(finish.at("/choices/0/finish_reason").asText()).isEqualTo("length");
        JsonNode usageChunk = events.get(events.size() - 1);
        Outcome outcome = stack.awaitOutcomes(1).get(0);
        assertThat(outcome.reason()).isEqualTo("cut_at_reservation");
        assertThat(usageChunk.at("/usage/completion_tokens").asLong()).isEqualTo(outcome.usage().outputTokens());
        assertThat(stack.test.available()).isNotNegative();
        // The documented bound: at most the tokens of the one event that crossed the line (one token here).
        assertThat(outcome.writtenOffMicros()).isLessThanOrEqualTo(expectedCost(MINI, 0, 0, 0, 1));
        assertThat(outcome.debitedMicros() + outcome.writtenOffMicros()).isEqualTo(outcome.costMicros());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (stack.sim.streamsCancelledByPeer() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(stack.sim.streamsCancelledByPeer()).isEqualTo(1);
    }

    @Test
    void anUpstreamThatNeverAnswersTimesOutAndCostsNothing() throws Exception {
        Limits defaults = Limits.defaults();
        Limits fast = new Limits(defaults.maxRequestBodyBytes(), defaults.maxSseEventBytes(), defaults.minOutputTokens(),
                defaults.promptTokensPerImage(), defaults.upstreamConnectTimeoutMs(), 300, 300, defaults.maxAccounts(),
                defaults.maxIdleUpstreamConnections());
        ProxyStack stack = stack(1_000_000, fast);
        HttpResponse<String> response = stack.postAnthropic("/v1/messages",
                "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"slow [sim:first-byte-ms=5000]\"}]}");
        assertThat(response.statusCode()).isEqualTo(504);
        assertThat(JSON.readTree(response.body()).at("/error/type").asText()).isEqualTo("timeout_error");
        Outcome outcome = stack.awaitOutcomes(1).get(0);
        assertThat(outcome.status()).isEqualTo(Outcome.RELEASED);
        assertThat(outcome.reason()).isEqualTo("upstream_timeout");
    }

    @Test
    void anUpstreamThatFallsSilentMidStreamIsCutAndBilledForWhatItSent() throws Exception {
        Limits defaults = Limits.defaults();
        Limits fast = new Limits(defaults.maxRequestBodyBytes(), defaults.maxSseEventBytes(), defaults.minOutputTokens(),
                defaults.promptTokensPerImage(), defaults.upstreamConnectTimeoutMs(), 5_000, 400, defaults.maxAccounts(),
                defaults.maxIdleUpstreamConnections());
        ProxyStack stack = stack(1_000_000, fast);
        HttpResponse<String> response = stack.postAnthropic("/v1/messages",
                "{\"model\":\"claude-haiku-4-5\",\"stream\":true,\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"slow [sim:events=3] [sim:delay-ms=3000]\"}]}");
        assertThat(response.body()).contains("event: error").contains("timeout_error");
        Outcome outcome = stack.awaitOutcomes(1).get(0);
        assertThat(outcome.reason()).isEqualTo("upstream_timeout");
    }

    @Test
    void freeAndLocalEndpointsCostNothing() throws Exception {
        ProxyStack stack = stack(1_000_000);
        HttpResponse<String> count = stack.postAnthropic("/v1/messages/count_tokens",
                "{\"model\":\"claude-haiku-4-5\",\"messages\":[{\"role\":\"user\",\"content\":\"count me\"}]}");
        assertThat(count.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(count.body()).get("input_tokens").asLong()).isPositive();
        HttpResponse<String> models = stack.http.send(HttpRequest.newBuilder(URI.create(stack.baseUrl() + "/v1/models"))
                .header("authorization", "Bearer " + stack.test.key).timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        JsonNode list = JSON.readTree(models.body());
        assertThat(list.get("object").asText()).isEqualTo("list");
        assertThat(list.findValuesAsText("id")).contains("gpt-4o-mini").doesNotContain("claude-haiku-4-5");
        HttpResponse<String> balance = stack.http.send(HttpRequest.newBuilder(URI.create(stack.baseUrl() + "/tollgate/v1/balance"))
                .header("authorization", "Bearer " + stack.test.key).timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(JSON.readTree(balance.body()).get("available_micros").asLong()).isEqualTo(1_000_000);
        assertThat(stack.test.outcomes).isEmpty();
    }

    @Test
    void keepAliveConnectionsCarryManyRequestsAndReuseUpstreamConnections() throws Exception {
        ProxyStack stack = stack(10_000_000);
        for (int i = 0; i < 20; i++) {
            assertThat(stack.postOpenAi("/v1/chat/completions", chat("again [sim:events=2]", i % 2 == 0, "")).statusCode()).isEqualTo(200);
        }
        assertThat(stack.awaitOutcomes(20)).hasSize(20).allSatisfy(outcome -> assertThat(outcome.reason()).isEqualTo("completed"));
    }

    @Test
    void pipelinedRequestsAreServedOneAfterAnotherInOrder() throws Exception {
        ProxyStack stack = stack(10_000_000);
        String[] bodies = {chat("one [sim:events=3]", false, ""), chat("two [sim:events=4]", true, ""), chat("three [sim:events=5]", false, "")};
        StringBuilder requests = new StringBuilder();
        for (int i = 0; i < bodies.length; i++) {
            byte[] body = bodies[i].getBytes(StandardCharsets.UTF_8);
            requests.append("POST /v1/chat/completions HTTP/1.1\r\nHost: tollgate\r\nAuthorization: Bearer ").append(stack.test.key)
                    .append("\r\nContent-Type: application/json\r\nContent-Length: ").append(body.length)
                    .append(i == bodies.length - 1 ? "\r\nConnection: close" : "").append("\r\n\r\n").append(bodies[i]);
        }
        String wire;
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", stack.server.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(requests.toString().getBytes(StandardCharsets.UTF_8)); // all three in one write
            wire = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
        assertThat(wire.split("HTTP/1.1 200 OK", -1)).as("three answers").hasSize(4);
        int first = wire.indexOf("\"completion_tokens\":3");
        int second = wire.indexOf("data: [DONE]");
        int third = wire.indexOf("\"completion_tokens\":5");
        assertThat(first).as("the first answer").isPositive();
        assertThat(second).as("the streamed second answer, after the first").isGreaterThan(first);
        assertThat(third).as("the third answer, after the stream").isGreaterThan(second);
        assertThat(stack.awaitOutcomes(3)).hasSize(3).allSatisfy(outcome -> assertThat(outcome.reason()).isEqualTo("completed"));
        assertThat(stack.sim.requestsReceived()).isEqualTo(3);
    }

    @Test
    void withPerDebitDurabilityRequestsGoThroughTheWriterThreadAndAllSettle() throws Exception {
        ProxyStack stack = new ProxyStack(100_000_000, Limits.defaults(), SimulatedProvider.Settings.defaults(), dev.tollgate.config.Durability.PER_DEBIT);
        stacks.add(stack);
        assertThat(stack.test.gateway.ledger().writer().ownThread()).as("per_debit appends on the writer thread").isTrue();
        List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            responses.add(stack.http.sendAsync(HttpRequest.newBuilder(URI.create(stack.baseUrl() + "/v1/chat/completions"))
                    .header("authorization", "Bearer " + stack.test.key).header("content-type", "application/json")
                    .timeout(Duration.ofSeconds(30))
                    .POST(HttpRequest.BodyPublishers.ofString(chat("many [sim:events=5]", i % 2 == 0, ""))).build(), HttpResponse.BodyHandlers.ofString()));
        }
        for (var response : responses) {
            HttpResponse<String> answer = response.get(30, TimeUnit.SECONDS);
            assertThat(answer.statusCode()).isEqualTo(200);
            assertThat(answer.body()).satisfiesAnyOf(body -> assertThat(body).contains("\"completion_tokens\":5"), body -> assertThat(body).contains("data: [DONE]"));
        }
        assertThat(stack.awaitOutcomes(40)).hasSize(40).allSatisfy(outcome -> assertThat(outcome.reason()).isEqualTo("completed"));
    }
}
