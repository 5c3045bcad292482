package dev.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Extensions racing the close of the same reservation, from other threads, while other
 * reservations of the same account do the same: no interleaving may lose or double money, and each
 * reservation ends exactly once.
 */
class ReservationRaceTest {
    private static final int RESERVATIONS_PER_ROUND = 3;
    private static final int THREADS_PER_RESERVATION = 3; // an extender, a settler, a releaser
    private static ExecutorService pool;

    @BeforeAll
    static void startPool() {
        pool = Executors.newFixedThreadPool(RESERVATIONS_PER_ROUND * THREADS_PER_RESERVATION);
    }

    @AfterAll
    static void stopPool() throws InterruptedException {
        pool.shutdownNow();
        assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void extendRacingSettleAndReleaseNeverLosesOrDoublesMoney() throws Exception {
        long seed = Seeds.seed("ReservationRaceTest.extendRacingSettleAndReleaseNeverLosesOrDoublesMoney");
        SplittableRandom random = new SplittableRandom(seed);
        int rounds = 3_000;
        long extensionsAfterClose = 0;
        long extensionsBeforeClose = 0;
        long settleWins = 0;
        for (int round = 0; round < rounds; round++) {
            String where = "seed " + seed + " round " + round;
            Balances balances = new Balances(1);
            // Sometimes plenty, sometimes so little that extensions and reservations compete for it.
            long creditedMicros = random.nextBoolean() ? 1_000_000_000L : random.nextLong(RESERVATIONS_PER_ROUND * 100L, 20_000);
            balances.credit(0, creditedMicros);
            CyclicBarrier start = new CyclicBarrier(RESERVATIONS_PER_ROUND * THREADS_PER_RESERVATION);
            List<Race> races = new ArrayList<>();
            for (int r = 0; r < RESERVATIONS_PER_ROUND; r++) {
                Reservation reservation = Reservation.tryReserve(balances, 0, 0, random.nextLong(0, 100));
                races.add(new Race(reservation, reservation.heldMicros(), random.split(), start));
            }
            List<Future<?>> running = new ArrayList<>();
            for (Race race : races) {
                running.add(pool.submit(race::extend));
                running.add(pool.submit(race::settle));
                running.add(pool.submit(race::release));
            }
            for (Future<?> task : running) {
                task.get(60, TimeUnit.SECONDS);
            }

            long expectedDebited = 0;
            for (Race race : races) {
                Reservation.Settlement settlement = race.settled.get();
                boolean released = race.released.get();
                assertThat(settlement != null ^ released).as(where + ": exactly one outcome").isTrue();
                assertThat(race.reservation.isClosed()).as(where).isTrue();
                long heldAtClose = race.initialHeldMicros + race.extendedMicros.get();
                assertThat(race.reservation.heldMicros()).as(where + ": every successful extension is in what was closed")
                        .isEqualTo(heldAtClose);
                if (settlement != null) {
                    settleWins++;
                    assertThat(settlement.heldMicros()).as(where).isEqualTo(heldAtClose);
                    assertThat(settlement.debitedMicros() + settlement.writtenOffMicros()).as(where).isEqualTo(race.costMicros);
                    expectedDebited += settlement.debitedMicros();
                }
                assertThat(race.reservation.extend(0, 1)).as(where + ": closed means closed").isFalse();
                extensionsAfterClose += race.refusedAfterClose.get();
                extensionsBeforeClose += race.extensions.get();
            }
            assertThat(balances.reservedMicros(0)).as(where + ": nothing left held").isZero();
            assertThat(balances.availableMicros(0)).as(where).isNotNegative();
            assertThat(balances.debitedMicros(0)).as(where).isEqualTo(expectedDebited);
            assertThat(balances.availableMicros(0) + balances.reservedMicros(0) + balances.debitedMicros(0))
                    .as(where + ": available + held + debited == credited").isEqualTo(creditedMicros);
            assertThat(balances.conservationErrorMicros(0)).as(where).isZero();
        }
        System.out.println("settle won " + settleWins + " of " + rounds * RESERVATIONS_PER_ROUND + "; extensions held "
                + extensionsBeforeClose + ", refused after close " + extensionsAfterClose);
        assertThat(extensionsBeforeClose).as("the race was run: some extensions landed before the close").isPositive();
        assertThat(extensionsAfterClose).as("the race was run: some extensions met a closed reservation").isPositive();
    }

    /** One reservation and the three threads that fight over it. */
    private static final class Race {
        final Reservation reservation;
        final long initialHeldMicros;
        final long costMicros;
        final int attempts;
        final long[] minMicros;
        final long[] maxMicros;
        final CyclicBarrier start;
        final AtomicLong extendedMicros = new AtomicLong();
        final AtomicLong extensions = new AtomicLong();
        final AtomicLong refusedAfterClose = new AtomicLong();
        final AtomicReference<Reservation.Settlement> settled = new AtomicReference<>();
        final AtomicReference<Boolean> released = new AtomicReference<>(false);

        Race(Reservation reservation, long initialHeldMicros, SplittableRandom random, CyclicBarrier start) {
            this.reservation = reservation;
            this.initialHeldMicros = initialHeldMicros;
            this.costMicros = random.nextLong(0, 400);
            this.attempts = random.nextInt(1, 40);
            this.minMicros = new long[attempts];
            this.maxMicros = new long[attempts];
            for (int i = 0; i < attempts; i++) {
                minMicros[i] = random.nextLong(0, 50);
                maxMicros[i] = minMicros[i] + random.nextLong(0, 200);
            }
            this.start = start;
        }

        void extend() {
            await(start);
            for (int i = 0; i < attempts; i++) {
                long more = reservation.extendMicros(minMicros[i], maxMicros[i]);
                if (more >= 0) {
                    extendedMicros.addAndGet(more);
                    extensions.incrementAndGet();
                } else if (reservation.isClosed()) {
                    refusedAfterClose.incrementAndGet();
                }
            }
        }

        void settle() {
            await(start);
            settled.set(reservation.settle(costMicros));
        }

        void release() {
            await(start);
            released.set(reservation.release());
        }
    }

    private static void await(CyclicBarrier barrier) {
        try {
            barrier.await(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
