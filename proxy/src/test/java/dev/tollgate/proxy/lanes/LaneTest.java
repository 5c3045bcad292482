package dev.tollgate.proxy.lanes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.LaneConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * One lane's slots and queue on their own: the cap holds under any interleaving of arrivals, releases, timeouts and
 * clients leaving; a slot goes to the oldest waiter; every request ends exactly one way; nothing stays taken.
 * Randomized with a printed seed: rerun a failure with {@code -Dtollgate.seed=N}.
 */
class LaneTest {

    /** A waiter that records how it ended. */
    private static final class Probe extends Lane.Waiter {
        final int id;
        final AtomicInteger grants = new AtomicInteger();
        private final java.util.function.Consumer<Probe> onGrant;

        Probe(int id, java.util.function.Consumer<Probe> onGrant) {
            this.id = id;
            this.onGrant = onGrant;
        }

        @Override
        protected void granted() {
            grants.incrementAndGet();
            onGrant.accept(this);
        }
    }

    @Test
    void theCapIsNeverExceededAndEveryRequestEndsOnceUnderRandomConcurrentLoad() throws Exception {
        long baseSeed = Long.getLong("tollgate.seed", 20261208L);
        for (int round = 0; round < 6; round++) {
            long seed = baseSeed + round;
            System.out.println("LaneTest seed=" + seed + " (rerun with -Dtollgate.seed=" + seed + ")");
            runRound(seed);
        }
    }

    private static void runRound(long seed) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        int cap = 1 + random.nextInt(6);
        int depth = random.nextInt(12);
        Lane lane = new Lane(LaneConfig.of("batch", cap, depth, 1_000), 0);
        AtomicInteger holding = new AtomicInteger();
        AtomicInteger peak = new AtomicInteger();
        AtomicInteger overCap = new AtomicInteger();
        ExecutorService loops = Executors.newFixedThreadPool(3); // the waiters' own threads, where a granted slot is used
        Runnable hold = () -> {
            int now = holding.incrementAndGet();
            peak.accumulateAndGet(now, Math::max);
            if (now > cap) {
                overCap.incrementAndGet();
            }
            for (int spin = 0; spin < 200; spin++) {
                Thread.onSpinWait();
            }
            holding.decrementAndGet(); // before the slot goes back, so holding never counts a slot that is not held
            lane.release(1_000);
        };
        int threads = 4;
        int perThread = 3_000;
        AtomicInteger admitted = new AtomicInteger();
        AtomicInteger full = new AtomicInteger();
        AtomicInteger gone = new AtomicInteger();
        ConcurrentLinkedQueue<Probe> granted = new ConcurrentLinkedQueue<>();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> arrivals = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            SplittableRandom own = random.split();
            int base = t * perThread;
            Thread thread = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < perThread; i++) {
                    Probe probe = new Probe(base + i, p -> {
                        granted.add(p);
                        loops.execute(hold);
                    });
                    switch (lane.enter(probe)) {
                        case ADMITTED -> {
                            admitted.incrementAndGet();
                            hold.run();
                        }
                        case FULL -> full.incrementAndGet();
                        case QUEUED -> {
                            int fate = own.nextInt(4); // a timeout, a client that leaves, or a wait for the slot
                            for (int spin = own.nextInt(300); spin > 0; spin--) {
                                Thread.onSpinWait();
                            }
                            if (fate == 0 && lane.timedOut(probe) || fate == 1 && lane.abandoned(probe)) {
                                gone.incrementAndGet();
                                assertThat(lane.timedOut(probe) || lane.abandoned(probe)).as("a waiter leaves once").isFalse();
                            }
                        }
                    }
                }
            });
            arrivals.add(thread);
            thread.start();
        }
        start.countDown();
        for (Thread thread : arrivals) {
            thread.join(TimeUnit.SECONDS.toMillis(60));
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while ((lane.inFlight() != 0 || lane.queued() != 0) && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        loops.shutdown();
        assertThat(loops.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
        String round = "seed " + seed + ", cap " + cap + ", depth " + depth;
        assertThat(overCap.get()).as(round + ": holders over the cap (peak %d)", peak.get()).isZero();
        assertThat(lane.inFlight()).as(round + ": slots still taken").isZero();
        assertThat(lane.queued()).as(round + ": requests still queued").isZero();
        assertThat(granted).as(round + ": each waiter granted at most once").allSatisfy(p -> assertThat(p.grants.get()).isEqualTo(1));
        assertThat(admitted.get() + full.get() + gone.get() + granted.size()).as(round + ": every request ended exactly one way")
                .isEqualTo(threads * perThread);
        assertThat(lane.refusedFull()).isEqualTo(full.get());
        assertThat(lane.refusedTimedOut() + lane.leftWhileQueued()).isEqualTo(gone.get());
        if (depth == 0) {
            assertThat(granted).as(round + ": without a queue nothing waits").isEmpty();
        }
    }

    @Test
    void aFreedSlotGoesToTheOldestWaiterAndANewArrivalDoesNotOvertakeTheQueue() {
        Lane lane = new Lane(LaneConfig.of("batch", 1, 3, 1_000), 0);
        List<Integer> order = new ArrayList<>();
        Probe first = new Probe(0, p -> order.add(p.id));
        assertThat(lane.enter(first)).isEqualTo(Lane.Entry.ADMITTED);
        Probe[] waiting = {new Probe(1, p -> order.add(p.id)), new Probe(2, p -> order.add(p.id)), new Probe(3, p -> order.add(p.id))};
        for (Probe probe : waiting) {
            assertThat(lane.enter(probe)).isEqualTo(Lane.Entry.QUEUED);
        }
        assertThat(lane.enter(new Probe(4, p -> order.add(p.id)))).as("the queue is full").isEqualTo(Lane.Entry.FULL);
        assertThat(lane.queued()).isEqualTo(3);
        assertThat(lane.abandoned(waiting[1])).as("the second waiter's client leaves").isTrue();
        lane.release(5);
        assertThat(order).containsExactly(1);
        assertThat(lane.timedOut(waiting[0])).as("granted: too late to time out").isFalse();
        assertThat(lane.inFlight()).as("the slot passed on, not freed").isEqualTo(1);
        // A new arrival while one waits joins behind it.
        Probe late = new Probe(5, p -> order.add(p.id));
        assertThat(lane.enter(late)).isEqualTo(Lane.Entry.QUEUED);
        lane.release(5);
        lane.release(5);
        lane.release(5);
        assertThat(order).containsExactly(1, 3, 5);
        assertThat(lane.inFlight()).isZero();
        assertThat(lane.queued()).isZero();
        assertThat(lane.leftWhileQueued()).isEqualTo(1);
        assertThat(lane.refusedFull()).isEqualTo(1);
    }

    @Test
    void aLaneWithoutAQueueRefusesAtOnceAndTheBuiltInLaneNeverDoes() {
        Lane none = new Lane(LaneConfig.of("interactive", 2, 0, 1_000), 0);
        assertThat(none.enter(new Probe(0, p -> { }))).isEqualTo(Lane.Entry.ADMITTED);
        assertThat(none.enter(new Probe(1, p -> { }))).isEqualTo(Lane.Entry.ADMITTED);
        assertThat(none.enter(new Probe(2, p -> { }))).isEqualTo(Lane.Entry.FULL);
        assertThat(none.queued()).isZero();
        Lane builtIn = new Lane(LaneConfig.BUILT_IN, 0);
        for (int i = 0; i < 10_000; i++) {
            assertThat(builtIn.enter(new Probe(i, p -> { }))).isEqualTo(Lane.Entry.ADMITTED);
        }
        assertThat(builtIn.inFlight()).isEqualTo(10_000);
    }

    /** retry-after is at least a second and at most the queue timeout: by then everyone queued now was served or refused. */
    @Test
    void retryAfterIsTheQueueAheadAtTheMeanSlotTimeWithinOneSecondAndTheQueueTimeout() {
        Lane lane = new Lane(LaneConfig.of("batch", 2, 100, 30_000), 0);
        assertThat(lane.retryAfterSeconds()).as("nothing measured yet").isEqualTo(1);
        Probe holder = new Probe(0, p -> { });
        lane.enter(holder);
        lane.release(TimeUnit.SECONDS.toNanos(4)); // a mean slot time of 4 s
        lane.enter(new Probe(1, p -> { }));
        lane.enter(new Probe(2, p -> { }));
        for (int i = 0; i < 9; i++) {
            assertThat(lane.enter(new Probe(3 + i, p -> { }))).isEqualTo(Lane.Entry.QUEUED);
        }
        // 9 queued + this one = 10 ahead at 2 slots of 4 s: 20 s.
        assertThat(lane.retryAfterSeconds()).isEqualTo(20);
        for (int i = 0; i < 20; i++) {
            lane.enter(new Probe(100 + i, p -> { }));
        }
        assertThat(lane.retryAfterSeconds()).as("capped at the queue timeout").isEqualTo(30);
    }
}
