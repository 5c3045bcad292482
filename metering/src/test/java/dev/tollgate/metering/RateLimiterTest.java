package dev.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class RateLimiterTest {
    private static final long SECOND = 1_000_000_000L;
    private static final long T0 = 1_000 * SECOND;

    @Test
    void aMinutesRequestsComeInABurstThenRefillEvenly() {
        RateLimiter limiter = new RateLimiter(T0);
        limiter.setLimits(new RateLimiter.Limits(60, RateLimiter.NONE, RateLimiter.NONE));
        for (int i = 0; i < 60; i++) {
            assertThat(limiter.tryAcquire(0, T0)).as("request %d", i).isNull();
            limiter.finish(0, 0, T0);
        }
        assertThat(limiter.tryAcquire(0, T0)).isEqualTo(RateLimiter.Refusal.REQUESTS);
        assertThat(limiter.remainingRequests(T0)).isZero();
        assertThat(limiter.retryAfterNanos(RateLimiter.Refusal.REQUESTS, 0, T0)).isEqualTo(SECOND);
        assertThat(limiter.requestsResetNanos(T0)).isEqualTo(60 * SECOND);
        assertThat(limiter.tryAcquire(0, T0 + SECOND - 1)).isEqualTo(RateLimiter.Refusal.REQUESTS);
        assertThat(limiter.tryAcquire(0, T0 + SECOND)).as("one request's interval later").isNull();
        assertThat(limiter.remainingRequests(T0 + 30 * SECOND)).isEqualTo(29);
        assertThat(limiter.inFlight()).isEqualTo(1);
    }

    @Test
    void tokensAreChargedByEstimateAndCorrectedAtTheEnd() {
        RateLimiter limiter = new RateLimiter(T0);
        limiter.setLimits(new RateLimiter.Limits(RateLimiter.NONE, 1_000, RateLimiter.NONE));
        assertThat(limiter.tryAcquire(800, T0)).isNull();
        assertThat(limiter.tryAcquire(300, T0)).isEqualTo(RateLimiter.Refusal.TOKENS);
        assertThat(limiter.remainingTokens(T0)).isEqualTo(200);
        limiter.finish(800, 100, T0); // used 100 of the 800 charged
        assertThat(limiter.remainingTokens(T0)).isEqualTo(900);
        assertThat(limiter.tryAcquire(900, T0)).isNull();
        limiter.finish(900, 1_000, T0); // used more than estimated: charged, nothing refused
        assertThat(limiter.remainingTokens(T0)).isZero();
        assertThat(limiter.exceedsTokenLimit(1_001)).isTrue();
        assertThat(limiter.exceedsTokenLimit(1_000)).isFalse();
    }

    @Test
    void aRefusalOrACancelLeavesNothingTaken() {
        RateLimiter limiter = new RateLimiter(T0);
        limiter.setLimits(new RateLimiter.Limits(10, 1_000, 2));
        assertThat(limiter.tryAcquire(500, T0)).isNull();
        assertThat(limiter.tryAcquire(600, T0)).isEqualTo(RateLimiter.Refusal.TOKENS);
        assertThat(limiter.remainingRequests(T0)).as("the request refused for tokens gave its request back").isEqualTo(9);
        assertThat(limiter.tryAcquire(100, T0)).isNull();
        assertThat(limiter.tryAcquire(100, T0)).isEqualTo(RateLimiter.Refusal.CONCURRENCY);
        limiter.cancel(100, T0, T0);
        assertThat(limiter.inFlight()).isEqualTo(1);
        assertThat(limiter.remainingRequests(T0)).isEqualTo(9);
        assertThat(limiter.remainingTokens(T0)).isEqualTo(500);
    }

    @Test
    void aCancelledPermitGivesBackItsRequestItsTokensAndItsSlot() {
        RateLimiter limiter = new RateLimiter(T0);
        limiter.setLimits(new RateLimiter.Limits(2, 1_000, 1));
        for (int i = 0; i < 5; i++) {
            long acquiredNanos = T0 + i * SECOND;
            assertThat(limiter.tryAcquire(600, acquiredNanos)).as("refused request %d", i).isNull();
            limiter.cancel(600, acquiredNanos, acquiredNanos + 3_000_000); // 3 ms later: the balance refused it at the reservation
        }
        long nowNanos = T0 + 5 * SECOND;
        assertThat(limiter.inFlight()).isZero();
        assertThat(limiter.remainingRequests(nowNanos)).isEqualTo(2);
        assertThat(limiter.remainingTokens(nowNanos)).isEqualTo(1_000);
        assertThat(limiter.tryAcquire(600, nowNanos)).as("the funded request").isNull();
        limiter.finish(600, 600, nowNanos);
        assertThat(limiter.tryAcquire(400, nowNanos)).isNull();
        limiter.finish(400, 400, nowNanos);
        assertThat(limiter.tryAcquire(0, nowNanos)).as("the two that counted used the minute's requests").isEqualTo(RateLimiter.Refusal.REQUESTS);
    }

    /** A request charged while a cancelled one held the arrival time ahead ends where it would have without the cancelled one. */
    @Test
    void aCancelNeverLeavesTheLimiterMoreGenerousThanIfTheRequestNeverCame() {
        RateLimiter limiter = new RateLimiter(T0);
        RateLimiter never = new RateLimiter(T0);
        for (RateLimiter each : List.of(limiter, never)) {
            each.setLimits(new RateLimiter.Limits(2, 1_000, RateLimiter.NONE)); // 30 s a request, 60 ms a token
        }
        assertThat(limiter.tryAcquire(500, T0)).isNull(); // refused later, before going upstream
        long laterNanos = T0 + 20 * SECOND;
        for (RateLimiter each : List.of(limiter, never)) {
            assertThat(each.tryAcquire(100, laterNanos)).isNull();
        }
        limiter.cancel(500, T0, laterNanos);
        assertThat(limiter.inFlight()).isEqualTo(never.inFlight()).isEqualTo(1);
        for (long nowNanos = laterNanos; nowNanos <= T0 + 90 * SECOND; nowNanos += SECOND) {
            assertThat(limiter.requestsResetNanos(nowNanos)).as("at %d s", (nowNanos - T0) / SECOND).isGreaterThanOrEqualTo(never.requestsResetNanos(nowNanos));
            assertThat(limiter.tokensResetNanos(nowNanos)).as("at %d s", (nowNanos - T0) / SECOND).isGreaterThanOrEqualTo(never.tokensResetNanos(nowNanos));
        }
        assertThat(limiter.requestsResetNanos(laterNanos)).as("and no stricter either").isEqualTo(never.requestsResetNanos(laterNanos));
    }

    /** Seeded: threads cancelling permits while others finish theirs leave the counted ones within the limits, the slots all free. */
    @Test
    void concurrentCancelsGiveBackExactlyWhatTheyTook() throws Exception {
        Random random = new Random(Seeds.seed("RateLimiterTest.concurrentCancelsGiveBackExactlyWhatTheyTook"));
        int rpm = 5 + random.nextInt(100);
        RateLimiter limiter = new RateLimiter(T0);
        limiter.setLimits(new RateLimiter.Limits(rpm, RateLimiter.NONE, 4));
        AtomicInteger counted = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            boolean cancels = t % 2 == 0;
            Thread worker = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < 2_000; i++) {
                    if (limiter.tryAcquire(0, T0) == null) {
                        if (cancels) {
                            limiter.cancel(0, T0, T0);
                        } else {
                            counted.incrementAndGet();
                            limiter.finish(0, 0, T0);
                        }
                    }
                }
            });
            workers.add(worker);
            worker.start();
        }
        go.countDown();
        for (Thread worker : workers) {
            worker.join();
        }
        // The finishing threads may run out of tries while a cancelling one holds the last slot; whatever they got, the
        // cancelled permits left no trace.
        assertThat(counted.get()).as("rpm %d", rpm).isPositive().isLessThanOrEqualTo(rpm);
        assertThat(limiter.remainingRequests(T0)).isEqualTo(rpm - counted.get());
        assertThat(limiter.inFlight()).isZero();
    }

    @Test
    void badLimitsAreRefused() {
        assertThatThrownBy(() -> new RateLimiter.Limits(0, -1, -1)).hasMessageStartingWith("rpm:");
        assertThatThrownBy(() -> new RateLimiter.Limits(-1, RateLimiter.MAX_PER_MINUTE + 1, -1)).hasMessageStartingWith("tpm:");
        assertThatThrownBy(() -> new RateLimiter.Limits(-1, -1, -5)).hasMessageStartingWith("concurrency:");
    }

    /** Seeded: many threads at one instant never together pass the request, token or concurrency limit. */
    @Test
    void concurrentRequestsNeverPassTheLimits() throws Exception {
        Random random = new Random(Seeds.seed("RateLimiterTest.concurrentRequestsNeverPassTheLimits"));
        int rpm = 1 + random.nextInt(200);
        int tpm = 1_000 + random.nextInt(50_000);
        int concurrency = 1 + random.nextInt(30);
        RateLimiter limiter = new RateLimiter(T0);
        limiter.setLimits(new RateLimiter.Limits(rpm, tpm, concurrency));
        int threads = 16;
        long[][] tokens = new long[threads][50];
        for (long[] row : tokens) {
            for (int i = 0; i < row.length; i++) {
                row[i] = 1 + random.nextInt(2_000);
            }
        }
        AtomicInteger admitted = new AtomicInteger();
        java.util.concurrent.atomic.AtomicLong admittedTokens = new java.util.concurrent.atomic.AtomicLong();
        AtomicInteger maxInFlight = new AtomicInteger();
        AtomicInteger inFlight = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long[] mine = tokens[t];
            Thread worker = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (long charge : mine) {
                    if (limiter.tryAcquire(charge, T0) == null) {
                        maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                        admitted.incrementAndGet();
                        admittedTokens.addAndGet(charge);
                        Thread.yield();
                        inFlight.decrementAndGet();
                        limiter.finish(charge, charge, T0);
                    }
                }
            });
            workers.add(worker);
            worker.start();
        }
        go.countDown();
        for (Thread worker : workers) {
            worker.join();
        }
        assertThat(admitted.get()).as("rpm %d", rpm).isLessThanOrEqualTo(rpm).isPositive();
        assertThat(admittedTokens.get()).as("tpm %d", tpm).isLessThanOrEqualTo(tpm);
        assertThat(maxInFlight.get()).as("concurrency %d", concurrency).isLessThanOrEqualTo(concurrency);
        assertThat(limiter.inFlight()).isZero();
    }
}
