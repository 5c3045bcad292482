package dev.tollgate.proxy.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.config.Limits;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.ModelRow;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.config.RouteConfig;
import dev.tollgate.config.RoutingConfig;
import dev.tollgate.journal.JournalEvent;
import dev.tollgate.metering.CostRule;
import dev.tollgate.metering.request.RequestInspector;
import dev.tollgate.proxy.Headers;
import dev.tollgate.proxy.Outcome;
import dev.tollgate.proxy.TestGateways;
import dev.tollgate.proxy.Transport;
import dev.tollgate.proxy.listener.TollgateServer;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Routes through a failing upstream: the model {@code smart} is served by openai/gpt-4o-mini first (a {@link FaultyUpstream})
 * and google/gemini-2.5-flash second (the simulator). Every failure before the first byte falls back; none after it does;
 * the retry budget bounds the attempts; the breaker skips a provider that keeps failing; the reservation covers the dearer
 * candidate and the debit is the serving one's price; the journal names the route and the failed attempts.
 */
class RouteFallbackTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CHAT = "/v1/chat/completions";
    private static final long BALANCE_MICROS = 50_000_000;

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    private final List<AutoCloseable> open = new ArrayList<>();
    private SimulatedProvider sim;
    private FaultyUpstream faulty;
    private TestGateways test;
    private TollgateServer server;

    @AfterEach
    void close() throws Exception {
        if (test != null) {
            assertConserved();
        }
        for (AutoCloseable closeable : open.reversed()) {
            closeable.close();
        }
    }

    private void start(FaultyUpstream.Fault fault, List<RouteConfig.Target> targets, RoutingConfig routing) throws Exception {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
        open.add(sim);
        faulty = new FaultyUpstream(fault);
        open.add(faulty);
        List<ProviderConfig> providers = List.of(
                new ProviderConfig("openai", Protocol.OPENAI, URI.create(faulty.baseUrl()), null, TestGateways.PROVIDER_KEY, null),
                new ProviderConfig("deepseek", Protocol.OPENAI, URI.create(faulty.baseUrl()), null, TestGateways.PROVIDER_KEY, null),
                new ProviderConfig("google", Protocol.OPENAI, URI.create(sim.baseUrl()), null, TestGateways.PROVIDER_KEY, null),
                new ProviderConfig("anthropic", Protocol.ANTHROPIC, URI.create(sim.baseUrl()), null, TestGateways.PROVIDER_KEY, null));
        Limits d = Limits.defaults();
        Limits limits = new Limits(d.maxRequestBodyBytes(), d.maxSseEventBytes(), d.minOutputTokens(), d.promptTokensPerImage(), 2_000, 3_000,
                d.upstreamIdleTimeoutMs(), d.maxAccounts(), d.maxIdleUpstreamConnections(), d.headReadTimeoutMs(), d.clientIdleTimeoutMs(),
                d.maxClientConnections(), d.maxClientConnectionsPerAddress());
        test = new TestGateways(providers, BALANCE_MICROS, limits, List.of(new RouteConfig("smart", targets)), routing);
        open.add(test);
        server = TollgateServer.start(test.gateway, new ListenerConfig("127.0.0.1", 0), 2, Transport.best());
        open.add(server::close);
    }

    private static List<RouteConfig.Target> flakyThenSim() {
        return List.of(new RouteConfig.Target("openai", "gpt-4o-mini", 1, 1), new RouteConfig.Target("google", "gemini-2.5-flash", 2, 1));
    }

    private static RoutingConfig routing(int maxAttempts, int consecutiveFailures) {
        return new RoutingConfig(maxAttempts, 1, 5, new RoutingConfig.Breaker(consecutiveFailures, 100, 1_000, 1_000, 600_000, 1));
    }

    private static String body(boolean stream) {
        return "{\"model\":\"smart\",\"max_tokens\":40,\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello [sim:events=5]\"}]}";
    }

    private HttpResponse<String> post(String json) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + CHAT))
                .header("authorization", "Bearer " + test.key).header("content-type", "application/json")
                .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private Outcome awaitOutcome(int count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (test.outcomes.size() < count && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(test.outcomes).hasSize(count);
        return new ArrayList<>(test.outcomes).getLast();
    }

    private List<JournalEvent.Settled> settled() {
        test.gateway.ledger().writer().awaitWritten();
        List<JournalEvent.Settled> settled = new ArrayList<>();
        test.journal.readAfter(-1, (index, event) -> {
            if (event instanceof JournalEvent.Settled s) {
                settled.add(s);
            }
        });
        return settled;
    }

    private ModelRow row(String provider, String model) {
        return test.gateway.routing().routes().find(provider, model).pricedAt(System.currentTimeMillis()).row();
    }

    /** Nothing held, and the balance plus every debit is the opening credit. */
    private void assertConserved() {
        long debited = settled().stream().mapToLong(JournalEvent.Settled::debitedMicros).sum();
        assertThat(test.reserved()).as("nothing left held").isZero();
        assertThat(test.available() + debited).as("balance + debits = opening credit").isEqualTo(BALANCE_MICROS);
        long outcomes = test.outcomes.size();
        assertThat(test.outcomes.stream().map(Outcome::requestId).distinct().count()).as("one outcome per reservation").isEqualTo(outcomes);
    }

    @ParameterizedTest
    @EnumSource(value = FaultyUpstream.Fault.class, names = {"REFUSE", "RESET", "STATUS_500", "STATUS_429", "HANG"})
    void everyFailureBeforeTheFirstByteFallsBackToTheNextRouteAndIsBilledAtItsPrice(FaultyUpstream.Fault fault) throws Exception {
        start(fault, flakyThenSim(), routing(3, 1_000));
        for (boolean stream : new boolean[] {false, true}) {
            HttpResponse<String> response = post(body(stream));
            assertThat(response.statusCode()).as("%s stream=%s: %s", fault, stream, response.body()).isEqualTo(200);
            Outcome outcome = awaitOutcome(stream ? 2 : 1);
            assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
            assertThat(outcome.provider()).isEqualTo("google");
            assertThat(outcome.model()).isEqualTo("gemini-2.5-flash");
            assertThat(outcome.requestedModel()).isEqualTo("smart");
            String reason = switch (fault) {
                case REFUSE -> "upstream_connect_failed";
                case RESET -> "upstream_connection_lost";
                case STATUS_500 -> "upstream_status_500";
                case STATUS_429 -> "upstream_status_429";
                case HANG -> "upstream_timeout";
                case DIE_MID_STREAM -> throw new AssertionError();
            };
            assertThat(outcome.attemptsBefore()).isEqualTo("openai/gpt-4o-mini:" + reason);
            // Billed at the serving route's price, not the first candidate's.
            assertThat(outcome.costMicros()).isEqualTo(CostRule.costMicros(row("google", "gemini-2.5-flash"), outcome.usage(), 100)).isPositive();
            assertThat(outcome.costMicros()).isNotEqualTo(CostRule.costMicros(row("openai", "gpt-4o-mini"), outcome.usage(), 100));
            // The reservation covered the dearer candidate, whichever was first.
            var inspected = RequestInspector.inspect(EndpointFamily.CHAT_COMPLETIONS, body(stream).getBytes(StandardCharsets.UTF_8), 0,
                    body(stream).length()).request();
            long dearest = Math.max(test.gateway.admission().plan(inspected, row("openai", "gpt-4o-mini")).worstCaseMicros(),
                    test.gateway.admission().plan(inspected, row("google", "gemini-2.5-flash")).worstCaseMicros());
            assertThat(Long.parseLong(response.headers().firstValue(Headers.TOLLGATE_RESERVED.toString()).orElseThrow())).isEqualTo(dearest);
            JsonNode answer = stream ? null : JSON.readTree(response.body());
            if (answer != null) {
                assertThat(answer.path("model").asText()).as("the simulator answers as the model it was asked for").isEqualTo("gemini-2.5-flash");
            }
        }
        assertThat(faulty.requests()).isEqualTo(fault == FaultyUpstream.Fault.REFUSE ? 0 : 2);
        assertThat(sim.requestsReceived()).isEqualTo(2);
        List<JournalEvent.Settled> settled = settled();
        assertThat(settled).hasSize(2).allSatisfy(s -> {
            assertThat(s.request().provider()).isEqualTo("google");
            assertThat(s.request().model()).isEqualTo("gemini-2.5-flash");
            assertThat(s.request().requestedModel()).isEqualTo("smart");
            assertThat(s.request().attempts()).startsWith("openai/gpt-4o-mini:upstream_");
        });
    }

    @Test
    void aStreamThatDiesAfterItsFirstByteIsNeverSentAgain() throws Exception {
        start(FaultyUpstream.Fault.DIE_MID_STREAM, flakyThenSim(), routing(3, 1_000));
        HttpResponse<String> response = post(body(true));
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).contains("Hel").contains("\"error\"");
        Outcome outcome = awaitOutcome(1);
        assertThat(outcome.provider()).isEqualTo("openai");
        assertThat(outcome.attemptsBefore()).isEmpty();
        assertThat(faulty.requests()).isEqualTo(1);
        assertThat(sim.requestsReceived()).as("no second attempt once a byte reached the client").isZero();
    }

    @Test
    void theRetryBudgetBoundsTheAttemptsAndTheLastFailureReachesTheClient() throws Exception {
        start(FaultyUpstream.Fault.STATUS_500, List.of(new RouteConfig.Target("openai", "gpt-4o-mini", 1, 1),
                new RouteConfig.Target("deepseek", "deepseek-chat", 2, 1), new RouteConfig.Target("google", "gemini-2.5-flash", 3, 1)), routing(2, 1_000));
        HttpResponse<String> response = post(body(false));
        assertThat(response.statusCode()).isEqualTo(500);
        assertThat(JSON.readTree(response.body()).path("error").path("type").asText()).isEqualTo("server_error");
        Outcome outcome = awaitOutcome(1);
        assertThat(outcome.status()).isEqualTo(Outcome.RELEASED);
        assertThat(outcome.reason()).isEqualTo("upstream_status_500");
        assertThat(outcome.provider()).isEqualTo("deepseek");
        assertThat(outcome.attemptsBefore()).isEqualTo("openai/gpt-4o-mini:upstream_status_500");
        assertThat(faulty.requests()).as("two attempts: the budget").isEqualTo(2);
        assertThat(sim.requestsReceived()).isZero();
    }

    @Test
    void anOpenBreakerIsSkippedAndShownInTheMetrics() throws Exception {
        start(FaultyUpstream.Fault.STATUS_500, flakyThenSim(), routing(3, 2));
        for (int i = 1; i <= 3; i++) {
            HttpResponse<String> response = post(body(false));
            assertThat(response.statusCode()).as("request %d: %s %s", i, response.body(), test.outcomes).isEqualTo(200);
            awaitOutcome(i);
        }
        assertThat(faulty.requests()).as("two failures open openai's breaker; the third request skips it").isEqualTo(2);
        assertThat(new ArrayList<>(test.outcomes).getLast().attemptsBefore()).isEqualTo("openai/gpt-4o-mini:circuit_open");
        assertThat(test.gateway.breakers().state("openai").name()).isEqualTo("OPEN");
        ByteArrayOutputStream page = new ByteArrayOutputStream();
        test.gateway.metrics().writeTextFormat(page);
        String metrics = page.toString(StandardCharsets.UTF_8);
        assertThat(metrics).contains("tollgate_upstream_circuit_state{provider=\"openai\",state=\"open\"} 1.0")
                .contains("tollgate_upstream_circuit_state{provider=\"google\",state=\"closed\"} 1.0")
                .contains("tollgate_upstream_attempts_total{provider=\"openai\",result=\"circuit_open\"} 1.0")
                .contains("tollgate_upstream_attempts_total{provider=\"openai\",result=\"upstream_status_500\"} 2.0");
    }

    @Test
    void aModelWithoutARouteIsSentWhateverItsProvidersBreakerSays() throws Exception {
        start(FaultyUpstream.Fault.STATUS_500, flakyThenSim(), routing(3, 1));
        String plain = body(false).replace("\"smart\"", "\"gpt-4o-mini\"");
        for (int i = 1; i <= 3; i++) {
            assertThat(post(plain).statusCode()).as("the provider's own 500, no fallback and no refusal").isEqualTo(500);
            assertThat(awaitOutcome(i).attemptsBefore()).isEmpty();
        }
        assertThat(faulty.requests()).isEqualTo(3);
        assertThat(sim.requestsReceived()).isZero();
        assertThat(test.gateway.breakers().state("openai").name()).as("unrouted traffic does not move the breaker").isEqualTo("CLOSED");
    }

    @Test
    void whenEveryCandidateIsOpenTheRequestIsRefusedWithNothingCharged() throws Exception {
        start(FaultyUpstream.Fault.STATUS_500, List.of(new RouteConfig.Target("openai", "gpt-4o-mini", 1, 1)), routing(3, 1));
        assertThat(post(body(false)).statusCode()).isEqualTo(500); // the provider's own error: the one candidate failed
        HttpResponse<String> refused = post(body(false));
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(JSON.readTree(refused.body()).path("error").path("code").asText()).isEqualTo("upstream_circuit_open");
        Outcome outcome = awaitOutcome(2);
        assertThat(outcome.status()).isEqualTo(Outcome.RELEASED);
        assertThat(outcome.reason()).isEqualTo("upstream_circuit_open");
        assertThat(faulty.requests()).isEqualTo(1);
    }
}
