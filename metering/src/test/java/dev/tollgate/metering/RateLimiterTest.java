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
        limiter.cancel(100, T0);
        assertThat(limiter.inFlight()).isEqualTo(1);
        assertThat(limiter.remainingRequests(T0)).isEqualTo(9);
        assertThat(limiter.remainingTokens(T0)).isEqualTo(500);
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
