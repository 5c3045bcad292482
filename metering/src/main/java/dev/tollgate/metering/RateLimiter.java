package dev.tollgate.metering;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The rate limits of one key or one account on this node: requests per minute, tokens per minute and requests in
 * flight. Each per-minute limit is a generic cell rate algorithm (GCRA) in one {@link AtomicLong}: the theoretical
 * arrival time advances by {@code 60 s / limit} per request (or per token), a request is admitted while that time stays
 * within a minute of now, so a full minute's allowance may come in one burst and then refills evenly, as the
 * providers' own token buckets do. Lock-free and allocation-free on the request path.
 *
 * <p>Limits change live ({@link #setLimits}); the state they act on stays, so a lower limit applies to what was already
 * used. A limit of {@link #NONE} never refuses.
 */
public final class RateLimiter {
    public static final long NONE = -1;
    public static final long MAX_PER_MINUTE = 1_000_000_000L;
    public static final long MAX_CONCURRENCY = 1_000_000L;
    static final long MINUTE_NANOS = 60_000_000_000L;
    /** The most tokens one request is charged: far beyond any context window, and keeps {@code tokens * interval} in a long. */
    static final long MAX_TOKENS_PER_REQUEST = 100_000_000L;

    // Theoretical arrival times on the caller's nanosecond clock; they start in the past: a new limiter is fully rested.
    private final AtomicLong requestsTatNanos;
    private final AtomicLong tokensTatNanos;
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile Limits limits = new Limits(NONE, NONE, NONE);

    /** Requests per minute, tokens per minute, concurrent requests; each {@link #NONE} for no limit. */
    public record Limits(long rpm, long tpm, long concurrency) {
        public static final Limits NO_LIMITS = new Limits(NONE, NONE, NONE);

        public Limits {
            check("rpm", rpm, MAX_PER_MINUTE);
            check("tpm", tpm, MAX_PER_MINUTE);
            check("concurrency", concurrency, MAX_CONCURRENCY);
        }

        private static void check(String field, long value, long max) {
            if (value != NONE && (value < 1 || value > max)) {
                throw new IllegalArgumentException(field + ": from 1 to " + max + ", or none; found " + value);
            }
        }

        public boolean any() {
            return rpm != NONE || tpm != NONE || concurrency != NONE;
        }
    }

    /** Which limit refused a request. */
    public enum Refusal { REQUESTS, TOKENS, CONCURRENCY }

    /** A limiter on {@link System#nanoTime()}'s scale, the clock the proxy passes. */
    public RateLimiter() {
        this(System.nanoTime());
    }

    public RateLimiter(long nowNanos) {
        requestsTatNanos = new AtomicLong(nowNanos - MINUTE_NANOS);
        tokensTatNanos = new AtomicLong(nowNanos - MINUTE_NANOS);
    }

    public Limits limits() {
        return limits;
    }

    public void setLimits(Limits newLimits) {
        limits = newLimits;
    }

    /**
     * Admits one request charged {@code tokens} (the reservation's estimate) at {@code nowNanos}, or refuses it having
     * changed nothing. Returns null when admitted: the caller must {@link #finish} or {@link #cancel} it once.
     */
    public Refusal tryAcquire(long tokens, long nowNanos) {
        Limits current = limits;
        if (current.concurrency != NONE && inFlight.incrementAndGet() > current.concurrency) {
            inFlight.decrementAndGet();
            return Refusal.CONCURRENCY;
        }
        if (current.concurrency == NONE) {
            inFlight.incrementAndGet(); // counted anyway, so a limit set later sees what is in flight
        }
        if (current.rpm != NONE && !take(requestsTatNanos, 1, MINUTE_NANOS / current.rpm, nowNanos)) {
            inFlight.decrementAndGet();
            return Refusal.REQUESTS;
        }
        if (current.tpm != NONE && !take(tokensTatNanos, clampTokens(tokens), MINUTE_NANOS / current.tpm, nowNanos)) {
            if (current.rpm != NONE) {
                give(requestsTatNanos, 1, MINUTE_NANOS / current.rpm, nowNanos);
            }
            inFlight.decrementAndGet();
            return Refusal.TOKENS;
        }
        return null;
    }

    /** Ends an admitted request: it is no longer in flight, and the tokens charged beyond what it used come back. */
    public void finish(long chargedTokens, long usedTokens, long nowNanos) {
        inFlight.decrementAndGet();
        Limits current = limits;
        long unused = clampTokens(chargedTokens) - clampTokens(usedTokens);
        if (current.tpm != NONE && unused > 0) {
            give(tokensTatNanos, unused, MINUTE_NANOS / current.tpm, nowNanos);
        } else if (current.tpm != NONE && unused < 0) {
            // Used more than estimated: charged now, never refused (the request is over).
            long interval = MINUTE_NANOS / current.tpm;
            tokensTatNanos.updateAndGet(tat -> Math.max(tat, nowNanos) + -unused * interval);
        }
    }

    /**
     * Undoes a {@link #tryAcquire} made at {@code acquiredNanos} whose request was refused before it was forwarded (the
     * account's limit, the balance, a spend cap, the journal): it leaves the in-flight count and gives back its charge
     * less the time since. Meanwhile another request may have been charged from the arrival time this one pushed ahead
     * instead of from its own now, by at most that time; giving back the whole charge would then make the limiter more
     * generous than had this request never come. With nothing in between the two give the same.
     */
    public void cancel(long chargedTokens, long acquiredNanos, long nowNanos) {
        inFlight.decrementAndGet();
        Limits current = limits;
        long elapsedNanos = Math.max(0, nowNanos - acquiredNanos);
        if (current.rpm != NONE) {
            giveNanos(requestsTatNanos, MINUTE_NANOS / current.rpm - elapsedNanos, nowNanos);
        }
        if (current.tpm != NONE) {
            giveNanos(tokensTatNanos, clampTokens(chargedTokens) * (MINUTE_NANOS / current.tpm) - elapsedNanos, nowNanos);
        }
    }

    public int inFlight() {
        return inFlight.get();
    }

    /** Requests left in the current minute's allowance, or -1 without a request limit. */
    public long remainingRequests(long nowNanos) {
        Limits current = limits;
        return current.rpm == NONE ? -1 : remaining(requestsTatNanos.get(), current.rpm, nowNanos);
    }

    public long remainingTokens(long nowNanos) {
        Limits current = limits;
        return current.tpm == NONE ? -1 : remaining(tokensTatNanos.get(), current.tpm, nowNanos);
    }

    /** Nanoseconds until the request allowance is whole again (0 when it is). */
    public long requestsResetNanos(long nowNanos) {
        return Math.max(0, requestsTatNanos.get() - nowNanos);
    }

    /** Whether a request charged {@code tokens} exceeds the whole token allowance, so no wait would admit it. */
    public boolean exceedsTokenLimit(long tokens) {
        Limits current = limits;
        return current.tpm != NONE && clampTokens(tokens) > current.tpm;
    }

    public long tokensResetNanos(long nowNanos) {
        return Math.max(0, tokensTatNanos.get() - nowNanos);
    }

    /** Nanoseconds until a request refused for {@code refusal} (charged {@code tokens}) could be admitted. */
    public long retryAfterNanos(Refusal refusal, long tokens, long nowNanos) {
        Limits current = limits;
        return switch (refusal) {
            case REQUESTS -> current.rpm == NONE ? 0 : Math.max(0, requestsTatNanos.get() + MINUTE_NANOS / current.rpm - MINUTE_NANOS - nowNanos);
            case TOKENS -> current.tpm == NONE ? 0
                    : Math.max(0, tokensTatNanos.get() + clampTokens(tokens) * (MINUTE_NANOS / current.tpm) - MINUTE_NANOS - nowNanos);
            case CONCURRENCY -> 1_000_000_000L; // nothing tells when a request in flight ends: a second is the SDKs' own first backoff
        };
    }

    private static long remaining(long tatNanos, long perMinute, long nowNanos) {
        long interval = MINUTE_NANOS / perMinute;
        long used = Math.max(0, tatNanos - nowNanos);
        return Math.max(0, Math.min(perMinute, (MINUTE_NANOS - used) / interval));
    }

    private static long clampTokens(long tokens) {
        return Math.max(0, Math.min(tokens, MAX_TOKENS_PER_REQUEST));
    }

    /** GCRA: admits {@code amount} if the theoretical arrival time after it stays within a minute of now. */
    private static boolean take(AtomicLong tatNanos, long amount, long intervalNanos, long nowNanos) {
        while (true) {
            long tat = tatNanos.get();
            long next = Math.max(tat, nowNanos) + amount * intervalNanos;
            if (next - nowNanos > MINUTE_NANOS) {
                return false;
            }
            if (tatNanos.compareAndSet(tat, next)) {
                return true;
            }
        }
    }

    private static void give(AtomicLong tatNanos, long amount, long intervalNanos, long nowNanos) {
        giveNanos(tatNanos, amount * intervalNanos, nowNanos);
    }

    private static void giveNanos(AtomicLong tatNanos, long nanos, long nowNanos) {
        if (nanos > 0) {
            tatNanos.updateAndGet(tat -> Math.max(nowNanos, tat - nanos));
        }
    }
}
