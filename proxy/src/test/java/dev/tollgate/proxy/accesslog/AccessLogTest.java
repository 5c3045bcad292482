package dev.tollgate.proxy.accesslog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.AccessLogConfig;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.Usage;
import dev.tollgate.proxy.Outcome;
import dev.tollgate.proxy.TollgateNode;
import dev.tollgate.proxy.Transport;
import dev.tollgate.proxy.admin.AdminApi;
import dev.tollgate.proxy.admin.AdminTestNode;
import dev.tollgate.proxy.admin.AdminTokens;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.io.IOException;
import java.io.StringWriter;
import java.io.Writer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The access log through a whole node: one line per request, settled, streamed and refused, whose money and tokens are
 * the journaled outcome's; never a key or a prompt. And the log itself: a full queue drops (counted) rather than wait.
 */
class AccessLogTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** A prompt a careless log would leak: it must appear in no line. */
    private static final String SECRET_PROMPT = "my password is hunter2-AKIAIOSFODNN7EXAMPLE do not log this";

    @TempDir
    Path dir;

    private SimulatedProvider sim;
    private TollgateNode node;
    private final String configKey = ApiKeys.newRawKey(new SecureRandom());
    private final Queue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeEach
    void startSimulator() throws Exception {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
    }

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
        sim.close();
    }

    private TollgateConfig config(AccessLogConfig accessLog) {
        return AdminTestNode.config(sim, dir, configKey, new ListenerConfig("127.0.0.1", 0)).withAccessLog(accessLog);
    }

    private void start(AccessLogConfig accessLog) throws InterruptedException {
        AdminTokens tokens = AdminTokens.fromEnvironment(Map.of(AdminTokens.TOKENS_ENV, "ops:write:" + AdminTestNode.WRITE_TOKEN)::get);
        node = TollgateNode.start(config(accessLog), outcomes::add, 1, Transport.best(), tokens);
    }

    private HttpResponse<String> chat(String key, String model, String prompt, boolean stream) throws Exception {
        String body = "{\"model\":\"" + model + "\",\"max_tokens\":50,\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}";
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/v1/chat/completions")).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private static String requestId(HttpResponse<?> response) {
        return response.headers().firstValue("x-tollgate-request-id").orElseThrow();
    }

    /** The journal's request log (through the admin API), by request id, once it holds {@code count} entries. */
    private Map<String, JsonNode> journaledRequests(int count) throws Exception {
        for (int attempt = 0; attempt < 600; attempt++) {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.adminPort() + "/admin/v1/requests?limit=50"))
                    .header("Authorization", "Bearer " + AdminTestNode.WRITE_TOKEN).timeout(Duration.ofSeconds(30)).GET().build();
            JsonNode data = JSON.readTree(http.send(request, HttpResponse.BodyHandlers.ofString()).body()).path("data");
            if (data.size() >= count) {
                Map<String, JsonNode> byId = new HashMap<>();
                data.forEach(entry -> byId.put(entry.path("request_id").asText(), entry));
                return byId;
            }
            Thread.sleep(50); // the reconciler tails the journal on its own thread
        }
        throw new AssertionError("the request log never held " + count + " entries");
    }

    @Test
    void everyRequestHasOneLineWithTheJournaledMoneyAndNoSecret() throws Exception {
        Path file = dir.resolve("logs/access.jsonl");
        start(new AccessLogConfig(true, file));
        String keyId = AdminApi.keyId(ApiKeys.sha256Hex(configKey));
        String unknownKey = ApiKeys.newRawKey(new SecureRandom());

        HttpResponse<String> settled = chat(configKey, "gpt-4o-mini", "hello [sim:events=5]", false);
        HttpResponse<String> streamed = chat(configKey, "gpt-4o-mini", "stream please [sim:events=7]", true);
        HttpResponse<String> badKey = chat(unknownKey, "gpt-4o-mini", "hello", false);
        HttpResponse<String> unknownModel = chat(configKey, "gpt-unknown-model", "hello", false);
        HttpResponse<String> secret = chat(configKey, "gpt-4o-mini", SECRET_PROMPT, false);
        assertThat(List.of(settled.statusCode(), streamed.statusCode(), badKey.statusCode(), unknownModel.statusCode(), secret.statusCode()))
                .containsExactly(200, 200, 401, 404, 200);
        assertThat(streamed.headers().firstValue("content-type").orElseThrow()).startsWith("text/event-stream");
        assertThat(settled.body()).doesNotContain(SECRET_PROMPT); // the simulator answers from its script, not by echoing
        HttpResponse<String> probe = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/healthz")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(probe.statusCode()).isEqualTo(200);
        Map<String, JsonNode> journaled = journaledRequests(3);
        node.close(); // drains the log
        node = null;

        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        System.out.println("AccessLogTest sample lines:\n" + String.join("\n", lines));
        Map<String, JsonNode> byId = new HashMap<>();
        Set<String> fieldNames = null;
        for (String line : lines) {
            JsonNode parsed = JSON.readTree(line);
            byId.put(parsed.path("request_id").asText(), parsed);
            Set<String> names = new TreeSet<>();
            parsed.fieldNames().forEachRemaining(names::add);
            if (fieldNames == null) {
                fieldNames = names;
            }
            assertThat(names).as("every line has the same fields").isEqualTo(fieldNames);
            assertThat(Instant.parse(parsed.path("time").asText())).isNotNull();
            assertThat(parsed.path("time").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
            // No key (not even the start of an unknown one), no prompt, no provider key, no admin token.
            assertThat(line).doesNotContain(configKey).doesNotContain(unknownKey).doesNotContain(unknownKey.substring(0, 10))
                    .doesNotContain(SECRET_PROMPT).doesNotContain("hunter2").doesNotContain("AKIAIOSFODNN7EXAMPLE")
                    .doesNotContain("sk-provider-admin-test-key").doesNotContain(AdminTestNode.WRITE_TOKEN);
        }
        assertThat(lines).as("one line per request, none for the health probe").hasSize(5);
        assertThat(byId.keySet()).containsExactlyInAnyOrder(requestId(settled), requestId(streamed), requestId(badKey), requestId(unknownModel),
                requestId(secret));
        assertThat(fieldNames).containsExactly("account", "attempts_before", "billed_by", "cache_read_tokens", "cache_write_tokens", "cost_micros", "debited_micros",
                "direct_cost_micros", "endpoint", "input_tokens", "key_id", "key_label", "lane", "latency_ms", "model", "outcome", "output_tokens", "provider",
                "reason", "reasoning_tokens",
                "request_id", "requested_model", "status", "time", "upstream_request_id", "written_off_micros");

        Map<String, Outcome> outcomeById = new HashMap<>();
        outcomes.forEach(outcome -> outcomeById.put(outcome.requestId(), outcome));
        for (HttpResponse<String> metered : List.of(settled, streamed, secret)) {
            JsonNode line = byId.get(requestId(metered));
            Outcome outcome = outcomeById.get(requestId(metered));
            JsonNode journal = journaled.get(requestId(metered));
            assertThat(line.path("outcome").asText()).isEqualTo("settled");
            assertThat(line.path("reason").asText()).isEqualTo("completed");
            assertThat(line.path("status").asInt()).isEqualTo(200);
            assertThat(line.path("key_id").asText()).isEqualTo(keyId).isEqualTo(journal.path("key").asText());
            assertThat(line.path("key_label").asText()).isEqualTo("boot");
            assertThat(line.path("account").asText()).isEqualTo("bootstrap");
            assertThat(line.path("provider").asText()).isEqualTo("openai");
            assertThat(line.path("model").asText()).isEqualTo("gpt-4o-mini");
            assertThat(line.path("endpoint").asText()).isEqualTo("/v1/chat/completions");
            Usage usage = outcome.usage();
            assertThat(usage.outputTokens()).isPositive();
            assertThat(line.path("input_tokens").asLong()).isEqualTo(usage.inputTokens()).isEqualTo(journal.path("input_tokens").asLong());
            assertThat(line.path("output_tokens").asLong()).isEqualTo(usage.outputTokens()).isEqualTo(journal.path("output_tokens").asLong());
            assertThat(line.path("cache_read_tokens").asLong()).isEqualTo(usage.cacheReadTokens());
            assertThat(outcome.debitedMicros()).isPositive();
            assertThat(line.path("cost_micros").asLong()).isEqualTo(outcome.costMicros()).isEqualTo(journal.path("cost_micros").asLong());
            assertThat(line.path("debited_micros").asLong()).isEqualTo(outcome.debitedMicros()).isEqualTo(journal.path("debited_micros").asLong());
            assertThat(line.path("latency_ms").asLong()).isEqualTo(outcome.endEpochMs() - outcome.startEpochMs());
            assertThat(Instant.parse(line.path("time").asText())).isEqualTo(Instant.ofEpochMilli(outcome.endEpochMs()));
            assertThat(line.path("upstream_request_id").asText()).isEqualTo(outcome.upstreamRequestId()).isNotEmpty();
        }
        assertThat(byId.get(requestId(streamed)).path("output_tokens").asLong())
                .isNotEqualTo(byId.get(requestId(settled)).path("output_tokens").asLong()); // 7 events against 5: each line is its own request's

        JsonNode refused = byId.get(requestId(badKey));
        assertThat(refused.path("outcome").asText()).isEqualTo("refused");
        assertThat(refused.path("reason").asText()).isEqualTo("invalid_key");
        assertThat(refused.path("status").asInt()).isEqualTo(401);
        for (String absent : List.of("key_id", "key_label", "account", "provider", "model", "cost_micros", "debited_micros", "input_tokens",
                "output_tokens", "upstream_request_id")) {
            assertThat(refused.path(absent).isNull()).as(absent).isTrue();
        }
        assertThat(refused.path("endpoint").asText()).isEqualTo("/v1/chat/completions");

        JsonNode noSuchModel = byId.get(requestId(unknownModel));
        assertThat(noSuchModel.path("outcome").asText()).isEqualTo("refused");
        assertThat(noSuchModel.path("reason").asText()).isEqualTo("unknown_model");
        assertThat(noSuchModel.path("status").asInt()).isEqualTo(404);
        assertThat(noSuchModel.path("key_id").asText()).as("a known key is named by its id on a refusal too").isEqualTo(keyId);
        assertThat(noSuchModel.path("cost_micros").isNull()).isTrue();
        assertThat(outcomeById).as("refusals hold no money, so they have a line but no outcome")
                .doesNotContainKeys(requestId(badKey), requestId(unknownModel));
    }

    @Test
    void aDisabledAccessLogWritesNothing() throws Exception {
        Path file = dir.resolve("logs/access.jsonl");
        start(new AccessLogConfig(false, file));
        assertThat(node.gateway().accessLog()).isSameAs(AccessLog.DISABLED);
        assertThat(chat(configKey, "gpt-4o-mini", "hello", false).statusCode()).isEqualTo(200);
        assertThat(chat("tg-not-a-key", "gpt-4o-mini", "hello", false).statusCode()).isEqualTo(401);
        node.close();
        node = null;
        assertThat(file).doesNotExist();
        assertThat(file.getParent()).doesNotExist();
    }

    @Test
    void aNodeWhoseAccessLogCannotBeOpenedDoesNotStart() throws Exception {
        Files.writeString(dir.resolve("logs"), "a file where the log's directory should be");
        Path file = dir.resolve("logs/access.jsonl");
        IllegalStateException e = catchThrowableOfType(IllegalStateException.class, () -> start(new AccessLogConfig(true, file)));
        assertThat(e).isNotNull();
        assertThat(e.getMessage()).startsWith("cannot open the access log (accessLog.path) " + file + ": ");
        assertThat(dir.resolve("journal")).as("refused before the journal is touched").doesNotExist();
    }

    // ---------------------------------------------------------------- the log alone

    private static AccessEntry entry(String requestId, String keyLabel) {
        return new AccessEntry(1_765_000_000_123L, requestId, "key_0123456789abcdef", keyLabel, "acme", "openai", "gpt-4o-mini",
                "/v1/chat/completions", 200, AccessEntry.SETTLED, "completed", new Usage(10, 2, 0, 5, 1), 1234, 1234, 0, 42, "req_up");
    }

    /** A writer whose first write blocks until released: a disk that stalled. */
    private static final class StalledWriter extends Writer {
        final StringBuilder written = new StringBuilder();
        final CountDownLatch stalled = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        @Override
        public void write(char[] chars, int offset, int length) {
            stalled.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            synchronized (written) {
                written.append(chars, offset, length);
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS) // a record() that blocked would hang here
    void aFullQueueDropsAndCountsInsteadOfWaiting() throws Exception {
        StalledWriter out = new StalledWriter();
        AccessLog log = AccessLog.writingTo(out, 4);
        log.record(entry("tg_req_first", "ci"));
        assertThat(out.stalled.await(30, TimeUnit.SECONDS)).isTrue(); // the writer holds the first line, stuck in write
        for (int i = 0; i < 10; i++) {
            log.record(entry("tg_req_" + i, "ci"));
        }
        assertThat(log.droppedLines()).isEqualTo(6); // four fit in the queue
        out.release.countDown();
        log.close();
        List<JsonNode> lines = new ArrayList<>();
        for (String line : out.written.toString().split("\n")) {
            lines.add(JSON.readTree(line));
        }
        assertThat(lines).extracting(line -> line.path("request_id").asText(null))
                .containsExactly("tg_req_first", "tg_req_0", "tg_req_1", "tg_req_2", "tg_req_3", null);
        assertThat(lines.getLast().path("dropped_lines").asLong()).isEqualTo(6);
        log.record(entry("tg_req_after_close", "ci"));
        assertThat(log.droppedLines()).isEqualTo(7);
    }

    @Test
    void fieldsAreEscapedSoEveryLineIsOneJsonObject() throws Exception {
        StringWriter out = new StringWriter();
        AccessLog log = AccessLog.writingTo(out, 16);
        String label = "team \"a\"\\b\nnext line\u0000\u2028é";
        log.record(entry("tg_req_escaped", label));
        log.close();
        String text = out.toString();
        assertThat(text).endsWith("\n");
        assertThat(text.substring(0, text.length() - 1)).doesNotContain("\n").doesNotContain("\u0000");
        JsonNode line = JSON.readTree(text);
        assertThat(line.path("key_label").asText()).isEqualTo(label);
        assertThat(line.path("time").asText()).isEqualTo("2025-12-06T05:46:40.123Z");
        assertThat(line.path("cost_micros").asLong()).isEqualTo(1234);
        assertThat(line.path("cache_read_tokens").asLong()).isEqualTo(2);
    }
}
