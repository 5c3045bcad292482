package dev.tollgate.bench;

import dev.tollgate.metering.Balances;
import dev.tollgate.metering.Reservation;
import dev.tollgate.metering.SpendWindows;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.ThreadParams;

/**
 * One reservation and its settlement on the Agrona balance counters: the money work of every
 * request (a compare-and-set that takes the worst case out of available, then four get-and-adds
 * that debit the cost and return the rest). Beside it, the JDK baseline of the same number of
 * atomic operations on an {@link AtomicLong}. Uncontended, then two threads on the same account
 * (they share its cache line) and on different accounts (each on its own line).
 * Goal (issue 4): at most 100 ns/op and 0 B/op uncontended.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ReserveSettleBenchmark {
    private static final long WORST_CASE_MICROS = 9_855;
    private static final long MINIMUM_MICROS = 1_000;
    private static final long COST_MICROS = 17;

    private Balances balances;
    private SpendWindows windows;
    private int cappedSlot;
    /** A second key's windows with the same caps and a soft alert, so the benchmarks above are measured as before. */
    private SpendWindows alertedWindows;
    private int alertedSlot;
    /** Limits no benchmark iteration reaches: the cost measured is the admitted path's. */
    private final dev.tollgate.metering.RateLimiter limiter = new dev.tollgate.metering.RateLimiter();
    private final AtomicLong baselineAvailable = new AtomicLong(Long.MAX_VALUE / 2);
    private final AtomicLong baselineReserved = new AtomicLong();

    @Setup
    public void limits() {
        limiter.setLimits(new dev.tollgate.metering.RateLimiter.Limits(dev.tollgate.metering.RateLimiter.MAX_PER_MINUTE,
                dev.tollgate.metering.RateLimiter.MAX_PER_MINUTE, 1_000));
    }

    @Setup
    public void setUp() {
        balances = new Balances(64);
        for (int slot = 0; slot < 64; slot++) {
            balances.credit(slot, Long.MAX_VALUE / 4);
        }
        windows = new SpendWindows(4);
        cappedSlot = windows.allocate();
        // Caps far above what the run spends, so every window is checked and charged but none refuses.
        windows.setCaps(cappedSlot, SpendWindows.MAX_CAP_MICROS, SpendWindows.MAX_CAP_MICROS, SpendWindows.MAX_CAP_MICROS);
        alertedWindows = new SpendWindows(4);
        alertedSlot = alertedWindows.allocate();
        alertedWindows.setCaps(alertedSlot, SpendWindows.MAX_CAP_MICROS, SpendWindows.MAX_CAP_MICROS, SpendWindows.MAX_CAP_MICROS);
        alertedWindows.setAlertPercent(alertedSlot, 80);
    }

    /** Each thread's own account, for the different-accounts case. */
    @State(Scope.Thread)
    public static class OwnAccount {
        int slot;

        @Setup
        public void setUp(ThreadParams thread) {
            slot = 1 + thread.getThreadIndex();
        }
    }

    private long reserveAndSettle(int slot) {
        long held = balances.reserveUpTo(slot, MINIMUM_MICROS, WORST_CASE_MICROS);
        return held + balances.settle(slot, held, COST_MICROS);
    }

    /**
     * A rate-limited key's permit at admission and its end at completion (rpm, tpm and concurrency set): what rate
     * limits add to the request path of a request they admit.
     */
    @Benchmark
    public int rateLimitPermit() {
        long now = System.nanoTime();
        dev.tollgate.metering.RateLimiter.Refusal refusal = limiter.tryAcquire(700, now);
        limiter.finish(700, 120, now);
        return refusal == null ? 1 : 0;
    }

    @Benchmark
    public long reserveSettleUncontended() {
        return reserveAndSettle(0);
    }

    @Benchmark
    @Threads(2)
    public long reserveSettleTwoThreadsSameAccount() {
        return reserveAndSettle(0);
    }

    @Benchmark
    @Threads(2)
    public long reserveSettleTwoThreadsOwnAccounts(OwnAccount account) {
        return reserveAndSettle(account.slot);
    }

    /** A request's reservation and settlement as the ledger makes them for a key without caps (the Reservation object included). */
    @Benchmark
    public long reservationUncapped() {
        Reservation reservation = Reservation.tryReserve(balances, 0, MINIMUM_MICROS, WORST_CASE_MICROS);
        return reservation.settle(COST_MICROS).debitedMicros();
    }

    /**
     * The same for a key with a day, a month and a total cap: all three windows and the account reserved in one
     * all-or-none step, then the debit moved into each window. Goal (issue 10): at most 100 ns/op and 0 B/op.
     */
    @Benchmark
    public long reservationWithThreeCaps() {
        Reservation reservation = Reservation.tryReserve(balances, 0, windows, cappedSlot, System.currentTimeMillis(), MINIMUM_MICROS, WORST_CASE_MICROS);
        return reservation.settle(COST_MICROS).debitedMicros();
    }

    /**
     * As {@link #reservationWithThreeCaps} for a key with a soft alert (80% of each cap, never reached here): the check
     * every settlement of such a key makes ({@code SoftAlerts.afterSettle}), on the same counters.
     */
    @Benchmark
    public long reservationWithThreeCapsAndAlert() {
        long now = System.currentTimeMillis();
        Reservation reservation = Reservation.tryReserve(balances, 0, alertedWindows, alertedSlot, now, MINIMUM_MICROS, WORST_CASE_MICROS);
        return reservation.settle(COST_MICROS).debitedMicros() + alertedWindows.alertsDue(alertedSlot, reservation.day(), reservation.month());
    }

    /**
     * The counters alone, as {@link #reserveSettleUncontended} measures them for the account: the three windows and the
     * account reserved, the account settled, the debit kept in the windows. The Reservation and Settlement objects the
     * benchmark above allocates (when escape analysis does not remove them) are the request's own state, not the caps'.
     */
    @Benchmark
    public long reserveSettleThreeWindowsUncontended() {
        long now = System.currentTimeMillis();
        int day = SpendWindows.dayOf(now);
        int month = SpendWindows.monthOf(now);
        long allowed = windows.reserveUpTo(cappedSlot, day, month, MINIMUM_MICROS, WORST_CASE_MICROS);
        long held = balances.reserveUpTo(0, MINIMUM_MICROS, allowed);
        windows.adjust(cappedSlot, day, month, held - allowed);
        long writtenOff = balances.settle(0, held, COST_MICROS);
        windows.adjust(cappedSlot, day, month, COST_MICROS - writtenOff - held);
        return held + writtenOff;
    }

    /** JDK baseline: a compare-and-set and four get-and-adds, as reserve plus settle does. */
    @Benchmark
    public long atomicLongBaseline() {
        long available = baselineAvailable.get();
        baselineAvailable.compareAndSet(available, available - WORST_CASE_MICROS);
        baselineReserved.getAndAdd(WORST_CASE_MICROS);
        baselineAvailable.getAndAdd(WORST_CASE_MICROS - COST_MICROS);
        baselineReserved.getAndAdd(-WORST_CASE_MICROS);
        return baselineReserved.getAndAdd(0);
    }
}
