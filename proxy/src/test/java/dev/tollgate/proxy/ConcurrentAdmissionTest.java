package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.config.Limits;
import dev.tollgate.config.ModelRow;
import dev.tollgate.metering.CostRule;
import dev.tollgate.metering.request.Admission;
import dev.tollgate.metering.request.RequestInspector;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * 200 concurrent requests against a balance that affords 50 worst cases. Whatever the interleaving,
 * the balance never goes negative, every admitted request has exactly one outcome, the per-request
 * debits add up to the balance movement, and conservation is exact at the end. Randomized with a
 * printed seed: rerun a failure with {@code -Dtollgate.seed=N}.
 */
class ConcurrentAdmissionTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int REQUESTS = 200;
    private static final int AFFORDABLE_WORST_CASES = 50;
    private static final int MAX_TOKENS = 300;
    private static final ModelRow MINI = CatalogLoader.loadBuiltin().find("openai", "gpt-4o-mini");

    @Test
    void concurrentRequestsNeverOverspendAndConserveMoney() throws Exception {
        long baseSeed = Long.getLong("tollgate.seed", 20261127L);
        for (int round = 0; round < 3; round++) {
            long seed = baseSeed + round;
            System.out.println("ConcurrentAdmissionTest seed=" + seed + " (rerun with -Dtollgate.seed=" + seed + ")");
            runRound(seed, false);
        }
        System.out.println("ConcurrentAdmissionTest misbehaving-upstream seed=" + baseSeed);
        runRound(baseSeed, true);
        ReliabilityLog.row("admission", "concurrent admission", REQUESTS + " concurrent requests per round (one round with an upstream that ignores max_tokens) against a balance for "
                        + AFFORDABLE_WORST_CASES + " worst cases", "no overspend (available >= 0); conservation; one outcome per reservation",
                4L * REQUESTS, 0, ReliabilityLog.proxyTest("ConcurrentAdmissionTest"));
    }

    /** Every body has the same length, so every request has the same worst case. */
    private static String body(boolean stream, int events, boolean ignoreCap) {
        String directives = String.format("[sim:events=%04d] [sim:first-byte-ms=0100] [sim:delay-ms=0001]%s", events,
                ignoreCap ? " [sim:ignore-max-tokens]" : "                       ");
        return "{\"model\":\"gpt-4o-mini\",\"stream\":" + (stream ? "true " : "false") + ",\"max_tokens\":" + MAX_TOKENS
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me something. " + directives + "\"}]}";
    }

    private static long worstCaseMicros(Limits limits) {
        byte[] bytes = body(false, 0, false).getBytes(StandardCharsets.UTF_8);
        var inspected = RequestInspector.inspect(EndpointFamily.CHAT_COMPLETIONS, bytes, 0, bytes.length).request();
        return new Admission(limits).plan(inspected, MINI).worstCaseMicros();
    }

    private void runRound(long seed, boolean misbehavingUpstream) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        Limits limits = Limits.defaults();
        long worstCase = worstCaseMicros(limits);
        long balance = AFFORDABLE_WORST_CASES * worstCase;
        try (ProxyStack stack = new ProxyStack(balance, limits, SimulatedProvider.Settings.defaults().withIoThreads(2))) {
            AtomicBoolean running = new AtomicBoolean(true);
            AtomicLong lowestAvailable = new AtomicLong(Long.MAX_VALUE);
            Thread monitor = Thread.ofPlatform().daemon().start(() -> {
                while (running.get()) {
                    lowestAvailable.accumulateAndGet(stack.test.available(), Math::min);
                    Thread.onSpinWait();
                }
            });
            List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
            List<Boolean> streamed = new ArrayList<>();
            for (int i = 0; i < REQUESTS; i++) {
                boolean stream = random.nextBoolean();
                boolean ignoreCap = misbehavingUpstream && random.nextInt(3) == 0;
                int events = random.nextInt(MAX_TOKENS + 200);
                streamed.add(stream);
                HttpRequest request = HttpRequest.newBuilder(URI.create(stack.baseUrl() + "/v1/chat/completions"))
                        .header("authorization", "Bearer " + stack.test.key).header("content-type", "application/json")
                        .timeout(Duration.ofSeconds(60))
                        .POST(HttpRequest.BodyPublishers.ofString(body(stream, events, ignoreCap))).build();
                responses.add(stack.http.sendAsync(request, HttpResponse.BodyHandlers.ofString()));
            }
            int admitted = 0;
            java.util.Set<String> streamedRequestIds = new java.util.HashSet<>();
            for (int i = 0; i < responses.size(); i++) {
                HttpResponse<String> response = responses.get(i).get();
                if (response.statusCode() == 200) {
                    admitted++;
                    if (streamed.get(i)) {
                        streamedRequestIds.add(response.headers().firstValue("x-tollgate-request-id").orElseThrow());
                    }
                } else {
                    assertThat(response.statusCode()).as(response.body()).isEqualTo(429);
                    assertThat(JSON.readTree(response.body()).at("/error/code").asText()).isEqualTo("insufficient_quota");
                }
            }
            List<Outcome> outcomes = stack.awaitOutcomes(admitted);
            running.set(false);
            monitor.join();

            System.out.printf("  admitted %d of %d, cut at the reservation %d, debited %d of %d micros%n", admitted, REQUESTS,
                    outcomes.stream().filter(o -> o.reason().equals("cut_at_reservation")).count(),
                    outcomes.stream().mapToLong(Outcome::debitedMicros).sum(), balance);
            assertThat(admitted).as("at least the affordable worst cases are admitted").isGreaterThanOrEqualTo(AFFORDABLE_WORST_CASES);
            assertThat(outcomes).as("one outcome per admitted request").hasSize(admitted);
            assertThat(outcomes.stream().map(Outcome::requestId).distinct().count()).isEqualTo(admitted);
            assertThat(lowestAvailable.get()).as("available never below zero").isNotNegative();
            assertThat(stack.test.reserved()).isZero();
            assertThat(stack.test.conservationError()).isZero();
            long debited = outcomes.stream().mapToLong(Outcome::debitedMicros).sum();
            assertThat(debited).as("the per-request debits are the balance movement").isEqualTo(balance - stack.test.available());
            var replayed = stack.test.replayJournal();
            assertThat(replayed.openReservations()).isEmpty();
            assertThat(replayed.account(TestGateways.ACCOUNT).availableMicros()).as("journal replay equals the live counters").isEqualTo(stack.test.available());
            assertThat(replayed.account(TestGateways.ACCOUNT).debitedMicros()).isEqualTo(debited);
            long oneTokenMicros = CostRule.costMicros(1, MINI.outputMicrosPerMillionTokens());
            for (Outcome outcome : outcomes) {
                assertThat(outcome.debitedMicros() + outcome.writtenOffMicros()).isEqualTo(outcome.costMicros());
                if (misbehavingUpstream) {
                    // Streams are guarded inline: at most the one event that crossed the line is unpaid. A JSON
                    // body arrives whole, so only the provider honouring the lowered cap bounds it (the real ones do).
                    if (streamedRequestIds.contains(outcome.requestId())) {
                        assertThat(outcome.writtenOffMicros()).as("overshoot bound: one event's tokens").isLessThanOrEqualTo(oneTokenMicros);
                    }
                } else {
                    assertThat(outcome.writtenOffMicros()).isZero();
                    assertThat(outcome.debitedMicros()).isLessThanOrEqualTo(outcome.heldMicros());
                }
            }
        }
    }
}
