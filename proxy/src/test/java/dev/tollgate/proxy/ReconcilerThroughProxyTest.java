package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.AccountConfig;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.Durability;
import dev.tollgate.config.JournalConfig;
import dev.tollgate.config.Limits;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.journal.reconcile.DriftReport;
import dev.tollgate.journal.reconcile.Reconciler;
import dev.tollgate.journal.reconcile.ReconcilerSettings;
import dev.tollgate.journal.reconcile.RequestLog;
import dev.tollgate.journal.reconcile.Statement;
import dev.tollgate.journal.reconcile.UsageQuery;
import dev.tollgate.journal.reconcile.UsageRow;
import dev.tollgate.journal.reconcile.UsageTotals;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reconciler beside the real proxy: drift is exactly 0 once traffic stops, and a tampered counter shows. */
class ReconcilerThroughProxyTest {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private static void traffic(ProxyStack stack) throws Exception {
        for (int i = 0; i < 4; i++) {
            assertThat(stack.postOpenAi("/v1/chat/completions",
                    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello " + i + "\"}]}").statusCode()).isEqualTo(200);
            assertThat(stack.postOpenAi("/v1/chat/completions",
                    "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Stream [sim:cached=1024] " + i + "\"}]}")
                    .statusCode()).isEqualTo(200);
            assertThat(stack.postAnthropic("/v1/messages",
                    "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"Hi " + i + "\"}]}").statusCode())
                    .isEqualTo(200);
        }
        assertThat(stack.postOpenAi("/v1/chat/completions",
                "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"fail [sim:error=500]\"}]}").statusCode()).isEqualTo(500);
    }

    @Test
    void driftIsZeroAfterAQuiescentRunThroughTheProxyAndNonZeroWhenALiveCounterIsTamperedWith() throws Exception {
        try (ProxyStack stack = new ProxyStack(5_000_000)) {
            Reconciler reconciler = stack.test.startReconciler(ReconcilerSettings.defaults().withCheckEvery(10));
            traffic(stack);
            List<Outcome> outcomes = stack.awaitOutcomes(13);
            assertThat(outcomes).hasSize(13);
            assertThat(reconciler.awaitCaughtUp(WAIT)).isTrue();
            assertThat(reconciler.lag().recordsBehind()).isZero();

            DriftReport quiescent = reconciler.checkConservation();
            assertThat(quiescent.status()).isEqualTo(DriftReport.Status.CONSISTENT);
            assertThat(quiescent.driftMicros()).isZero();
            assertThat(quiescent.journalIndex()).isEqualTo(stack.test.journal.lastIndex());

            // The rollups agree with what the proxy reported request by request.
            long month = YearMonth.now(ZoneOffset.UTC).atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
            List<UsageRow> usage = reconciler.usage(UsageQuery.of(0, Long.MAX_VALUE));
            assertThat(usage).hasSize(1);
            UsageTotals totals = usage.get(0).totals();
            assertThat(totals.requests()).isEqualTo(outcomes.stream().filter(o -> o.status().equals(Outcome.SETTLED)).count()).isEqualTo(12);
            assertThat(totals.released()).isEqualTo(1);
            assertThat(totals.debitedMicros()).isEqualTo(outcomes.stream().mapToLong(Outcome::debitedMicros).sum()).isPositive();
            assertThat(totals.cacheReadTokens()).isEqualTo(outcomes.stream().mapToLong(o -> o.usage().cacheReadTokens()).sum()).isPositive();
            assertThat(reconciler.usage(UsageQuery.of(0, Long.MAX_VALUE, UsageQuery.Dimension.MODEL))).extracting(UsageRow::model)
                    .containsExactly("claude-haiku-4-5", "gpt-4o-mini");
            Statement statement = reconciler.statement(TestGateways.ACCOUNT, YearMonth.now(ZoneOffset.UTC));
            assertThat(statement.periodStartMs()).isEqualTo(month);
            assertThat(statement.closingBalanceMicros()).isEqualTo(stack.test.available()).isEqualTo(5_000_000 - totals.debitedMicros());
            RequestLog.Page log = reconciler.requestLog(RequestLog.Query.ofAccount(TestGateways.ACCOUNT, 5));
            assertThat(log.entries()).hasSize(5);
            assertThat(log.entries().get(0).status()).isEqualTo(RequestLog.Status.RELEASED);
            assertThat(log.entries().get(0).reason()).isEqualTo("upstream_status_500");

            // A counter changed behind the journal's back: the reserved counter of the account, by 3.
            stack.test.gateway.accounts().balances().reserveUpTo(stack.test.slot(), 3, 3);
            DriftReport tampered = reconciler.checkConservation();
            assertThat(tampered.status()).isEqualTo(DriftReport.Status.DRIFT);
            assertThat(tampered.driftMicros()).isEqualTo(6); // available -3, reserved +3
            assertThat(tampered.accounts()).containsExactly(new DriftReport.AccountDrift(TestGateways.ACCOUNT, 0, 0, -3, 3, 0));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (reconciler.drift().status() != DriftReport.Status.DRIFT && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(reconciler.drift().driftMicros()).as("the reconciler's own periodic check").isEqualTo(6);
            stack.test.gateway.accounts().balances().release(stack.test.slot(), 3); // undo, for the shared after-checks
            assertThat(reconciler.checkConservation().driftMicros()).isZero();
        }
    }

    @Test
    void aNodeSnapshotsOnCloseAndStartsFromThatSnapshot() throws Exception {
        SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
        try {
            String key = ApiKeys.newRawKey(new SecureRandom());
            URI upstream = URI.create(sim.baseUrl());
            Path journal = dir.resolve("journal");
            TollgateConfig config = new TollgateConfig(new ListenerConfig("127.0.0.1", 0),
                    List.of(new ProviderConfig("openai", Protocol.OPENAI, upstream, null, TestGateways.PROVIDER_KEY, null)),
                    CatalogLoader.loadBuiltin(), Limits.defaults(), new JournalConfig(journal, Durability.PAGE_CACHE, JournalConfig.DEFAULT_SYNC_INTERVAL_MS),
                    List.of(new AccountConfig("acme", 1_000_000, List.of(new AccountConfig.KeyConfig(ApiKeys.sha256Hex(key), "node-key")))));
            Queue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
            String statementBefore;
            long end;
            TollgateNode node = TollgateNode.start(config, outcomes::add, 1, Transport.best());
            try {
                HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                for (int i = 0; i < 3; i++) {
                    HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/v1/chat/completions"))
                            .header("authorization", "Bearer " + key).header("content-type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"))
                            .build(), HttpResponse.BodyHandlers.ofString());
                    assertThat(response.statusCode()).isEqualTo(200);
                }
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (outcomes.size() < 3 && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                assertThat(node.reconciler().awaitCaughtUp(WAIT)).isTrue();
                statementBefore = node.reconciler().statement("acme", YearMonth.now(ZoneOffset.UTC)).toJson();
                end = node.journal().lastIndex();
            } finally {
                node.close();
            }
            assertThat(node.reconciler().snapshotIndex()).as("the snapshot written on close covers the end").isEqualTo(end);
            try (var files = Files.list(journal.resolve("snapshots"))) {
                assertThat(files.map(path -> path.getFileName().toString())).contains(String.format("ledger-%016x.snapshot", end));
            }

            TollgateNode restarted = TollgateNode.start(config, outcomes::add, 1, Transport.best());
            try {
                assertThat(restarted.recoveryReport().snapshotIndex()).isEqualTo(end);
                assertThat(restarted.recoveryReport().recordsReplayed()).as("the configuration's records are already in the snapshot").isZero();
                assertThat(restarted.reconciler().startIndex()).isEqualTo(end);
                assertThat(restarted.reconciler().statement("acme", YearMonth.now(ZoneOffset.UTC)).toJson()).isEqualTo(statementBefore);
                assertThat(restarted.reconciler().awaitCaughtUp(WAIT)).isTrue();
                assertThat(restarted.reconciler().checkConservation().status()).isEqualTo(DriftReport.Status.CONSISTENT);
            } finally {
                restarted.close();
            }
        } finally {
            sim.close();
        }
    }
}
