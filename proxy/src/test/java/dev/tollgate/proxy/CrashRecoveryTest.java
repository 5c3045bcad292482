package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.Durability;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent;
import dev.tollgate.journal.Ledger;
import dev.tollgate.journal.LedgerState;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Tollgate node in a child JVM serves streaming load and is killed with SIGKILL at random moments,
 * then restarted on the same journal, again and again. After every recovery: conservation is exact,
 * every reservation has exactly one outcome, every response a client received whole has its debit in
 * the journal (none lost), no debit is recorded twice, and the restarted node's live balance equals
 * the journal replayed from empty. Nodes alternate between {@code page_cache} durability (records
 * appended on the event loops) and {@code per_debit} (records appended by the writer thread, in
 * group commits), on the same journal.
 *
 * <p>{@code -Dtollgate.crashCycles=N} sets the number of kills (default 5; the full run uses 20), and
 * {@code -Dtollgate.seed=N} replays a run.
 */
class CrashRecoveryTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ACCOUNT = "crash";
    private static final long OPENING_CREDIT_MICROS = 50_000_000;
    private static final int MIN_WHOLE_RESPONSES_PER_CYCLE = 5;

    @TempDir
    Path directory;

    @Test
    void killedAtRandomMomentsItRecoversWithEveryInvariantIntact() throws Exception {
        long seed = Long.getLong("tollgate.seed", 20261127L);
        int cycles = Integer.getInteger("tollgate.crashCycles", 5);
        System.out.println("CrashRecoveryTest seed=" + seed + " cycles=" + cycles + " (rerun with -Dtollgate.seed=" + seed + ")");
        SplittableRandom random = new SplittableRandom(seed);
        String key = ApiKeys.newRawKey(new SecureRandom());
        Path journal = directory.resolve("journal");
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
        Set<String> completedRequestIds = ConcurrentHashMap.newKeySet();
        int sent = 0;

        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults().withIoThreads(2))) {
            for (int cycle = 0; cycle <= cycles; cycle++) {
                Process node = startNode(journal, sim.baseUrl(), key, cycle);
                int port = awaitPort(node, cycle);
                verifyRecovered(journal, completedRequestIds, http, port, key, cycle);
                if (cycle == cycles) {
                    node.destroyForcibly().waitFor();
                    break;
                }
                // Kill at a random moment once this cycle has served some whole responses, so every cycle
                // really carries load however slow the machine is (a cold JVM, a busy neighbour).
                List<CompletableFuture<Void>> inFlight = new ArrayList<>();
                int completedBefore = completedRequestIds.size();
                long extraMs = random.nextInt(800);
                long killAtNanos = Long.MAX_VALUE;
                long giveUpNanos = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (System.nanoTime() < killAtNanos && System.nanoTime() < giveUpNanos) {
                    inFlight.add(send(http, port, key, random, completedRequestIds));
                    sent++;
                    Thread.sleep(random.nextInt(4));
                    if (killAtNanos == Long.MAX_VALUE && completedRequestIds.size() - completedBefore >= MIN_WHOLE_RESPONSES_PER_CYCLE) {
                        killAtNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(extraMs);
                    }
                }
                assertThat(completedRequestIds.size() - completedBefore).as("cycle " + cycle + " served whole responses before the kill")
                        .isGreaterThanOrEqualTo(MIN_WHOLE_RESPONSES_PER_CYCLE);
                node.destroyForcibly(); // SIGKILL: no shutdown hook, no final snapshot, reservations left open
                node.waitFor();
                CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new)).exceptionally(e -> null).get(60, TimeUnit.SECONDS);
            }
        }
        assertThat(completedRequestIds).as("the load really ran").hasSizeGreaterThanOrEqualTo(cycles * MIN_WHOLE_RESPONSES_PER_CYCLE);
        ReliabilityLog.row("crash", "crash loop (" + cycles + " kills)", "SIGKILL of the node at random moments under streaming load, restart on the same journal",
                "conservation; one outcome per reservation; every whole response's debit journaled once; live balance == journal replay",
                sent, 0, ReliabilityLog.proxyTest("CrashRecoveryTest") + " -Dtollgate.crashCycles=" + cycles);
    }

    private static CompletableFuture<Void> send(HttpClient http, int port, String key, SplittableRandom random, Set<String> completed) {
        boolean stream = random.nextInt(4) != 0;
        boolean anthropic = random.nextInt(3) == 0;
        String directives = "[sim:events=" + (1 + random.nextInt(60)) + "] [sim:delay-ms=" + random.nextInt(8) + "]";
        String body = anthropic
                ? "{\"model\":\"claude-haiku-4-5\",\"stream\":" + stream + ",\"max_tokens\":200,\"messages\":[{\"role\":\"user\",\"content\":\"crash " + directives + "\"}]}"
                : "{\"model\":\"gpt-4o-mini\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"crash " + directives + "\"}]}";
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + (anthropic ? "/v1/messages" : "/v1/chat/completions")))
                .header(anthropic ? "x-api-key" : "authorization", anthropic ? key : "Bearer " + key)
                .header("content-type", "application/json")
                .timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return http.sendAsync(request, HttpResponse.BodyHandlers.ofString()).thenAccept(response -> {
            boolean whole = response.statusCode() == 200 && (!stream
                    || response.body().endsWith("data: [DONE]\n\n") || response.body().contains("event: message_stop"));
            if (whole) {
                completed.add(response.headers().firstValue("x-tollgate-request-id").orElseThrow());
            }
        }).exceptionally(e -> null); // cut by the kill: whatever it was charged, the journal checks below account for it
    }

    /** Even cycles append on the event loops, odd ones through the writer thread. */
    static Durability durabilityOf(int cycle) {
        return cycle % 2 == 0 ? Durability.PAGE_CACHE : Durability.PER_DEBIT;
    }

    private Process startNode(Path journal, String upstream, String key, int cycle) throws Exception {
        Path portFile = directory.resolve("port-" + cycle);
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        for (String argument : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (argument.startsWith("--") || argument.startsWith("-D") || argument.startsWith("-Xmx")) {
                command.add(argument);
            }
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), CrashTestNode.class.getName(), journal.toString(),
                portFile.toString(), upstream, ACCOUNT, Long.toString(OPENING_CREDIT_MICROS), ApiKeys.sha256Hex(key), durabilityOf(cycle).name()));
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(directory.resolve("node-" + cycle + ".log").toFile()).start();
    }

    private int awaitPort(Process node, int cycle) throws Exception {
        Path portFile = directory.resolve("port-" + cycle);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.exists(portFile)) {
            if (!node.isAlive()) {
                throw new AssertionError("the node died on start-up, cycle " + cycle + ":\n" + Files.readString(directory.resolve("node-" + cycle + ".log")));
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the node did not start, cycle " + cycle + ":\n" + Files.readString(directory.resolve("node-" + cycle + ".log")));
            }
            Thread.sleep(20);
        }
        return Integer.parseInt(Files.readString(portFile).strip());
    }

    /** The checks after each recovery: against the journal read from disk, and against the restarted node. */
    private static void verifyRecovered(Path journalDirectory, Set<String> completedRequestIds, HttpClient http, int port, String key, int cycle)
            throws Exception {
        LedgerState replayed = new LedgerState();
        Map<Long, Integer> outcomesPerReservation = new HashMap<>();
        Set<Long> reservations = new HashSet<>();
        Map<String, Integer> debitsPerRequest = new HashMap<>();
        try (Journal journal = Journal.openReadOnly(journalDirectory)) {
            journal.readAfter(-1, (index, event) -> {
                replayed.apply(index, event);
                switch (event) {
                    case JournalEvent.ReservationMade made -> assertThat(reservations.add(made.reservationId())).as("reservation id reused").isTrue();
                    case JournalEvent.Settled settled -> {
                        outcomesPerReservation.merge(settled.reservationId(), 1, Integer::sum);
                        debitsPerRequest.merge(settled.request().requestId(), 1, Integer::sum);
                    }
                    case JournalEvent.Released released -> outcomesPerReservation.merge(released.reservationId(), 1, Integer::sum);
                    default -> { }
                }
            });
        }
        String when = "after recovery " + cycle;
        assertThat(replayed.openReservations()).as(when + ": recovery closed every open reservation").isEmpty();
        assertThat(outcomesPerReservation.keySet()).as(when + ": outcomes only for reservations that exist").isEqualTo(reservations);
        assertThat(outcomesPerReservation.values()).as(when + ": exactly one outcome per reservation").allMatch(count -> count == 1);
        assertThat(debitsPerRequest.values()).as(when + ": no debit recorded twice").allMatch(count -> count == 1);
        assertThat(debitsPerRequest.keySet()).as(when + ": every response received whole has its debit").containsAll(completedRequestIds);
        LedgerState.Account account = replayed.account(ACCOUNT);
        assertThat(account.conservationErrorMicros()).as(when + ": credited - debited == available + reserved").isZero();
        assertThat(account.creditedMicros()).as(when + ": the opening credit applied once").isEqualTo(OPENING_CREDIT_MICROS);
        assertThat(account.availableMicros()).isNotNegative();
        assertThat(replayed.openReservations()).isEmpty();
        assertThat(Ledger.RECOVERY_REASON).isNotEmpty();

        HttpResponse<String> balance = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/tollgate/v1/balance"))
                .header("authorization", "Bearer " + key).timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        JsonNode live = JSON.readTree(balance.body());
        assertThat(live.get("available_micros").asLong()).as(when + ": the live balance is the journal's").isEqualTo(account.availableMicros());
        assertThat(live.get("debited_micros").asLong()).isEqualTo(account.debitedMicros());
        assertThat(live.get("reserved_micros").asLong()).isZero();
        System.out.printf("  cycle %d: %d reservations, %d debits, %d responses received whole, available %d micros%n", cycle, reservations.size(),
                debitsPerRequest.size(), completedRequestIds.size(), account.availableMicros());
    }
}
