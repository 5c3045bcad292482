package dev.tollgate.journal.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.journal.JournalEvent;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.Balances;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DriftAndLagTest {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void driftIsZeroWhenQuiescentAndInFlightReservationsAreNotDriftButATamperedCounterIs() throws Exception {
        long seed = TestSeeds.seed("DriftAndLagTest.drift");
        try (SimulatedHistory history = new SimulatedHistory(dir.resolve("journal"), seed, Instant.parse("2026-11-02T00:00:00Z"), 1_000)) {
            Reconciler reconciler = Reconciler.start(history.journal, dir.resolve("snapshots"), history.ledger.accounts(),
                    ReconcilerSettings.defaults().withCheckEvery(5), history.clock::get);
            history.run(800);
            for (int i = 0; i < 5; i++) {
                history.reserve();
            }
            assertThat(history.openCount()).isPositive(); // requests in flight: reserved on both sides
            assertThat(reconciler.awaitCaughtUp(WAIT)).isTrue();
            DriftReport consistent = reconciler.checkConservation();
            assertThat(consistent.status()).isEqualTo(DriftReport.Status.CONSISTENT);
            assertThat(consistent.driftMicros()).isZero();
            assertThat(reconciler.drift().status()).isEqualTo(DriftReport.Status.CONSISTENT);

            // Money that appears in a counter without a journal record: credited and available both off by 7.
            Balances balances = history.ledger.balances();
            int slot = history.ledger.accounts().slotOf("acct-2");
            balances.credit(slot, 7);
            DriftReport drift = reconciler.checkConservation();
            assertThat(drift.status()).isEqualTo(DriftReport.Status.DRIFT);
            assertThat(drift.driftMicros()).isEqualTo(14);
            assertThat(drift.accounts()).containsExactly(new DriftReport.AccountDrift("acct-2", 7, 0, 7, 0, 0));
            // The thread's own periodic check sees it too.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (reconciler.drift().status() != DriftReport.Status.DRIFT && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(reconciler.drift().driftMicros()).isEqualTo(14);

            balances.adjust(slot, -7);
            assertThat(reconciler.checkConservation().status()).isEqualTo(DriftReport.Status.CONSISTENT);
            reconciler.close();
        }
    }

    @Test
    void aDifferenceThatTheNextJournalRecordExplainsIsNotDrift() throws Exception {
        long seed = TestSeeds.seed("DriftAndLagTest.transient");
        try (SimulatedHistory history = new SimulatedHistory(dir.resolve("journal"), seed, Instant.parse("2026-11-02T00:00:00Z"), 1_000)) {
            ReconcilerSettings settings = new ReconcilerSettings(1_000, 60_000, 60_000, 300, 64, 1);
            Reconciler reconciler = Reconciler.start(history.journal, dir.resolve("snapshots"), history.ledger.accounts(), settings, history.clock::get);
            history.run(100);
            history.closeAll();
            assertThat(reconciler.awaitCaughtUp(WAIT)).isTrue();
            assertThat(reconciler.checkConservation().status()).isEqualTo(DriftReport.Status.CONSISTENT);

            // A reservation half-way: the counters have it, its journal record comes 50 ms later (as the ledger
            // does it, only slower). The second look sees a new record, so nothing is reported.
            ApiKeys.ApiKey key = history.keys.get(0);
            long heldBefore = history.ledger.balances().reservedMicros(key.accountSlot());
            history.ledger.balances().reserveUpTo(key.accountSlot(), 10, 10);
            CompletableFuture<DriftReport> check = CompletableFuture.supplyAsync(reconciler::checkConservation);
            // Not synchronisation: the check usually takes its first look in these 50 ms (the interleaving this test is
            // about); should the machine stall and the record land first, the check sees it not caught up, also no drift.
            Thread.sleep(50);
            history.journal.append(new JournalEvent.ReservationMade(history.clock.get(), 1_000_000, key.accountId(), key.sha256Hex(), 10, "half-way"));
            DriftReport report = check.get(10, TimeUnit.SECONDS);
            assertThat(report.status()).isIn(DriftReport.Status.NOT_QUIESCENT, DriftReport.Status.NOT_CAUGHT_UP);
            assertThat(reconciler.drift().status()).isEqualTo(DriftReport.Status.CONSISTENT);
            assertThat(reconciler.awaitCaughtUp(WAIT)).isTrue();
            assertThat(reconciler.checkConservation().status()).isEqualTo(DriftReport.Status.CONSISTENT);
            assertThat(history.ledger.balances().reservedMicros(key.accountSlot())).isEqualTo(heldBefore + 10);
            reconciler.close();
        }
    }

    @Test
    void lagCountsTheRecordsAndMillisecondsNotYetApplied() throws Exception {
        long seed = TestSeeds.seed("DriftAndLagTest.lag");
        try (SimulatedHistory history = new SimulatedHistory(dir.resolve("journal"), seed, Instant.parse("2026-11-02T23:00:00Z"), 1_000)) {
            Reconciler reconciler = Reconciler.start(history.journal, dir.resolve("snapshots"), null, ReconcilerSettings.defaults(), history.clock::get);
            history.run(300);
            assertThat(reconciler.awaitCaughtUp(WAIT)).isTrue();
            assertThat(reconciler.lag()).isEqualTo(new Lag(history.journal.lastIndex(), history.journal.lastIndex(), 0, 0));

            // Holding the read lock keeps the thread from applying: append across a day (a new cycle file) meanwhile.
            Lag lag = reconciler.read(reconciliation -> {
                long newestApplied = reconciliation.rollups().newestTimestampMs();
                history.clock.set(Math.max(history.clock.get(), newestApplied) + 3_600_000L);
                for (int i = 0; i < 5; i++) {
                    history.journal.append(new JournalEvent.AccountOpened(history.clock.get(), "late-" + i));
                    history.clock.addAndGet(1_000);
                }
                Lag behind = reconciler.lag();
                assertThat(behind.millisBehind()).isEqualTo(history.clock.get() - 1_000 - newestApplied);
                return behind;
            });
            assertThat(lag.recordsBehind()).isEqualTo(5);
            assertThat(history.journal.cycleOf(lag.journalIndex())).isGreaterThan(history.journal.cycleOf(lag.appliedIndex()));
            assertThat(reconciler.awaitCaughtUp(WAIT)).isTrue();
            assertThat(reconciler.lag().recordsBehind()).isZero();
            assertThat(reconciler.lag().millisBehind()).isZero();
            reconciler.close();
        }
    }
}
