package dev.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Spend caps as reservations: all or none across the account and a key's windows, and never past a cap under concurrency. */
class SpendWindowsTest {
    private static final long NOW = Instant.parse("2026-12-07T10:00:00Z").toEpochMilli();
    private static final long DAY_MS = 86_400_000L;

    private final Balances balances = new Balances(2);
    private final SpendWindows windows = new SpendWindows(4);

    private int due(int slot, long nowMs) {
        return windows.alertsDue(slot, SpendWindows.dayOf(nowMs), SpendWindows.monthOf(nowMs));
    }

    @Test
    void anAlertIsDueOncePerPeriodOfEachCappedWindowItsSpendReached() {
        balances.credit(0, 10_000_000);
        int slot = windows.allocate();
        windows.setCaps(slot, 1_000, 10_000, SpendWindows.NO_CAP);
        int day = SpendWindows.dayOf(NOW);
        int month = SpendWindows.monthOf(NOW);
        Reservation.tryReserve(balances, 0, windows, slot, NOW, 1, 799).settle(799);
        assertThat(due(slot, NOW)).as("no alert percentage").isZero();
        windows.setAlertPercent(slot, 80);
        assertThat(due(slot, NOW)).as("799 of 1,000 is below 80%").isZero();
        Reservation.tryReserve(balances, 0, windows, slot, NOW, 1, 1).settle(1);
        assertThat(due(slot, NOW)).isEqualTo(1 << SpendWindows.Window.DAY.ordinal());
        assertThat(windows.claimAlert(slot, SpendWindows.Window.DAY, day)).isTrue();
        assertThat(windows.claimAlert(slot, SpendWindows.Window.DAY, day)).as("once per day").isFalse();
        assertThat(due(slot, NOW)).isZero();
        assertThat(windows.alertedPeriod(slot, SpendWindows.Window.DAY)).isEqualTo(day);
        assertThat(windows.alertedPeriod(slot, SpendWindows.Window.MONTH)).isEqualTo(-1);
        assertThat(windows.claimAlert(slot, SpendWindows.Window.DAY, day - 1)).as("an earlier day is never raised after a later one").isFalse();

        // The next day starts from nothing; the month keeps counting.
        for (int i = 0; i < 9; i++) {
            Reservation.tryReserve(balances, 0, windows, slot, NOW + DAY_MS, 1, 900).settle(900);
            Reservation.tryReserve(balances, 0, windows, slot, NOW + 2 * DAY_MS + i, 1, 1).settle(1);
        }
        assertThat(windows.used(slot, SpendWindows.Window.MONTH, month)).isEqualTo(800 + 8_100 + 9);
        assertThat(due(slot, NOW + 2 * DAY_MS)).isEqualTo(1 << SpendWindows.Window.MONTH.ordinal());
        assertThat(windows.claimAlert(slot, SpendWindows.Window.MONTH, month)).isTrue();
        assertThat(due(slot, NOW + 2 * DAY_MS)).as("day 3 used 9 of 1,000").isZero();
        Reservation.tryReserve(balances, 0, windows, slot, NOW + 2 * DAY_MS, 1, 900).settle(900);
        assertThat(due(slot, NOW + 2 * DAY_MS)).as("a new day: its own alert").isEqualTo(1 << SpendWindows.Window.DAY.ordinal());
        windows.setAlertPercent(slot, SpendWindows.NO_ALERT);
        assertThat(due(slot, NOW + 2 * DAY_MS)).isZero();

        // Replayed claims mark as live ones do, whatever their order.
        int other = windows.allocate();
        windows.restoreAlerted(other, SpendWindows.Window.MONTH, month);
        windows.restoreAlerted(other, SpendWindows.Window.MONTH, month - 3);
        windows.restoreAlerted(other, SpendWindows.Window.TOTAL, 0);
        assertThat(windows.alertedPeriod(other, SpendWindows.Window.MONTH)).isEqualTo(month);
        assertThat(windows.alertedPeriod(other, SpendWindows.Window.TOTAL)).isZero();
        assertThat(windows.alertedPeriod(other, SpendWindows.Window.DAY)).isEqualTo(-1);
        assertThat(windows.claimAlert(other, SpendWindows.Window.TOTAL, 0)).isFalse();
    }

    @Test
    void aReservationTakesFromEveryWindowOrFromNone() {
        balances.credit(0, 10_000_000);
        int slot = windows.allocate();
        windows.setCaps(slot, 1_000, 5_000, 7_000);
        Reservation first = Reservation.tryReserve(balances, 0, windows, slot, NOW, 100, 800);
        assertThat(first.heldMicros()).isEqualTo(800);
        // The day has 200 left: the next one gets 200 of the 800 it asked for, from the day, the month, the total and the account.
        Reservation second = Reservation.tryReserve(balances, 0, windows, slot, NOW, 100, 800);
        assertThat(second.heldMicros()).isEqualTo(200);
        assertThat(Reservation.tryReserve(balances, 0, windows, slot, NOW, 1, 800)).isNull();
        assertThat(windows.used(slot, SpendWindows.Window.MONTH, SpendWindows.monthOf(NOW))).isEqualTo(1_000);
        assertThat(windows.used(slot, SpendWindows.Window.TOTAL, 0)).isEqualTo(1_000);
        assertThat(balances.reservedMicros(0)).isEqualTo(1_000);
        assertThat(windows.tighterThan(slot, SpendWindows.dayOf(NOW), SpendWindows.monthOf(NOW), 1)).isEqualTo(SpendWindows.Window.DAY);

        // Settled below what it held: the windows keep the debit, the rest is free again.
        assertThat(first.settle(300).debitedMicros()).isEqualTo(300);
        assertThat(windows.used(slot, SpendWindows.Window.DAY, SpendWindows.dayOf(NOW))).isEqualTo(500);
        assertThat(second.release()).isTrue();
        assertThat(windows.used(slot, SpendWindows.Window.DAY, SpendWindows.dayOf(NOW))).isEqualTo(300);

        // A window that refuses leaves the others, and the account, as they were.
        balances.credit(1, 100);
        int other = windows.allocate();
        windows.setCaps(other, SpendWindows.NO_CAP, 50, SpendWindows.NO_CAP);
        assertThat(Reservation.tryReserve(balances, 1, windows, other, NOW, 60, 60)).isNull();
        assertThat(windows.used(other, SpendWindows.Window.TOTAL, 0)).isZero();
        assertThat(balances.availableMicros(1)).isEqualTo(100);
        // The account refusing gives back what the windows took.
        assertThat(Reservation.tryReserve(balances, 1, windows, other, NOW, 40, 40).heldMicros()).isEqualTo(40);
        assertThat(Reservation.tryReserve(balances, 1, windows, other, NOW, 70, 70)).isNull();
        assertThat(windows.used(other, SpendWindows.Window.MONTH, SpendWindows.monthOf(NOW))).isEqualTo(40);
    }

    @Test
    void aNewDayStartsFreshAndYesterdaysRequestsSettleIntoYesterday() {
        balances.credit(0, 10_000_000);
        int slot = windows.allocate();
        windows.setCaps(slot, 1_000, SpendWindows.NO_CAP, SpendWindows.NO_CAP);
        Reservation yesterday = Reservation.tryReserve(balances, 0, windows, slot, NOW, 1_000, 1_000);
        assertThat(Reservation.tryReserve(balances, 0, windows, slot, NOW, 1, 1)).isNull();
        Reservation today = Reservation.tryReserve(balances, 0, windows, slot, NOW + DAY_MS, 1_000, 1_000);
        assertThat(today.heldMicros()).isEqualTo(1_000);
        // Settling yesterday's gives nothing back to today's window, which stays full.
        yesterday.settle(10);
        assertThat(Reservation.tryReserve(balances, 0, windows, slot, NOW + DAY_MS, 1, 1)).isNull();
        assertThat(windows.used(slot, SpendWindows.Window.DAY, SpendWindows.dayOf(NOW + DAY_MS))).isEqualTo(1_000);
        assertThat(today.extend(1, 5)).isFalse(); // its own day is full
        // Once the window has moved on to the next day, an extension of a request admitted before midnight is not bound by it.
        Reservation late = Reservation.tryReserve(balances, 0, windows, slot, NOW + 2 * DAY_MS, 0, 0);
        assertThat(late.heldMicros()).isZero();
        assertThat(today.extend(1, 5)).isTrue();
        assertThat(windows.used(slot, SpendWindows.Window.DAY, SpendWindows.dayOf(NOW + 2 * DAY_MS))).isZero();
    }

    @Test
    void aWindowWithoutACapStillCountsSoACapSetLaterStartsFromTheTruth() {
        balances.credit(0, 10_000_000);
        int slot = windows.allocate();
        windows.setCaps(slot, 1_000, SpendWindows.NO_CAP, SpendWindows.NO_CAP);
        Reservation.tryReserve(balances, 0, windows, slot, NOW, 100, 600).settle(250);
        windows.setCaps(slot, 1_000, 300, 400);
        assertThat(windows.used(slot, SpendWindows.Window.MONTH, SpendWindows.monthOf(NOW))).isEqualTo(250);
        assertThat(windows.used(slot, SpendWindows.Window.TOTAL, 0)).isEqualTo(250);
        assertThat(Reservation.tryReserve(balances, 0, windows, slot, NOW, 1, 600).heldMicros()).isEqualTo(50);
    }

    @Test
    void theMonthNumberIsTheCalendarsForAnyInstant() {
        Random random = new Random(Seeds.seed("SpendWindowsTest.theMonthNumberIsTheCalendarsForAnyInstant"));
        for (int i = 0; i < 100_000; i++) {
            long ms = random.nextLong(0, Instant.parse("2999-12-31T23:59:59Z").toEpochMilli());
            YearMonth month = YearMonth.from(Instant.ofEpochMilli(ms).atZone(ZoneOffset.UTC));
            assertThat(SpendWindows.monthOf(ms)).as("%s", Instant.ofEpochMilli(ms)).isEqualTo((month.getYear() - 1970) * 12 + month.getMonthValue() - 1);
        }
    }

    /**
     * A hundred requests at once against a daily cap that affords ten worst cases: at no moment do the money held
     * and debited pass the cap, and at the end the day's window is exactly what was debited.
     */
    @Test
    void concurrentRequestsNeverSpendPastTheCap() throws Exception {
        long seed = Seeds.seed("SpendWindowsTest.concurrentRequestsNeverSpendPastTheCap");
        Random seeds = new Random(seed);
        long worstCase = 100_000;
        long cap = 10 * worstCase;
        balances.credit(0, 1_000_000_000);
        int slot = windows.allocate();
        windows.setCaps(slot, cap, 3 * cap, 5 * cap);
        int threads = 100;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        AtomicLong debited = new AtomicLong();
        AtomicLong admitted = new AtomicLong();
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long threadSeed = seeds.nextLong();
            futures.add(pool.submit(() -> {
                Random random = new Random(threadSeed);
                start.await();
                for (int i = 0; i < 50; i++) {
                    Reservation reservation = Reservation.tryReserve(balances, 0, windows, slot, NOW, worstCase / 2, worstCase);
                    long used = windows.used(slot, SpendWindows.Window.DAY, SpendWindows.dayOf(NOW));
                    assertThat(used).isLessThanOrEqualTo(cap);
                    if (reservation == null) {
                        Thread.onSpinWait();
                        continue;
                    }
                    admitted.incrementAndGet();
                    if (random.nextInt(4) == 0) {
                        reservation.extend(1, worstCase / 10);
                    }
                    switch (random.nextInt(3)) {
                        case 0 -> reservation.release();
                        default -> debited.addAndGet(reservation.settle(random.nextLong(reservation.heldMicros() + 1)).debitedMicros());
                    }
                }
                return null;
            }));
        }
        start.countDown();
        for (Future<?> future : futures) {
            future.get();
        }
        pool.shutdown();
        System.out.println("SpendWindowsTest: " + admitted.get() + " admitted, " + debited.get() + " micros debited of a " + cap + " cap");
        assertThat(admitted.get()).isGreaterThanOrEqualTo(10);
        assertThat(debited.get()).isLessThanOrEqualTo(cap);
        assertThat(windows.used(slot, SpendWindows.Window.DAY, SpendWindows.dayOf(NOW))).isEqualTo(debited.get());
        assertThat(windows.used(slot, SpendWindows.Window.TOTAL, 0)).isEqualTo(debited.get());
        assertThat(balances.debitedMicros(0)).isEqualTo(debited.get());
        assertThat(balances.reservedMicros(0)).isZero();
    }
}
