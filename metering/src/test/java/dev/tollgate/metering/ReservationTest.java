package dev.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Invariant 3: every reservation ends in exactly one settle or one release. */
class ReservationTest {

    private static Balances funded(long micros) {
        Balances balances = new Balances(1);
        balances.credit(0, micros);
        return balances;
    }

    @Test
    void tryReserveTakesUpToTheMaximumOrNothing() {
        Balances balances = funded(1_000);
        Reservation full = Reservation.tryReserve(balances, 0, 100, 300);
        assertThat(full.heldMicros()).isEqualTo(300);
        assertThat(full.accountSlot()).isZero();
        assertThat(full.isClosed()).isFalse();
        Reservation partial = Reservation.tryReserve(balances, 0, 100, 5_000);
        assertThat(partial.heldMicros()).isEqualTo(700);
        assertThat(Reservation.tryReserve(balances, 0, 1, 1)).isNull();
        assertThat(balances.availableMicros(0)).isZero();
        assertThat(balances.reservedMicros(0)).isEqualTo(1_000);
    }

    @Test
    void settleDebitsTheCostAndReturnsTheRest() {
        Balances balances = funded(1_000);
        Reservation reservation = Reservation.tryReserve(balances, 0, 0, 400);
        Reservation.Settlement settlement = reservation.settle(150);
        assertThat(settlement).isEqualTo(new Reservation.Settlement(400, 150, 0));
        assertThat(reservation.isClosed()).isTrue();
        assertThat(balances.availableMicros(0)).isEqualTo(850);
        assertThat(balances.debitedMicros(0)).isEqualTo(150);
        assertThat(balances.reservedMicros(0)).isZero();
    }

    @Test
    void settleAboveTheReservationWritesOffWhatTheBalanceCannotCover() {
        Balances balances = funded(1_000);
        Reservation reservation = Reservation.tryReserve(balances, 0, 0, 900);
        Reservation.Settlement settlement = reservation.settle(1_300);
        assertThat(settlement).isEqualTo(new Reservation.Settlement(900, 1_000, 300));
        assertThat(balances.availableMicros(0)).isZero();
        assertThat(balances.writtenOffMicros(0)).isEqualTo(300);
        assertThat(balances.conservationErrorMicros(0)).isZero();
    }

    @Test
    void settleAfterReleaseReturnsNullAndChangesNothing() {
        Balances balances = funded(1_000);
        Reservation reservation = Reservation.tryReserve(balances, 0, 0, 400);
        assertThat(reservation.release()).isTrue();
        assertThat(reservation.settle(100)).isNull();
        assertThat(reservation.settle(0)).isNull();
        assertThat(balances.availableMicros(0)).isEqualTo(1_000);
        assertThat(balances.debitedMicros(0)).isZero();
        assertThat(balances.reservedMicros(0)).isZero();
    }

    @Test
    void releaseAfterSettleReturnsFalseAndChangesNothing() {
        Balances balances = funded(1_000);
        Reservation reservation = Reservation.tryReserve(balances, 0, 0, 400);
        assertThat(reservation.settle(100)).isNotNull();
        assertThat(reservation.release()).isFalse();
        assertThat(reservation.settle(100)).isNull();
        assertThat(balances.availableMicros(0)).isEqualTo(900);
        assertThat(balances.debitedMicros(0)).isEqualTo(100);
        assertThat(balances.reservedMicros(0)).isZero();
    }

    @Test
    void releaseTwiceReleasesOnce() {
        Balances balances = funded(1_000);
        Reservation a = Reservation.tryReserve(balances, 0, 0, 400);
        Reservation b = Reservation.tryReserve(balances, 0, 0, 100);
        assertThat(a.release()).isTrue();
        assertThat(a.release()).isFalse();
        assertThat(balances.reservedMicros(0)).as("b still holds its own").isEqualTo(100);
        assertThat(balances.availableMicros(0)).isEqualTo(900);
    }

    @Test
    void extendHoldsMoreOrNothing() {
        Balances balances = funded(1_000);
        Reservation reservation = Reservation.tryReserve(balances, 0, 0, 300);
        assertThat(reservation.extend(100, 200)).isTrue();
        assertThat(reservation.heldMicros()).isEqualTo(500);
        assertThat(reservation.extend(600, 700)).isFalse();
        assertThat(reservation.heldMicros()).isEqualTo(500);
        assertThat(reservation.extend(100, 10_000)).isTrue();
        assertThat(reservation.heldMicros()).isEqualTo(1_000);
        assertThat(balances.availableMicros(0)).isZero();
        assertThat(balances.reservedMicros(0)).isEqualTo(1_000);
        Reservation.Settlement settlement = reservation.settle(700);
        assertThat(settlement).isEqualTo(new Reservation.Settlement(1_000, 700, 0));
        assertThat(balances.availableMicros(0)).isEqualTo(300);
        assertThat(balances.reservedMicros(0)).isZero();
        assertThat(reservation.extend(0, 1)).as("a closed reservation holds nothing more").isFalse();
        assertThat(reservation.extendMicros(1, 100)).isEqualTo(-1);
        assertThat(reservation.heldMicros()).isEqualTo(1_000);
        assertThat(balances.availableMicros(0)).isEqualTo(300);
        assertThat(balances.reservedMicros(0)).isZero();
    }

    @Test
    void extendMicrosSaysHowMuchMoreIsHeld() {
        Balances balances = funded(1_000);
        Reservation reservation = Reservation.tryReserve(balances, 0, 0, 300);
        assertThat(reservation.extendMicros(100, 200)).isEqualTo(200);
        assertThat(reservation.extendMicros(0, 10_000)).isEqualTo(500);
        assertThat(reservation.extendMicros(0, 10)).as("nothing available, nothing required").isZero();
        assertThat(reservation.extendMicros(1, 10)).isEqualTo(-1);
        assertThat(reservation.heldMicros()).isEqualTo(1_000);
    }

    @Test
    void aNegativeCostIsRefusedBeforeTheReservationCloses() {
        Balances balances = funded(1_000);
        Reservation reservation = Reservation.tryReserve(balances, 0, 0, 300);
        assertThatThrownBy(() -> reservation.settle(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(reservation.isClosed()).isFalse();
        assertThat(reservation.release()).isTrue();
        assertThat(balances.availableMicros(0)).isEqualTo(1_000);
    }

    @Test
    void concurrentSettleAndReleaseExactlyOneWins() throws Exception {
        long seed = Seeds.seed("ReservationTest.concurrentSettleAndReleaseExactlyOneWins");
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        Balances balances = funded(1_000_000_000L);
        int rounds = 5_000;
        int settledWins = 0;
        int releaseWins = 0;
        long expectedDebited = 0;
        CyclicBarrier barrier = new CyclicBarrier(2);
        for (int round = 0; round < rounds; round++) {
            long held = random.nextLong(1, 10_000);
            long cost = random.nextLong(0, 2 * held);
            Reservation reservation = Reservation.tryReserve(balances, 0, held, held);
            AtomicReference<Reservation.Settlement> settled = new AtomicReference<>();
            AtomicReference<Boolean> released = new AtomicReference<>();
            Thread settler = new Thread(() -> {
                await(barrier);
                settled.set(reservation.settle(cost));
            });
            Thread releaser = new Thread(() -> {
                await(barrier);
                released.set(reservation.release());
            });
            settler.start();
            releaser.start();
            settler.join();
            releaser.join();
            boolean settleWon = settled.get() != null;
            boolean releaseWon = released.get();
            assertThat(settleWon ^ releaseWon).as("seed " + seed + " round " + round + ": exactly one outcome").isTrue();
            if (settleWon) {
                settledWins++;
                expectedDebited += cost;
            } else {
                releaseWins++;
            }
            assertThat(balances.reservedMicros(0)).as("round " + round).isZero();
            assertThat(balances.debitedMicros(0)).as("round " + round).isEqualTo(expectedDebited);
            assertThat(balances.conservationErrorMicros(0)).isZero();
        }
        System.out.println("settle won " + settledWins + ", release won " + releaseWins + " of " + rounds);
        assertThat(settledWins + releaseWins).isEqualTo(rounds);
    }

    @Test
    void manyThreadsClosingOneReservationCloseItOnce() throws Exception {
        Balances balances = funded(1_000_000L);
        for (int round = 0; round < 500; round++) {
            Reservation reservation = Reservation.tryReserve(balances, 0, 1_000, 1_000);
            int threads = 6;
            CyclicBarrier barrier = new CyclicBarrier(threads);
            java.util.concurrent.atomic.AtomicInteger wins = new java.util.concurrent.atomic.AtomicInteger();
            Thread[] closers = new Thread[threads];
            for (int t = 0; t < threads; t++) {
                boolean settle = t % 2 == 0;
                closers[t] = new Thread(() -> {
                    await(barrier);
                    boolean won = settle ? reservation.settle(0) != null : reservation.release();
                    if (won) {
                        wins.incrementAndGet();
                    }
                });
                closers[t].start();
            }
            for (Thread closer : closers) {
                closer.join();
            }
            assertThat(wins.get()).as("round " + round).isEqualTo(1);
            assertThat(balances.availableMicros(0)).as("round " + round).isEqualTo(1_000_000L);
            assertThat(balances.reservedMicros(0)).isZero();
        }
    }

    private static void await(CyclicBarrier barrier) {
        try {
            barrier.await();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
