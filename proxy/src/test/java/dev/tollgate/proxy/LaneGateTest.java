package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.AccountConfig;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.LaneConfig;
import dev.tollgate.config.Limits;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.ModelRow;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.journal.JournalEvent;
import dev.tollgate.journal.reconcile.Reconciliation;
import dev.tollgate.journal.reconcile.Statement;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.Usage;
import dev.tollgate.proxy.faults.InvariantChecker;
import dev.tollgate.proxy.lanes.Lane;
import dev.tollgate.proxy.listener.TollgateServer;
import dev.tollgate.proxy.sim.RecordedRequest;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Lanes through a real listener and the simulated provider: a full lane answers in each surface's own shape with
 * retry-after, its queue serves in arrival order and times out, a client that leaves while queued takes nothing with
 * it, a flooded batch lane never queues or refuses an interactive request, the cap holds at the provider under random
 * load, and a lane at 5000 bps is billed half to the micro. The money invariants hold after each.
 */
class LaneGateTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ModelRow MINI = CatalogLoader.loadBuiltin().find("openai", "gpt-4o-mini");

    private final String batchKey = ApiKeys.newRawKey(new SecureRandom());
    private SimulatedProvider sim;
    private TestGateways test;
    private TollgateServer server;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    private final List<Raw> raws = new ArrayList<>();

    /** A node whose account has the test key (in the first lane) and a batch key (in lane batch, which may also pick interactive). */
    private void start(LaneConfig... lanes) throws InterruptedException {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
        test = new TestGateways(sim.baseUrl(), 50_000_000, Limits.defaults(), config -> withBatchKey(config, List.of(lanes)));
        server = TollgateServer.start(test.gateway, new ListenerConfig("127.0.0.1", 0), 2, Transport.best());
    }

    private TollgateConfig withBatchKey(TollgateConfig config, List<LaneConfig> lanes) {
        AccountConfig account = config.accounts().getFirst();
        List<AccountConfig.KeyConfig> keys = new ArrayList<>(account.keys());
        keys.add(new AccountConfig.KeyConfig(ApiKeys.sha256Hex(batchKey), "nightly", "batch", List.of("interactive")));
        return new TollgateConfig(config.proxyListener(), config.providers(), config.catalog(), config.limits(), config.journal(),
                List.of(new AccountConfig(account.id(), account.openingCreditMicros(), keys)), config.adminListener(), config.accessLog(),
                config.alerts(), config.metrics(), config.routes(), config.routing(), lanes);
    }

    @AfterEach
    void stop() {
        raws.forEach(Raw::close);
        if (server != null) {
            server.close();
            sim.close();
            test.close();
        }
    }

    private Lane lane(String name) {
        return test.gateway.lanes().lane(name);
    }

    // ------------------------------------------------------------------------------------------ scenarios

    @Test
    void aFullLaneAnswers429AndAQueueTimeout503Or529WithRetryAfterInEachSurfacesShapeAndNothingReachesTheProvider() throws Exception {
        start(LaneConfig.of("interactive", 8, 0, 1_000), LaneConfig.of("batch", 1, 2, 300));
        Raw holder = send(batchKey, openAi("[sim:hang=before-head] hold the only slot", false), null);
        await(() -> lane("batch").inFlight() == 1 && sim.requestsReceived() == 1, "the holder upstream");
        Raw waitsOpenAi = send(batchKey, openAi("queued first", false), null);
        await(() -> lane("batch").queued() == 1, "one queued");
        Raw waitsAnthropic = send(batchKey, anthropic("queued second"), null);
        await(() -> lane("batch").queued() == 2, "two queued");

        Reply fullOpenAi = send(batchKey, openAi("one too many", false), null).reply();
        assertThat(fullOpenAi.status()).isEqualTo(429);
        assertThat(fullOpenAi.header("retry-after")).as("at most the queue timeout, rounded up to whole seconds").isEqualTo("1");
        assertThat(fullOpenAi.header("retry-after-ms")).isEqualTo("1000");
        JsonNode openAiError = fullOpenAi.json().path("error");
        assertThat(openAiError.path("type").asText()).isEqualTo("requests");
        assertThat(openAiError.path("code").asText()).isEqualTo("lane_full");
        assertThat(openAiError.path("message").asText()).contains("lane `batch` is full").contains("Nothing was charged");
        Reply fullAnthropic = send(batchKey, anthropic("one too many"), null).reply();
        assertThat(fullAnthropic.status()).isEqualTo(429);
        assertThat(fullAnthropic.header("retry-after")).isNotNull();
        assertThat(fullAnthropic.json().path("type").asText()).isEqualTo("error");
        assertThat(fullAnthropic.json().path("error").path("type").asText()).isEqualTo("rate_limit_error");

        // An interactive request meanwhile: its lane is not the batch lane's.
        assertThat(send(test.key, openAi("interactive", false), null).reply().status()).isEqualTo(200);

        Reply timedOut = waitsOpenAi.reply();
        assertThat(timedOut.status()).isEqualTo(503);
        assertThat(timedOut.header("retry-after")).isEqualTo("1");
        assertThat(timedOut.json().path("error").path("type").asText()).isEqualTo("server_error");
        assertThat(timedOut.json().path("error").path("code").asText()).isEqualTo("lane_queue_timeout");
        assertThat(timedOut.json().path("error").path("message").asText()).contains("no free slot within 300 ms");
        Reply overloaded = waitsAnthropic.reply();
        assertThat(overloaded.status()).as("Anthropic's own status for overload").isEqualTo(529);
        assertThat(overloaded.header("retry-after")).isEqualTo("1");
        assertThat(overloaded.json().path("error").path("type").asText()).isEqualTo("overloaded_error");

        holder.close();
        await(() -> lane("batch").inFlight() == 0, "the holder's slot back");
        assertThat(sim.requestsReceived()).as("the holder and the interactive request; nothing refused or timed out went upstream").isEqualTo(2);
        assertThat(lane("batch").refusedFull()).isEqualTo(2);
        assertThat(lane("batch").refusedTimedOut()).isEqualTo(2);
        await(() -> test.outcomes.size() == 2, "two outcomes");
        assertThat(test.outcomes).extracting(Outcome::lane, Outcome::status).containsExactlyInAnyOrder(
                org.assertj.core.groups.Tuple.tuple("batch", Outcome.RELEASED), org.assertj.core.groups.Tuple.tuple("interactive", Outcome.SETTLED));
        InvariantChecker.check(test).assertHolds();
    }

    @Test
    void queuedRequestsGoUpstreamInArrivalOrderAndOneWhoseClientLeftIsDroppedWithoutLeakingASlot() throws Exception {
        start(LaneConfig.of("interactive", 8, 0, 1_000), LaneConfig.of("batch", 1, 8, 60_000));
        Raw holder = send(batchKey, openAi("[sim:hang=before-head] order-0", false), null);
        await(() -> lane("batch").inFlight() == 1 && sim.requestsReceived() == 1, "the holder upstream");
        List<Raw> queued = new ArrayList<>();
        for (int i = 1; i <= 4; i++) {
            queued.add(send(batchKey, openAi("order-" + i, false), null));
            int expected = i;
            await(() -> lane("batch").queued() == expected, expected + " queued");
        }
        queued.get(1).close(); // order-2's client leaves while it waits
        await(() -> lane("batch").queued() == 3 && lane("batch").leftWhileQueued() == 1, "order-2 dropped from the queue");
        assertThat(lane("batch").inFlight()).isEqualTo(1);

        holder.close();
        for (int i : new int[] {0, 2, 3}) {
            assertThat(queued.get(i).reply().status()).as("order-%d", i + 1).isEqualTo(200);
        }
        await(() -> lane("batch").inFlight() == 0 && lane("batch").queued() == 0, "every slot back");
        List<String> upstreamOrder = new ArrayList<>();
        for (RecordedRequest request : sim.recentRequests()) {
            java.util.regex.Matcher order = java.util.regex.Pattern.compile("order-(\\d)").matcher(request.body());
            if (order.find()) {
                upstreamOrder.add(order.group(1));
            }
        }
        assertThat(upstreamOrder).as("first in, first out; the one that left never went").containsExactly("0", "1", "3", "4");
        await(() -> test.outcomes.size() == 4, "four outcomes");
        InvariantChecker.check(test).assertHolds();
    }

    @Test
    void aFloodedBatchLaneNeverQueuesNorRefusesAnInteractiveRequestNorLendsItsConnections() throws Exception {
        start(LaneConfig.of("interactive", 4, 0, 1_000), LaneConfig.of("batch", 2, 4, 60_000).withPriority(1));
        List<Raw> holders = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            holders.add(send(batchKey, openAi("[sim:hang=before-head] hold", true), null));
        }
        await(() -> lane("batch").inFlight() == 2 && sim.requestsReceived() == 2, "both batch slots upstream");
        List<Raw> waiting = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            waiting.add(send(batchKey, openAi("waits", true), null));
        }
        await(() -> lane("batch").queued() == 4, "the batch queue full");
        // The batch lane is flooded: ten more are refused, and the interactive lane goes on as if it were idle.
        List<CompletableFuture<HttpResponse<String>>> refused = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            refused.add(postAsync(batchKey, openAi("flood", true), null));
        }
        AtomicInteger interactiveOk = new AtomicInteger();
        List<Thread> clients = new ArrayList<>();
        for (int c = 0; c < 4; c++) {
            Thread client = new Thread(() -> {
                for (int i = 0; i < 10; i++) {
                    try {
                        if (post(test.key, openAi("interactive while batch floods", i % 2 == 0), null).statusCode() == 200) {
                            interactiveOk.incrementAndGet();
                        }
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
            });
            clients.add(client);
            client.start();
        }
        for (Thread client : clients) {
            client.join(TimeUnit.SECONDS.toMillis(60));
        }
        for (CompletableFuture<HttpResponse<String>> response : refused) {
            assertThat(response.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(429);
        }
        assertThat(interactiveOk.get()).isEqualTo(40);
        assertThat(lane("interactive").waitedInQueue()).as("no interactive request waited").isZero();
        assertThat(lane("interactive").refusedFull()).isZero();
        assertThat(lane("interactive").refusedTimedOut()).isZero();
        assertThat(lane("batch").refusedFull()).isEqualTo(10);
        assertThat(lane("batch").upstream().open()).as("the batch lane holds its two connections, no more").isLessThanOrEqualTo(2);
        assertThat(lane("interactive").upstream().open()).isLessThanOrEqualTo(4);

        holders.forEach(Raw::close);
        for (Raw wait : waiting) {
            assertThat(wait.reply().status()).isEqualTo(200);
        }
        await(() -> lane("batch").inFlight() == 0 && lane("interactive").inFlight() == 0, "every slot back");
        await(() -> test.outcomes.size() == 40 + 6, "every outcome");
        assertThat(test.outcomes).filteredOn(o -> o.keyLabel().equals("nightly")).extracting(Outcome::lane).containsOnly("batch");
        assertThat(test.outcomes).filteredOn(o -> o.keyLabel().equals("test-key")).extracting(Outcome::lane).containsOnly("interactive");
        InvariantChecker.check(test).assertHolds();
    }

    /** Randomized: a seeded mix of streams of random lengths and delays; the provider never sees more of the lane at once than its cap. */
    @Test
    void theProviderNeverSeesMoreOfALaneAtOnceThanItsCap() throws Exception {
        long seed = Long.getLong("tollgate.seed", 20261209L);
        System.out.println("LaneGateTest seed=" + seed + " (rerun with -Dtollgate.seed=" + seed + ")");
        int cap = 3;
        start(LaneConfig.of("interactive", 8, 0, 1_000), LaneConfig.of("batch", cap, 200, 60_000));
        SplittableRandom random = new SplittableRandom(seed);
        AtomicBoolean sampling = new AtomicBoolean(true);
        AtomicInteger peakAtProvider = new AtomicInteger();
        AtomicInteger peakConnections = new AtomicInteger();
        Thread sampler = new Thread(() -> {
            while (sampling.get()) {
                peakAtProvider.accumulateAndGet((int) sim.openStreams(), Math::max);
                peakConnections.accumulateAndGet(lane("batch").upstream().open(), Math::max);
                Thread.onSpinWait();
            }
        });
        sampler.start();
        int requests = 40;
        List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            String prompt = "[sim:first-byte-ms=" + random.nextInt(40) + "] [sim:events=" + (1 + random.nextInt(12)) + "] [sim:delay-ms="
                    + random.nextInt(4) + "] r" + i;
            responses.add(postAsync(batchKey, openAi(prompt, true), null));
        }
        for (CompletableFuture<HttpResponse<String>> response : responses) {
            assertThat(response.get(60, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        }
        await(() -> lane("batch").inFlight() == 0, "every slot back");
        sampling.set(false);
        sampler.join();
        System.out.println("LaneGateTest: peak at the provider " + peakAtProvider.get() + ", queued " + lane("batch").waitedInQueue() + " of " + requests);
        assertThat(peakAtProvider.get()).as("streams open at the provider at once").isLessThanOrEqualTo(cap);
        assertThat(peakConnections.get()).as("the lane's upstream connections").isLessThanOrEqualTo(cap);
        assertThat(lane("batch").admittedOnArrival() + lane("batch").waitedInQueue()).isEqualTo(requests);
        await(() -> test.outcomes.size() == requests, "every outcome");
        assertThat(test.outcomes).extracting(Outcome::status).containsOnly(Outcome.SETTLED);
        InvariantChecker.check(test).assertHolds();
    }

    /**
     * A lane with fewer upstream connections than slots: its requests take turns on its one connection, whichever event
     * loop each arrived on (a loop that needs it has the other close its idle one), and all are served.
     */
    @Test
    void aLanesUpstreamConnectionsAreCountedOnTheWholeNodeAndItsRequestsWaitForOneOfItsOwn() throws Exception {
        start(LaneConfig.of("interactive", 8, 0, 1_000), LaneConfig.of("batch", 4, 32, 60_000).withUpstreamConnections(1));
        AtomicBoolean sampling = new AtomicBoolean(true);
        AtomicInteger peakConnections = new AtomicInteger();
        AtomicInteger peakAtProvider = new AtomicInteger();
        Thread sampler = new Thread(() -> {
            while (sampling.get()) {
                peakConnections.accumulateAndGet(lane("batch").upstream().open(), Math::max);
                peakAtProvider.accumulateAndGet((int) sim.openStreams(), Math::max);
                Thread.onSpinWait();
            }
        });
        sampler.start();
        for (int round = 0; round < 3; round++) {
            List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                responses.add(postAsync(batchKey, openAi("[sim:first-byte-ms=5] [sim:events=4] take turns " + round + "-" + i, true), null));
            }
            for (CompletableFuture<HttpResponse<String>> response : responses) {
                assertThat(response.get(60, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            }
        }
        await(() -> lane("batch").inFlight() == 0, "every slot back");
        sampling.set(false);
        sampler.join();
        assertThat(peakConnections.get()).as("the lane's connections open at once, on both loops together").isEqualTo(1);
        assertThat(peakAtProvider.get()).isLessThanOrEqualTo(1);
        // The interactive lane's connections are its own: the batch lane's budget is spent, and it still connects.
        assertThat(post(test.key, openAi("interactive", false), null).statusCode()).isEqualTo(200);
        await(() -> test.outcomes.size() == 25, "every outcome");
        InvariantChecker.check(test).assertHolds();
    }

    /**
     * The same request in the interactive lane and in a batch lane at 5000 bps: the batch debit is the exact cost halved
     * and rounded up once, to the micro; the key may pick interactive by header (and pays the list price there); the
     * facts, the statement and the usage by lane say which lane and multiplier billed what.
     */
    @Test
    void aLaneAtHalfPriceIsBilledExactlyHalfRoundedUpOnceAndSaysSoOnTheStatement() throws Exception {
        start(LaneConfig.of("interactive", 8, 0, 1_000), LaneConfig.of("batch", 8, 0, 1_000).withPriceMultiplierBps(5_000));
        String body = openAi("the same question [sim:events=36]", false); // 16 prompt and 36 output tokens: 2.4 + 21.6 = 24 micros exactly
        assertThat(post(test.key, body, null).statusCode()).isEqualTo(200);
        assertThat(post(batchKey, body, null).statusCode()).isEqualTo(200);
        assertThat(post(batchKey, body, "interactive").statusCode()).as("the batch key may pick interactive").isEqualTo(200);

        HttpResponse<String> unknown = post(batchKey, body, "express");
        assertThat(unknown.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(unknown.body()).path("error").path("code").asText()).isEqualTo("unknown_lane");
        assertThat(JSON.readTree(unknown.body()).path("error").path("message").asText()).contains("`express`").contains("interactive, batch");
        HttpResponse<String> notAllowed = post(test.key, body, "batch");
        assertThat(notAllowed.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(notAllowed.body()).path("error").path("code").asText()).isEqualTo("lane_not_allowed");
        Reply anthropicUnknown = send(batchKey, anthropic("x"), "express").reply();
        assertThat(anthropicUnknown.status()).isEqualTo(400);
        assertThat(anthropicUnknown.json().path("error").path("type").asText()).isEqualTo("invalid_request_error");
        assertThat(anthropicUnknown.json().path("error").path("message").asText()).contains("`express`");

        await(() -> test.outcomes.size() == 3, "three outcomes");
        List<Outcome> interactive = test.outcomes.stream().filter(o -> o.lane().equals("interactive")).toList();
        Outcome batch = test.outcomes.stream().filter(o -> o.lane().equals("batch")).findFirst().orElseThrow();
        assertThat(interactive).hasSize(2);
        for (Outcome full : interactive) {
            assertThat(full.usage()).isEqualTo(batch.usage());
            assertThat(full.debitedMicros()).isEqualTo(exactCeil(batch.usage(), 10_000));
        }
        // The exact cost times 5000 / 10000, rounded up once: never the list-price debit halved (which rounds twice).
        assertThat(batch.debitedMicros()).isEqualTo(exactCeil(batch.usage(), 5_000));
        assertThat(2 * batch.debitedMicros()).as("a whole, even cost halves to the micro").isEqualTo(interactive.getFirst().debitedMicros()).isEqualTo(24);
        System.out.println("LaneGateTest: " + batch.usage() + " costs " + interactive.getFirst().debitedMicros() + " micros, "
                + batch.debitedMicros() + " at 5000 bps");

        test.gateway.ledger().writer().awaitWritten();
        List<JournalEvent.RequestFacts> settled = new ArrayList<>();
        test.journal.readAfter(-1, (index, event) -> {
            if (event instanceof JournalEvent.Settled s) {
                settled.add(s.request());
            }
        });
        assertThat(settled).extracting(JournalEvent.RequestFacts::lane, JournalEvent.RequestFacts::priceMultiplierBps).containsExactlyInAnyOrder(
                org.assertj.core.groups.Tuple.tuple("interactive", 10_000), org.assertj.core.groups.Tuple.tuple("batch", 5_000),
                org.assertj.core.groups.Tuple.tuple("interactive", 10_000));
        Reconciliation reconciliation = Reconciliation.load(test.journal, null);
        Statement statement = reconciliation.statement(TestGateways.ACCOUNT, YearMonth.now(ZoneOffset.UTC));
        assertThat(statement.debits()).extracting(Statement.DebitLine::lane, Statement.DebitLine::priceMultiplierBps, line -> line.totals().requests(),
                Statement.DebitLine::costMicros).containsExactly(
                org.assertj.core.groups.Tuple.tuple("batch", 5_000, 1L, batch.debitedMicros()),
                org.assertj.core.groups.Tuple.tuple("interactive", 10_000, 2L, 2 * interactive.getFirst().debitedMicros()));
        assertThat(reconciliation.usage(dev.tollgate.journal.reconcile.UsageQuery.of(0, Long.MAX_VALUE,
                dev.tollgate.journal.reconcile.UsageQuery.Dimension.LANE))).extracting(dev.tollgate.journal.reconcile.UsageRow::lane)
                .containsExactly("batch", "interactive");
        InvariantChecker.check(test).assertHolds();
    }

    /** The cost rule worked again by hand: the exact rational of the usage at gpt-4o-mini's prices, times bps / 10000, rounded up once. */
    private static long exactCeil(Usage usage, int bps) {
        assertThat(usage.cacheWriteTokens()).isZero();
        BigDecimal micros = BigDecimal.valueOf(usage.inputTokens()).multiply(BigDecimal.valueOf(MINI.inputMicrosPerMillionTokens()))
                .add(BigDecimal.valueOf(usage.cacheReadTokens()).multiply(BigDecimal.valueOf(MINI.cacheReadMicrosPerMillionTokens())))
                .add(BigDecimal.valueOf(usage.outputTokens()).multiply(BigDecimal.valueOf(MINI.outputMicrosPerMillionTokens())))
                .multiply(BigDecimal.valueOf(bps)).divide(BigDecimal.valueOf(1_000_000L * 10_000L), 0, RoundingMode.CEILING);
        return micros.longValueExact();
    }

    // ------------------------------------------------------------------------------------------ requests

    private static String openAi(String prompt, boolean stream) {
        return "{\"model\":\"gpt-4o-mini\",\"max_tokens\":64," + (stream ? "\"stream\":true," : "") + "\"messages\":[{\"role\":\"user\",\"content\":\""
                + prompt + "\"}]}";
    }

    /** An Anthropic Messages request; sent to /v1/messages. */
    private static String anthropic(String prompt) {
        return "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}";
    }

    private static boolean isAnthropic(String body) {
        return body.contains("claude-");
    }

    private HttpRequest request(String key, String body, String lane) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
                .header("authorization", "Bearer " + key).header("content-type", "application/json").timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (lane != null) {
            builder.header("x-tollgate-lane", lane);
        }
        return builder.build();
    }

    private HttpResponse<String> post(String key, String body, String lane) throws Exception {
        return http.send(request(key, body, lane), HttpResponse.BodyHandlers.ofString());
    }

    private CompletableFuture<HttpResponse<String>> postAsync(String key, String body, String lane) {
        return http.sendAsync(request(key, body, lane), HttpResponse.BodyHandlers.ofString());
    }

    /** Sends over a socket of its own, so the test decides when the client leaves. */
    private Raw send(String key, String body, String lane) throws IOException {
        Raw raw = new Raw(server.port(), key, body, lane);
        raws.add(raw);
        return raw;
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("never happened: " + what);
            }
            Thread.sleep(2);
        }
    }

    private record Reply(int status, Map<String, String> headers, String body) {
        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        JsonNode json() throws IOException {
            return JSON.readTree(body);
        }
    }

    /** One request with {@code connection: close} on its own socket: the whole answer is what comes before the end of the stream. */
    private static final class Raw implements AutoCloseable {
        private final Socket socket;

        Raw(int port, String key, String body, String lane) throws IOException {
            socket = new Socket("127.0.0.1", port);
            socket.setSoTimeout(30_000);
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            StringBuilder head = new StringBuilder("POST ").append(isAnthropic(body) ? "/v1/messages" : "/v1/chat/completions")
                    .append(" HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\n");
            head.append(isAnthropic(body) ? "x-api-key: " + key + "\r\nanthropic-version: 2023-06-01\r\n" : "authorization: Bearer " + key + "\r\n");
            if (lane != null) {
                head.append("x-tollgate-lane: ").append(lane).append("\r\n");
            }
            head.append("content-length: ").append(bytes.length).append("\r\n\r\n");
            socket.getOutputStream().write(head.toString().getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().write(bytes);
            socket.getOutputStream().flush();
        }

        Reply reply() throws IOException {
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            in.transferTo(all);
            String text = all.toString(StandardCharsets.UTF_8);
            int end = text.indexOf("\r\n\r\n");
            assertThat(end).as("a response head in: %s", text).isPositive();
            String[] lines = text.substring(0, end).split("\r\n");
            Map<String, String> headers = new LinkedHashMap<>();
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                headers.put(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).strip());
            }
            return new Reply(Integer.parseInt(lines[0].split(" ")[1]), headers, text.substring(end + 4));
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException e) {
                // closing is all that is asked
            }
        }
    }
}
