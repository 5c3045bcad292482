package dev.tollgate.journal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.JournalEvent.AlertRaised;
import dev.tollgate.journal.JournalEvent.AlertRaised.Window;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.SpendWindows;
import dev.tollgate.metering.Usage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Soft alerts: raised once per crossing, journaled, and not raised again after a restart for the same crossing. */
class SoftAlertsTest {
    private static final long NOW_MS = 1_795_000_000_000L; // 2026-11-18, mid-day UTC
    private static final long DAY_MS = 86_400_000L;
    private static final Ledger.Author OPS = new Ledger.Author("ops", "");

    @TempDir
    Path directory;

    private final AtomicLong clock = new AtomicLong(NOW_MS);
    private Journal journal;
    private Ledger ledger;
    private final ConcurrentLinkedQueue<AlertRaised> told = new ConcurrentLinkedQueue<>();
    private String hash;

    @BeforeEach
    void start() {
        journal = Journal.open(directory, Durability.PAGE_CACHE, 100);
        ledger = recover();
        ledger.openAccount("acme");
        ledger.credit("acme", 100_000_000, "opening");
        hash = ApiKeys.sha256Hex("tg-key");
        ledger.issueKey(hash, ApiKeys.displayPrefix("tg-key"), "ci", "acme");
    }

    private Ledger recover() {
        Ledger recovered = Ledger.recover(journal, null, 4, clock::get);
        recovered.onAlert((alert, key) -> told.add(alert));
        return recovered;
    }

    @AfterEach
    void close() {
        journal.close();
    }

    private void spend(Ledger on, long costMicros) {
        ApiKeys.ApiKey key = on.keys().lookup("tg-key");
        LedgerReservation reservation = on.reserve(key, costMicros, costMicros, "r");
        assertThat(reservation).as("reserved %d", costMicros).isNotNull();
        long now = clock.get();
        assertThat(reservation.settle(costMicros, new RequestFacts("r", "acme", hash, Ledger.DEFAULT_LANE, "openai", "gpt-4o-mini",
                "/v1/chat/completions", now, now, ""), Usage.ZERO, true, "completed")).isNotNull();
    }

    private List<AlertRaised> journaled() {
        List<AlertRaised> alerts = new ArrayList<>();
        journal.readAfter(-1, (index, event) -> {
            if (event instanceof AlertRaised alert) {
                alerts.add(alert);
            }
        });
        return alerts;
    }

    @Test
    void aKeysDayAlertIsRaisedOnceWhenItsSpendReachesThePercentageAndAgainTheNextDay() {
        ledger.setCaps(hash, new Ledger.Caps(1_000_000, -1, -1), OPS);
        ledger.setKeyAlertPercent(hash, 80, OPS);
        spend(ledger, 700_000);
        assertThat(journaled()).as("70%% is below the alert").isEmpty();
        spend(ledger, 100_000); // exactly 80%: reached
        spend(ledger, 50_000);
        assertThat(journaled()).singleElement().satisfies(alert -> {
            assertThat(alert.window()).isEqualTo(Window.DAY);
            assertThat(alert.keyHash()).isEqualTo(hash);
            assertThat(alert.accountId()).isEqualTo("acme");
            assertThat(alert.limitMicros()).isEqualTo(1_000_000);
            assertThat(alert.thresholdMicros()).isEqualTo(800_000);
            assertThat(alert.amountMicros()).isEqualTo(800_000);
            assertThat(alert.period()).isEqualTo(SpendWindows.dayOf(NOW_MS));
        });
        assertThat(told).hasSize(1);

        // A restart rebuilds what was spent (from the reconciler's rollups in the proxy) and what was raised.
        Ledger restarted = recover();
        restarted.restoreSpend(Map.of(hash, new long[] {850_000, 850_000, 850_000}), clock.get());
        spend(restarted, 10_000);
        assertThat(journaled()).as("the same crossing, after a restart").hasSize(1);

        clock.addAndGet(DAY_MS);
        spend(restarted, 790_000);
        assertThat(journaled()).hasSize(1);
        spend(restarted, 20_000);
        assertThat(journaled()).hasSize(2).last().satisfies(alert -> {
            assertThat(alert.window()).isEqualTo(Window.DAY);
            assertThat(alert.period()).isEqualTo(SpendWindows.dayOf(NOW_MS) + 1);
        });
        LedgerState replayed = new LedgerState();
        journal.readAfter(-1, replayed::apply);
        assertThat(replayed.keyAlerts()).singleElement()
                .isEqualTo(new LedgerState.KeyAlerts(hash, 80, SpendWindows.dayOf(NOW_MS) + 1, -1, false));
        Path snapshots = directory.resolve("snapshots");
        Snapshots.write(snapshots, replayed, new byte[0]);
        assertThat(Snapshots.latest(snapshots).state().keyAlerts()).containsExactlyElementsOf(replayed.keyAlerts());
    }

    @Test
    void everyCappedWindowHasItsOwnAlertAndAWindowWithoutACapNone() {
        ledger.setKeyAlertPercent(hash, 50, OPS); // before the caps: kept, and bound once the key has a slot
        ledger.setCaps(hash, new Ledger.Caps(-1, 2_000_000, 1_000_000), OPS);
        spend(ledger, 600_000);
        assertThat(journaled()).extracting(AlertRaised::window).containsExactly(Window.TOTAL);
        spend(ledger, 400_000);
        assertThat(journaled()).extracting(AlertRaised::window).containsExactly(Window.TOTAL, Window.MONTH);
        assertThat(journaled().get(1).thresholdMicros()).isEqualTo(1_000_000);
    }

    @Test
    void aLimitSetAboveWhatWasAlreadySpentIsRaisedByTheNextSettlement() {
        ledger.setCaps(hash, new Ledger.Caps(1_000_000, -1, -1), OPS);
        spend(ledger, 900_000);
        ledger.setKeyAlertPercent(hash, 75, OPS);
        assertThat(journaled()).isEmpty();
        spend(ledger, 1);
        assertThat(journaled()).singleElement().extracting(AlertRaised::amountMicros).isEqualTo(900_001L);
        ledger.setKeyAlertPercent(hash, SpendWindows.NO_ALERT, OPS);
        clock.addAndGet(DAY_MS);
        spend(ledger, 900_000);
        assertThat(journaled()).as("alert cleared").hasSize(1);
    }

    @Test
    void aLowBalanceAlertIsRaisedOnceBelowTheThresholdAndReArmedByATopUp() {
        ledger.setLowBalanceThreshold("acme", 40_000_000, OPS);
        assertThat(ledger.lowBalanceThreshold("acme")).isEqualTo(40_000_000);
        spend(ledger, 50_000_000);
        assertThat(journaled()).isEmpty();
        spend(ledger, 10_000_001); // 39,999,999 left
        spend(ledger, 1_000_000);
        assertThat(journaled()).singleElement().satisfies(alert -> {
            assertThat(alert.window()).isEqualTo(Window.BALANCE);
            assertThat(alert.amountMicros()).isEqualTo(39_999_999);
            assertThat(alert.thresholdMicros()).isEqualTo(40_000_000);
            assertThat(alert.limitMicros()).isEqualTo(-1);
            assertThat(alert.period()).isZero();
        });

        Ledger restarted = recover();
        assertThat(restarted.lowBalanceThreshold("acme")).isEqualTo(40_000_000);
        spend(restarted, 1_000_000);
        assertThat(journaled()).as("still below, after a restart").hasSize(1);
        restarted.credit("acme", 1_000_000, "not enough"); // 38,999,999: still below
        spend(restarted, 1);
        assertThat(journaled()).hasSize(1);
        restarted.credit("acme", 20_000_000, "top-up"); // back above: re-armed
        spend(restarted, 19_000_000);
        assertThat(journaled()).hasSize(2).last().extracting(AlertRaised::period).isEqualTo(1);

        LedgerState replayed = new LedgerState();
        journal.readAfter(-1, replayed::apply);
        assertThat(replayed.balanceAlerts()).singleElement()
                .isEqualTo(new LedgerState.BalanceAlert("acme", 40_000_000, 2, true));
        Path snapshots = directory.resolve("snapshots");
        Snapshots.write(snapshots, replayed, new byte[0]);
        LedgerState fromSnapshot = Snapshots.latest(snapshots).state();
        assertThat(fromSnapshot.balanceAlerts()).containsExactlyElementsOf(replayed.balanceAlerts());
        assertThat(fromSnapshot.stateHash()).isEqualTo(replayed.stateHash());
    }

    /**
     * A balance kept hovering at its threshold by top-ups racing the settlements: every crossing is raised once and every
     * re-arm journaled, alternating, and a replay of the journal arrives at the live ledger's alert state.
     */
    @Test
    void topUpsRacingSettlementsLeaveTheJournalWithTheLiveAlertState() throws Exception {
        long seed = Long.getLong("tollgate.seed", System.nanoTime());
        System.out.println("SoftAlertsTest.racingTopUps: seed " + seed + " (replay with -Dtollgate.seed=" + seed + ")");
        SplittableRandom random = new SplittableRandom(seed);
        long threshold = 99_000_000;
        ledger.setLowBalanceThreshold("acme", threshold, OPS);
        int accountSlot = ledger.accounts().slotOf("acme");
        java.util.concurrent.atomic.AtomicBoolean spending = new java.util.concurrent.atomic.AtomicBoolean(true);
        long[][] costs = new long[2][];
        for (int t = 0; t < costs.length; t++) {
            costs[t] = random.longs(400, 1, 40_000).toArray();
        }
        long topUpSeed = random.nextLong();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> workers = new ArrayList<>();
        for (long[] mine : costs) {
            workers.add(Thread.ofPlatform().start(() -> {
                awaitQuietly(go);
                for (long cost : mine) {
                    spend(ledger, cost);
                }
            }));
        }
        Thread topUps = Thread.ofPlatform().start(() -> {
            SplittableRandom own = new SplittableRandom(topUpSeed);
            awaitQuietly(go);
            int n = 0;
            while (spending.get()) {
                var account = ledger.accounts().snapshot("acme");
                long balance = account.creditedMicros() - account.debitedMicros();
                if (balance < threshold - own.nextLong(0, 30_000)) { // below: a crossing to raise, then a re-arm
                    ledger.credit("acme", threshold - balance + own.nextLong(1, 60_000), "top-up-" + n++);
                }
                Thread.onSpinWait();
            }
        });
        go.countDown();
        for (Thread worker : workers) {
            worker.join();
        }
        spending.set(false);
        topUps.join();
        ledger.writer().awaitWritten();

        List<String> changes = new ArrayList<>();
        journal.readAfter(-1, (index, event) -> {
            if (event.change() instanceof JournalEvent.AlertSet set && set.subject() == JournalEvent.AlertSet.ACCOUNT) {
                changes.add("armed");
            } else if (event instanceof AlertRaised alert && alert.window() == Window.BALANCE) {
                changes.add("raised " + alert.period());
            }
        });
        for (int i = 0; i < changes.size(); i++) {
            assertThat(changes.get(i)).as("change %d of %s", i, changes).isEqualTo(i % 2 == 0 ? "armed" : "raised " + i / 2);
        }
        System.out.println("SoftAlertsTest.racingTopUps: " + changes.size() / 2 + " crossings");
        assertThat(changes.size()).as("the balance crossed its threshold").isGreaterThan(2);
        LedgerState replayed = new LedgerState();
        journal.readAfter(-1, replayed::apply);
        assertThat(replayed.balanceAlerts()).singleElement().isEqualTo(ledger.alerts().balanceAlert("acme", accountSlot));
        Ledger restarted = recover();
        assertThat(restarted.alerts().balanceAlert("acme", accountSlot)).isEqualTo(ledger.alerts().balanceAlert("acme", accountSlot));
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Of many settlements that cross the same alert at once, exactly one raises it. */
    @Test
    void concurrentSettlementsRaiseEachAlertExactlyOnce() throws Exception {
        long seed = Long.getLong("tollgate.seed", System.nanoTime());
        System.out.println("SoftAlertsTest.concurrent: seed " + seed + " (replay with -Dtollgate.seed=" + seed + ")");
        SplittableRandom random = new SplittableRandom(seed);
        int percent = random.nextInt(10, 100);
        ledger.setCaps(hash, new Ledger.Caps(50_000_000, -1, -1), OPS);
        ledger.setKeyAlertPercent(hash, percent, OPS);
        ledger.setLowBalanceThreshold("acme", 100_000_000 - random.nextLong(1_000_000, 20_000_000), OPS); // about 24,000,000 is spent
        int threads = 4;
        long[][] costs = new long[threads][];
        for (int t = 0; t < threads; t++) {
            costs[t] = random.longs(200, 1, 60_000).toArray(); // 4 x 200 x 30,000 on average: past both alerts, within the cap
        }
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long[] mine = costs[t];
            workers.add(Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                for (long cost : mine) {
                    spend(ledger, cost);
                }
            }));
        }
        go.countDown();
        for (Thread worker : workers) {
            worker.join();
        }
        long spent = java.util.Arrays.stream(costs).flatMapToLong(java.util.Arrays::stream).sum();
        List<AlertRaised> alerts = journaled();
        assertThat(alerts).extracting(AlertRaised::window).containsExactlyInAnyOrder(
                spent * 100 >= 50_000_000L * percent ? new Window[] {Window.DAY, Window.BALANCE} : new Window[] {Window.BALANCE});
        assertThat(told).hasSameSizeAs(alerts);
        assertThat(alerts).allSatisfy(alert -> assertThat(alert.amountMicros() < alert.thresholdMicros() == (alert.window() == Window.BALANCE))
                .as("%s", alert).isTrue());
    }
}
