package dev.tollgate.proxy.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tollgate.config.AccountConfig;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.Durability;
import dev.tollgate.config.JournalConfig;
import dev.tollgate.config.Limits;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.config.Secret;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.journal.reconcile.DriftReport;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.proxy.Outcome;
import dev.tollgate.proxy.TollgateNode;
import dev.tollgate.proxy.Transport;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The /metrics page of a real node after real traffic through the simulated provider: the values are the ones the
 * requests produced, no label carries a key or a request id, and Prometheus's own parser and linter (promtool) accept it.
 */
class MetricsPageTest {
    private static final long BALANCE = 5_000_000;
    private static final String MINI = "gpt-4o-mini";
    private static final String HAIKU = "claude-haiku-4-5";

    @TempDir
    Path dir;

    private SimulatedProvider sim;
    private TollgateNode node;
    private TollgateConfig config;
    private final String key = ApiKeys.newRawKey(new SecureRandom());
    private final BlockingQueue<Outcome> outcomes = new LinkedBlockingQueue<>();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    /** Every request id Tollgate answered with or published. */
    private final Set<String> requestIds = new LinkedHashSet<>();

    @BeforeEach
    void start() throws Exception {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
        URI upstream = URI.create(sim.baseUrl());
        Secret providerKey = new Secret("sk-provider-metrics-test-key");
        config = new TollgateConfig(new ListenerConfig("127.0.0.1", 0),
                List.of(new ProviderConfig("openai", Protocol.OPENAI, upstream, null, providerKey, null),
                        new ProviderConfig("anthropic", Protocol.ANTHROPIC, upstream, null, providerKey, null)),
                CatalogLoader.loadBuiltin(), Limits.defaults(),
                new JournalConfig(dir.resolve("journal"), Durability.PAGE_CACHE, JournalConfig.DEFAULT_SYNC_INTERVAL_MS),
                List.of(new AccountConfig("acme", BALANCE, List.of(new AccountConfig.KeyConfig(ApiKeys.sha256Hex(key), "metrics-key-label")))));
        node = TollgateNode.start(config, outcomes::add, 1, Transport.best());
    }

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
        if (sim != null) {
            sim.close();
        }
    }

    @Test
    void thePageCountsWhatTheRequestsDidAndNamesNoKeyAndNoRequest() throws Exception {
        String badKey = "sk-tollgate-not-a-key-" + Long.toHexString(new SecureRandom().nextLong());
        assertThat(post("/v1/chat/completions", key, chat("Hello [sim:events=7] [sim:cached=3]", false)).statusCode()).isEqualTo(200);
        HttpResponse<String> streamed = post("/v1/chat/completions", key, chat("Hi [sim:events=5]", true));
        assertThat(streamed.statusCode()).isEqualTo(200);
        assertThat(streamed.body()).endsWith("data: [DONE]\n\n");
        assertThat(postAnthropic("{\"model\":\"" + HAIKU + "\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"A long enough prompt for the cache [sim:events=4] [sim:cached=5] [sim:cache-write=6]\"}]}").statusCode()).isEqualTo(200);
        assertThat(post("/v1/chat/completions", key, chat("boom [sim:error=500]", false)).statusCode()).isEqualTo(500);
        assertThat(post("/v1/chat/completions", key, "{\"model\":\"gpt-no-such-model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}")
                .statusCode()).isEqualTo(404);
        assertThat(post("/v1/chat/completions", badKey, chat("Hi", false)).statusCode()).isEqualTo(401);

        List<Outcome> ended = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Outcome outcome = outcomes.poll(20, TimeUnit.SECONDS);
            assertThat(outcome).as("outcome %d of 4", i + 1).isNotNull();
            ended.add(outcome);
            requestIds.add(outcome.requestId());
        }
        assertThat(ended).extracting(Outcome::status).containsExactlyInAnyOrder(Outcome.SETTLED, Outcome.SETTLED, Outcome.SETTLED, Outcome.RELEASED);
        // Latencies are observed when each exchange completes, which may be just after its client has the response.
        await(() -> count(scrape(), "tollgate_added_latency_seconds_count", Map.of()) == 4);
        assertThat(node.reconciler().awaitCaughtUp(Duration.ofSeconds(30))).isTrue();
        assertThat(node.reconciler().checkConservation().status()).isEqualTo(DriftReport.Status.CONSISTENT);

        String page = page();
        List<Sample> samples = parse(page);

        // Requests by surface, model, status and reason, as the outcomes said.
        Outcome completedMini = ended.stream().filter(o -> o.model().equals(MINI) && o.status().equals(Outcome.SETTLED)).findFirst().orElseThrow();
        assertThat(value(samples, "tollgate_requests_total", Map.of("surface", "openai", "provider", "openai", "model", MINI,
                "status", "settled", "reason", completedMini.reason(), "lane", dev.tollgate.config.LaneConfig.BUILT_IN_NAME))).isEqualTo(2);
        assertThat(value(samples, "tollgate_requests_total", Map.of("surface", "openai", "model", MINI, "status", "released",
                "reason", "upstream_status_500"))).isEqualTo(1);
        assertThat(value(samples, "tollgate_requests_total", Map.of("surface", "anthropic", "provider", "anthropic", "model", HAIKU,
                "status", "settled"))).isEqualTo(1);
        assertThat(sum(samples, "tollgate_requests_total", Map.of())).isEqualTo(4);

        // Tokens and money, exactly the outcomes' own.
        for (String model : List.of(MINI, HAIKU)) {
            List<Outcome> settled = ended.stream().filter(o -> o.model().equals(model) && o.status().equals(Outcome.SETTLED)).toList();
            assertThat(settled).isNotEmpty();
            Map<String, Long> kinds = new LinkedHashMap<>();
            kinds.put("input", settled.stream().mapToLong(o -> o.usage().inputTokens()).sum());
            kinds.put("cached_input", settled.stream().mapToLong(o -> o.usage().cacheReadTokens()).sum());
            kinds.put("cache_write", settled.stream().mapToLong(o -> o.usage().cacheWriteTokens()).sum());
            kinds.put("output", settled.stream().mapToLong(o -> o.usage().outputTokens()).sum());
            kinds.put("reasoning", settled.stream().mapToLong(o -> o.usage().reasoningTokens()).sum());
            for (Map.Entry<String, Long> kind : kinds.entrySet()) {
                assertThat(value(samples, "tollgate_tokens_total", Map.of("model", model, "kind", kind.getKey())))
                        .as("%s %s tokens", model, kind.getKey()).isEqualTo(kind.getValue().doubleValue());
            }
            long debited = settled.stream().mapToLong(Outcome::debitedMicros).sum();
            assertThat(debited).isPositive();
            assertThat(value(samples, "tollgate_debited_micros_total", Map.of("model", model))).isEqualTo(debited);
            assertThat(value(samples, "tollgate_cost_micros_total", Map.of("model", model)))
                    .isEqualTo(settled.stream().mapToLong(Outcome::costMicros).sum());
            assertThat(value(samples, "tollgate_written_off_micros_total", Map.of("model", model))).isZero();
        }
        assertThat(value(samples, "tollgate_tokens_total", Map.of("model", MINI, "kind", "output"))).isEqualTo(12); // 7 + 5
        assertThat(value(samples, "tollgate_tokens_total", Map.of("model", MINI, "kind", "cached_input"))).isEqualTo(3);
        assertThat(value(samples, "tollgate_tokens_total", Map.of("model", HAIKU, "kind", "cache_write"))).isEqualTo(6);
        long totalDebited = ended.stream().mapToLong(Outcome::debitedMicros).sum();

        // Refusals before any reservation, by reason.
        assertThat(value(samples, "tollgate_refusals_total", Map.of("surface", "openai", "reason", "unknown_model"))).isEqualTo(1);
        assertThat(value(samples, "tollgate_refusals_total", Map.of("surface", "openai", "reason", "invalid_key"))).isEqualTo(1);
        assertThat(value(samples, "tollgate_refusals_total", Map.of("surface", "anthropic", "reason", "invalid_key"))).isZero();
        assertThat(sum(samples, "tollgate_refusals_total", Map.of())).isEqualTo(2);

        // Money now, read at scrape time.
        assertThat(value(samples, "tollgate_reserved_micros", Map.of())).isZero();
        assertThat(value(samples, "tollgate_available_micros", Map.of())).isEqualTo(BALANCE - totalDebited);
        assertThat(value(samples, "tollgate_accounts", Map.of())).isEqualTo(1);
        assertThat(value(samples, "tollgate_journal_accepting_records", Map.of())).isEqualTo(1);
        assertThat(value(samples, "tollgate_unrecorded_releases", Map.of())).isZero();
        assertThat(value(samples, "tollgate_reconciliation_lag_records", Map.of())).isZero();
        assertThat(value(samples, "tollgate_reconciliation_drift_micros", Map.of())).isZero();
        assertThat(value(samples, "tollgate_reconciliation_drift_checked", Map.of())).isEqualTo(1);
        assertThat(value(samples, "tollgate_reconciliation_failed", Map.of())).isZero();
        assertThat(value(samples, "tollgate_open_connections", Map.of())).isEqualTo(node.server().connections().open());
        assertThat(value(samples, "tollgate_connections_refused_total", Map.of())).isZero();

        // Histograms: one observation per request that had one.
        assertThat(count(samples, "tollgate_request_duration_seconds_count", Map.of("surface", "openai"))).isEqualTo(3);
        assertThat(count(samples, "tollgate_request_duration_seconds_count", Map.of("surface", "anthropic"))).isEqualTo(1);
        assertThat(count(samples, "tollgate_upstream_first_byte_seconds_count", Map.of("provider", "openai"))).isEqualTo(3);
        assertThat(count(samples, "tollgate_upstream_first_byte_seconds_count", Map.of("provider", "anthropic"))).isEqualTo(1);
        assertThat(count(samples, "tollgate_added_latency_seconds_count", Map.of("surface", "openai"))).isEqualTo(3);
        assertThat(value(samples, "tollgate_request_duration_seconds_bucket", Map.of("surface", "openai", "le", "+Inf"))).isEqualTo(3);
        assertThat(value(samples, "tollgate_upstream_first_byte_seconds_sum", Map.of("provider", "openai"))).isPositive();
        // Four reservations and four outcomes at least, on top of the configuration's own records.
        assertThat(count(samples, "tollgate_journal_append_seconds_count", Map.of())).isGreaterThanOrEqualTo(8);
        assertThat(count(samples, "tollgate_journal_sync_seconds_count", Map.of())).as("page_cache durability forces nothing").isZero();

        // The JVM's metrics are on the page too.
        assertThat(samples).anySatisfy(sample -> assertThat(sample.name()).isEqualTo("jvm_memory_used_bytes"));
        assertThat(samples).anySatisfy(sample -> assertThat(sample.name()).isEqualTo("jvm_threads_current"));

        // Nothing that names a key, an account or a request.
        assertThat(requestIds).as("six responses, each with its id; the outcomes name the same four").hasSize(6);
        assertThat(page).doesNotContain("tg_req_").doesNotContain(key).doesNotContain(badKey).doesNotContain(ApiKeys.sha256Hex(key))
                .doesNotContain(key.substring(0, 12)).doesNotContain("metrics-key-label").doesNotContain("acme")
                .doesNotContain("sk-provider-metrics-test-key").doesNotContain("gpt-no-such-model");
        for (String requestId : requestIds) {
            assertThat(page).doesNotContain(requestId);
        }
        for (Sample sample : samples) {
            if (sample.name().equals("tollgate_catalog_info")) {
                // One series, of the catalog in force: its version and file name name no key, account or request.
                assertThat(sample.labels().keySet()).containsExactlyInAnyOrder("version", "source");
            } else if (sample.name().startsWith("tollgate_")) {
                assertThat(sample.labels().keySet()).as(sample.name())
                        .isSubsetOf("surface", "provider", "model", "status", "reason", "lane", "kind", "le", "result", "state");
            }
        }
        assertThat(samples).filteredOn(sample -> sample.name().equals("tollgate_catalog_info")).hasSize(1)
                .allSatisfy(sample -> assertThat(sample.labels()).containsEntry("version", CatalogLoader.loadBuiltin().version()));

        promtoolAccepts(page);
    }

    @Test
    void aModelOutsideTheCatalogOrAProviderNotConfiguredIsOtherAndReasonsAreBounded() {
        NodeMetrics metrics = node.gateway().metrics();
        assertThat(pageUnchecked()).as("no outcome yet: no series for other").doesNotContain("\"other\"");
        for (int i = 0; i < NodeMetrics.MAX_REASONS + 10; i++) {
            metrics.outcome(outcome("openai", "model-" + i, "/v1/messages", "reason_" + i));
        }
        metrics.outcome(outcome("google", MINI, "/v1/chat/completions", "completed"));
        List<Sample> samples = parse(pageUnchecked());
        List<Sample> openai = matching(samples, "tollgate_requests_total", Map.of("provider", "openai"));
        assertThat(openai).hasSize(NodeMetrics.MAX_REASONS + 1).allSatisfy(sample -> {
            assertThat(sample.labels()).containsEntry("model", NodeMetrics.OTHER).containsEntry("surface", "anthropic");
        });
        assertThat(value(samples, "tollgate_requests_total", Map.of("provider", "openai", "reason", NodeMetrics.OTHER))).isEqualTo(10);
        assertThat(sum(samples, "tollgate_requests_total", Map.of("provider", "openai"))).isEqualTo(NodeMetrics.MAX_REASONS + 10);
        assertThat(value(samples, "tollgate_requests_total", Map.of("provider", NodeMetrics.OTHER, "model", NodeMetrics.OTHER,
                "surface", "openai", "reason", "completed"))).isEqualTo(1);
        assertThat(sum(samples, "tollgate_requests_total", Map.of())).isEqualTo(NodeMetrics.MAX_REASONS + 11);
    }

    @Test
    void keyLabelsAreOnThePageOnlyWhenTheOperatorTurnsThemOn() throws Exception {
        assertThat(post("/v1/chat/completions", key, chat("Hi [sim:events=3]", false)).statusCode()).isEqualTo(200);
        assertThat(outcomes.poll(20, TimeUnit.SECONDS)).isNotNull();
        assertThat(pageUnchecked()).doesNotContain("tollgate_key_").doesNotContain("metrics-key-label");
        node.close();
        node = TollgateNode.start(config.withMetrics(new dev.tollgate.config.MetricsConfig(true)), outcomes::add, 1, Transport.best());
        assertThat(post("/v1/chat/completions", key, chat("Hi [sim:events=3] [sim:cached=2]", false)).statusCode()).isEqualTo(200);
        assertThat(post("/v1/chat/completions", key, chat("boom [sim:error=500]", false)).statusCode()).isEqualTo(500);
        Outcome settled = outcomes.poll(20, TimeUnit.SECONDS);
        assertThat(outcomes.poll(20, TimeUnit.SECONDS)).isNotNull();
        List<Sample> samples = parse(page());
        Map<String, String> label = Map.of("key_label", "metrics-key-label");
        assertThat(value(samples, "tollgate_key_requests_total", Map.of("key_label", "metrics-key-label", "status", "settled"))).isEqualTo(1);
        assertThat(value(samples, "tollgate_key_requests_total", Map.of("key_label", "metrics-key-label", "status", "released"))).isEqualTo(1);
        assertThat(value(samples, "tollgate_key_cost_micros_total", label)).isEqualTo(settled.costMicros()).isPositive();
        assertThat(value(samples, "tollgate_key_tokens_total", Map.of("key_label", "metrics-key-label", "kind", "input")))
                .isEqualTo(settled.usage().inputTokens() + settled.usage().cacheReadTokens() + settled.usage().cacheWriteTokens());
        assertThat(value(samples, "tollgate_key_tokens_total", Map.of("key_label", "metrics-key-label", "kind", "output"))).isEqualTo(3);
        // Bounded: beyond the limit, further labels are one series.
        NodeMetrics metrics = node.gateway().metrics();
        for (int i = 0; i < NodeMetrics.MAX_KEY_LABELS + 5; i++) {
            metrics.outcome(new Outcome("tg_req_0", "acme", "key_0", "label-" + i, "openai", MINI, "/v1/chat/completions", Outcome.RELEASED,
                    "client_disconnected", dev.tollgate.metering.Usage.ZERO, false, 0, 0, 0, 0, 0, 0, 1, null));
        }
        List<Sample> bounded = matching(parse(page()), "tollgate_key_requests_total", Map.of("status", "released"));
        assertThat(bounded).hasSize(NodeMetrics.MAX_KEY_LABELS + 1);
        assertThat(value(bounded, "tollgate_key_requests_total", Map.of("key_label", NodeMetrics.OTHER))).isEqualTo(6);
    }

    private static Outcome outcome(String provider, String model, String endpoint, String reason) {
        return new Outcome("tg_req_0123456789abcdef", "acme", "key_0123456789abcdef", "label", provider, model, endpoint, Outcome.RELEASED, reason,
                dev.tollgate.metering.Usage.ZERO, false, 0, 0, 0, 0, 0, 0, 1, null);
    }

    // ---------------------------------------------------------------- requests

    private static String chat(String text, boolean stream) {
        return "{\"model\":\"" + MINI + "\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}]}";
    }

    private HttpResponse<String> post(String path, String bearer, String json) throws Exception {
        return remember(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + path))
                .header("authorization", "Bearer " + bearer).header("content-type", "application/json").timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString()));
    }

    private HttpResponse<String> postAnthropic(String json) throws Exception {
        return remember(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/v1/messages"))
                .header("x-api-key", key).header("anthropic-version", "2023-06-01").header("content-type", "application/json")
                .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString()));
    }

    private HttpResponse<String> remember(HttpResponse<String> response) {
        response.headers().firstValue("x-tollgate-request-id").ifPresent(requestIds::add);
        return response;
    }

    // ---------------------------------------------------------------- the page

    private String page() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        node.gateway().metrics().writeTextFormat(out);
        assertThat(NodeMetrics.CONTENT_TYPE).startsWith("text/plain; version=0.0.4");
        return out.toString(StandardCharsets.UTF_8);
    }

    private String pageUnchecked() {
        try {
            return page();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private List<Sample> scrape() {
        return parse(pageUnchecked());
    }

    record Sample(String name, Map<String, String> labels, double value) {
    }

    private static final Pattern LINE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})? (\\S+)");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

    /** The samples of a text-format page (for reading values in the test; promtool checks the format itself). */
    private static List<Sample> parse(String page) {
        List<Sample> samples = new ArrayList<>();
        for (String line : page.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            Matcher matcher = LINE.matcher(line);
            assertThat(matcher.matches()).as("a sample line: %s", line).isTrue();
            Map<String, String> labels = new HashMap<>();
            if (matcher.group(2) != null) {
                Matcher label = LABEL.matcher(matcher.group(2));
                while (label.find()) {
                    labels.put(label.group(1), label.group(2));
                }
            }
            samples.add(new Sample(matcher.group(1), labels, Double.parseDouble(matcher.group(3))));
        }
        return samples;
    }

    private static List<Sample> matching(List<Sample> samples, String name, Map<String, String> labels) {
        return samples.stream().filter(s -> s.name().equals(name) && s.labels().entrySet().containsAll(labels.entrySet())).toList();
    }

    /** The one sample of {@code name} with these labels (among others). */
    private static double value(List<Sample> samples, String name, Map<String, String> labels) {
        List<Sample> found = matching(samples, name, labels);
        assertThat(found).as("one %s%s", name, labels).hasSize(1);
        return found.get(0).value();
    }

    private static double sum(List<Sample> samples, String name, Map<String, String> labels) {
        return matching(samples, name, labels).stream().mapToDouble(Sample::value).sum();
    }

    /** A histogram's count over the series matching {@code labels}; 0 when there is none. */
    private static long count(List<Sample> samples, String name, Map<String, String> labels) {
        return (long) sum(samples, name, labels);
    }

    private static void await(BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("the condition did not hold within 20 s");
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
        }
    }

    // ---------------------------------------------------------------- promtool

    /**
     * Prometheus's own parser and linter: the page parses, and no finding is about a tollgate_ metric. Skipped when
     * promtool is not installed, unless TOLLGATE_REQUIRE_PROMTOOL=1 (bin/test sets it once it has installed promtool).
     */
    private void promtoolAccepts(String page) throws Exception {
        String promtool = onPath("promtool");
        if (promtool == null) {
            if ("1".equals(System.getenv("TOLLGATE_REQUIRE_PROMTOOL"))) {
                fail("promtool is not on PATH, and TOLLGATE_REQUIRE_PROMTOOL=1 (install Debian's prometheus package)");
            }
            assumeTrue(false, "promtool is not on PATH: the page was not checked by Prometheus's parser");
        }
        Path pageFile = dir.resolve("metrics.prom");
        Files.writeString(pageFile, page);
        Path output = dir.resolve("promtool.out");
        Process process = new ProcessBuilder(promtool, "check", "metrics").redirectInput(pageFile.toFile())
                .redirectErrorStream(true).redirectOutput(output.toFile()).start();
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("promtool finished").isTrue();
        String findings = Files.readString(output);
        assertThat(findings).as("promtool's findings").doesNotContain("tollgate_").doesNotContainIgnoringCase("error");
        assertThat(process.exitValue()).as("promtool check metrics exit status; it said: %s", findings).isZero();
    }

    private static String onPath(String command) {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String directory : path.split(File.pathSeparator)) {
            File candidate = new File(directory, command);
            if (candidate.isFile() && candidate.canExecute()) {
                return candidate.getPath();
            }
        }
        return null;
    }
}
