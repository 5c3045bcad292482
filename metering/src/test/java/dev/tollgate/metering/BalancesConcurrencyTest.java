package dev.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Many threads spending from the same and from different accounts at once. The interleaving is up
 * to the scheduler, but each thread's operations come from the printed seed, and what is checked
 * holds for every interleaving: at quiescence conservation is exact, nothing is spent twice, and
 * {@code available} is never seen below zero, not even mid-run.
 */
class BalancesConcurrencyTest {
    private static final int THREADS = 8;
    private static final int OPERATIONS_PER_THREAD = 40_000;
    private static final int SHARED = 0;

    /** What one thread did, in money, so the totals can be compared with the counters afterwards. */
    private static final class Tally {
        final long[] credited = new long[THREADS + 1];
        final long[] debited = new long[THREADS + 1];
        final long[] writtenOff = new long[THREADS + 1];
        long reservations;
        long refusals;
    }

    @Test
    void randomSpendingOnSharedAndOwnAccountsConservesMoney() throws Exception {
        long seed = Seeds.seed("BalancesConcurrencyTest.randomSpendingOnSharedAndOwnAccountsConservesMoney");
        // Slot 0 is shared by every thread; slot t+1 belongs to thread t alone.
        Balances balances = new Balances(THREADS + 1);
        balances.credit(SHARED, 200_000);
        for (int t = 0; t < THREADS; t++) {
            balances.credit(t + 1, 20_000);
        }
        Tally[] tallies = new Tally[THREADS];
        CyclicBarrier start = new CyclicBarrier(THREADS + 1);
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong negativeSeen = new AtomicLong(Long.MAX_VALUE);
        List<Throwable> failures = new ArrayList<>();

        // A watcher that reads every account's available counter for the whole run.
        Thread watcher = new Thread(() -> {
            while (running.get()) {
                for (int slot = 0; slot <= THREADS; slot++) {
                    long available = balances.availableMicros(slot);
                    if (available < 0) {
                        negativeSeen.accumulateAndGet(available, Math::min);
                    }
                }
            }
        }, "watcher");
        watcher.start();

        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int self = t;
            long threadSeed = seed * 31 + t;
            Tally tally = new Tally();
            tallies[t] = tally;
            Thread thread = new Thread(() -> {
                SplittableRandom random = new SplittableRandom(threadSeed);
                // Open reservations as (slot, held) pairs.
                List<long[]> open = new ArrayList<>();
                try {
                    start.await();
                    for (int i = 0; i < OPERATIONS_PER_THREAD; i++) {
                        int slot = random.nextInt(3) == 0 ? self + 1 : SHARED;
                        int op = random.nextInt(20);
                        if (op <= 1) {
                            long amount = random.nextLong(0, 6_000);
                            balances.credit(slot, amount);
                            tally.credited[slot] += amount;
                        } else if (op <= 9 || open.isEmpty()) {
                            long min = random.nextLong(0, 1_500);
                            long max = min + random.nextLong(0, 2_000);
                            long held = balances.reserveUpTo(slot, min, max);
                            if (held < 0) {
                                tally.refusals++;
                            } else {
                                if (held < min || held > max) {
                                    throw new AssertionError("reserved " + held + " outside " + min + ".." + max);
                                }
                                tally.reservations++;
                                open.add(new long[] {slot, held});
                            }
                        } else {
                            long[] reservation = open.remove(random.nextInt(open.size()));
                            close(balances, random, reservation, tally);
                        }
                    }
                    while (!open.isEmpty()) {
                        close(balances, random, open.removeLast(), tally);
                    }
                } catch (Throwable e) {
                    synchronized (failures) {
                        failures.add(e);
                    }
                }
            }, "spender-" + t);
            threads.add(thread);
            thread.start();
        }
        start.await();
        for (Thread thread : threads) {
            thread.join();
        }
        running.set(false);
        watcher.join();

        assertThat(failures).as("seed " + seed).isEmpty();
        assertThat(negativeSeen.get()).as("seed " + seed + ": the lowest negative available seen mid-run").isEqualTo(Long.MAX_VALUE);
        long reservations = 0;
        long refusals = 0;
        for (Tally tally : tallies) {
            reservations += tally.reservations;
            refusals += tally.refusals;
        }
        // The run must have contended for money, or it proves nothing about the races.
        System.out.println("reservations " + reservations + ", refusals " + refusals);
        assertThat(reservations).as("seed " + seed).isGreaterThan(THREADS * OPERATIONS_PER_THREAD / 10);
        assertThat(refusals).as("seed " + seed).isGreaterThan(THREADS * OPERATIONS_PER_THREAD / 100);

        for (int slot = 0; slot <= THREADS; slot++) {
            long opening = slot == SHARED ? 200_000 : 20_000;
            long credited = opening;
            long debited = 0;
            long writtenOff = 0;
            for (Tally tally : tallies) {
                credited += tally.credited[slot];
                debited += tally.debited[slot];
                writtenOff += tally.writtenOff[slot];
            }
            String at = "seed " + seed + ", slot " + slot;
            assertThat(balances.reservedMicros(slot)).as(at + ": every reservation closed").isZero();
            assertThat(balances.creditedMicros(slot)).as(at).isEqualTo(credited);
            assertThat(balances.debitedMicros(slot)).as(at + ": debited is the sum of the settlements").isEqualTo(debited);
            assertThat(balances.writtenOffMicros(slot)).as(at).isEqualTo(writtenOff);
            assertThat(balances.availableMicros(slot)).as(at).isNotNegative().isEqualTo(credited - debited);
            assertThat(balances.conservationErrorMicros(slot)).as(at).isZero();
        }
    }

    /** Settles at, below or above what is held, or releases; records what the account paid. */
    private static void close(Balances balances, SplittableRandom random, long[] reservation, Tally tally) {
        int slot = (int) reservation[0];
        long held = reservation[1];
        switch (random.nextInt(5)) {
            case 0 -> balances.release(slot, held);
            case 1 -> settle(balances, slot, held, held, tally);
            case 2 -> settle(balances, slot, held, held == 0 ? 0 : random.nextLong(0, held), tally);
            default -> settle(balances, slot, held, held + random.nextLong(1, 4_000), tally);
        }
    }

    private static void settle(Balances balances, int slot, long held, long cost, Tally tally) {
        long writtenOff = balances.settle(slot, held, cost);
        if (writtenOff < 0 || writtenOff > Math.max(0, cost - held)) {
            throw new AssertionError("written off " + writtenOff + " of cost " + cost + " over " + held);
        }
        tally.debited[slot] += cost - writtenOff;
        tally.writtenOff[slot] += writtenOff;
    }

    @Test
    void twoHundredConcurrentWorstCasesAgainstABalanceForFiftyAdmitExactlyFifty() throws Exception {
        long seed = Seeds.seed("BalancesConcurrencyTest.twoHundredConcurrentWorstCasesAgainstABalanceForFiftyAdmitExactlyFifty");
        SplittableRandom random = new SplittableRandom(seed);
        int requests = 200;
        // Eight threads released together, each making 25 admissions back to back: real contention on one counter.
        int threads = 8;
        for (int round = 0; round < 200; round++) {
            long worstCase = random.nextLong(1, 1_000_000);
            long slack = random.nextLong(0, worstCase); // less than one more worst case
            Balances balances = new Balances(1);
            balances.credit(0, 50 * worstCase + slack);
            CyclicBarrier start = new CyclicBarrier(threads);
            AtomicInteger admitted = new AtomicInteger();
            List<Reservation> reservations = java.util.Collections.synchronizedList(new ArrayList<>());
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Thread worker = new Thread(() -> {
                    try {
                        start.await();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                    for (int i = 0; i < requests / threads; i++) {
                        Reservation reservation = Reservation.tryReserve(balances, 0, worstCase, worstCase);
                        if (reservation != null) {
                            admitted.incrementAndGet();
                            reservations.add(reservation);
                        }
                    }
                });
                workers.add(worker);
                worker.start();
            }
            for (Thread worker : workers) {
                worker.join();
            }
            String at = "seed " + seed + " round " + round + " worst case " + worstCase;
            assertThat(admitted.get()).as(at).isEqualTo(50);
            assertThat(balances.availableMicros(0)).as(at).isEqualTo(slack);
            assertThat(balances.reservedMicros(0)).as(at).isEqualTo(50 * worstCase);
            assertThat(reservations).allSatisfy(r -> assertThat(r.heldMicros()).isEqualTo(worstCase));
            for (Reservation reservation : reservations) {
                assertThat(reservation.release()).isTrue();
            }
            assertThat(balances.availableMicros(0)).as(at).isEqualTo(50 * worstCase + slack);
            assertThat(balances.conservationErrorMicros(0)).as(at).isZero();
        }
    }

    @Test
    void concurrentOvershootsNeverDriveAvailableNegative() throws Exception {
        long seed = Seeds.seed("BalancesConcurrencyTest.concurrentOvershootsNeverDriveAvailableNegative");
        // Every settlement costs three times its reservation: the balance runs dry and the rest is written off.
        Balances balances = new Balances(1);
        balances.credit(0, 1_000_000);
        int threads = 8;
        CyclicBarrier start = new CyclicBarrier(threads);
        AtomicLong debited = new AtomicLong();
        AtomicLong writtenOff = new AtomicLong();
        AtomicLong costs = new AtomicLong();
        List<Thread> workers = new ArrayList<>();
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < threads; t++) {
            long threadSeed = seed + t;
            Thread worker = new Thread(() -> {
                SplittableRandom random = new SplittableRandom(threadSeed);
                try {
                    start.await();
                    for (int i = 0; i < 20_000; i++) {
                        Reservation reservation = Reservation.tryReserve(balances, 0, 0, random.nextLong(1, 500));
                        long cost = reservation.heldMicros() * 3 + random.nextLong(0, 3);
                        Reservation.Settlement settlement = reservation.settle(cost);
                        if (settlement.debitedMicros() + settlement.writtenOffMicros() != cost || balances.availableMicros(0) < 0) {
                            throw new AssertionError(settlement + " for cost " + cost);
                        }
                        debited.addAndGet(settlement.debitedMicros());
                        writtenOff.addAndGet(settlement.writtenOffMicros());
                        costs.addAndGet(cost);
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            workers.add(worker);
            worker.start();
        }
        for (Thread worker : workers) {
            worker.join();
        }
        assertThat(failures).as("seed " + seed).isEmpty();
        assertThat(balances.availableMicros(0)).isNotNegative();
        assertThat(balances.reservedMicros(0)).isZero();
        assertThat(balances.debitedMicros(0)).isEqualTo(debited.get());
        assertThat(balances.writtenOffMicros(0)).isEqualTo(writtenOff.get()).isPositive();
        assertThat(debited.get() + writtenOff.get()).isEqualTo(costs.get());
        // The account paid all it had and not a micro more.
        assertThat(balances.debitedMicros(0)).isEqualTo(1_000_000 - balances.availableMicros(0));
        assertThat(balances.conservationErrorMicros(0)).isZero();
    }
}
