package dev.tollgate.proxy;

import dev.tollgate.config.Protocol;
import dev.tollgate.metering.RateLimiter;
import io.netty.handler.codec.http.HttpHeaders;
import java.time.Instant;

/**
 * The rate-limit headers each surface's SDKs and tools read, from Tollgate's own limits (the key's and its account's,
 * whichever has less left): OpenAI's {@code x-ratelimit-limit-requests}, {@code -remaining-requests},
 * {@code -reset-requests} and the {@code -tokens} trio (resets as durations like {@code 6m0s}); Anthropic's
 * {@code anthropic-ratelimit-requests-limit}, {@code -remaining}, {@code -reset} and the {@code -tokens-} trio (resets as
 * RFC 3339 instants). They replace the provider's own, which describe Tollgate's account at the provider, not the client:
 * {@link Headers#copyResponseHeaders} drops every provider header of either family, so the ones set here are the only ones.
 */
public final class RateLimitHeaders {
    private static final String[] OPENAI_NAMES = {"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
            "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"};
    private static final String[] ANTHROPIC_NAMES = {"anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
            "anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining",
            "anthropic-ratelimit-tokens-reset"};

    private RateLimitHeaders() {
    }

    /** Sets the headers of the limits that apply; either limiter may be null. */
    public static void set(HttpHeaders headers, Protocol surface, RateLimiter keyLimiter, RateLimiter accountLimiter, long nowNanos) {
        String[] names = surface == Protocol.ANTHROPIC ? ANTHROPIC_NAMES : OPENAI_NAMES;
        RateLimiter requests = tighter(keyLimiter, accountLimiter, true, nowNanos);
        if (requests != null) {
            headers.set(names[0], requests.limits().rpm());
            headers.set(names[1], requests.remainingRequests(nowNanos));
            headers.set(names[2], reset(surface, requests.requestsResetNanos(nowNanos)));
        }
        RateLimiter tokens = tighter(keyLimiter, accountLimiter, false, nowNanos);
        if (tokens != null) {
            headers.set(names[3], tokens.limits().tpm());
            headers.set(names[4], tokens.remainingTokens(nowNanos));
            headers.set(names[5], reset(surface, tokens.tokensResetNanos(nowNanos)));
        }
    }

    /** The limiter with a limit of this kind that has less left, or null when neither has one. */
    private static RateLimiter tighter(RateLimiter a, RateLimiter b, boolean requests, long nowNanos) {
        long left = a == null ? -1 : requests ? a.remainingRequests(nowNanos) : a.remainingTokens(nowNanos);
        long otherLeft = b == null ? -1 : requests ? b.remainingRequests(nowNanos) : b.remainingTokens(nowNanos);
        if (left < 0) {
            return otherLeft < 0 ? null : b;
        }
        return otherLeft >= 0 && otherLeft < left ? b : a;
    }

    private static String reset(Protocol surface, long nanos) {
        if (surface == Protocol.ANTHROPIC) {
            return Instant.ofEpochMilli(System.currentTimeMillis() + (nanos + 999_999) / 1_000_000).toString();
        }
        return duration(nanos);
    }

    /** Whole seconds, rounded up and at least 1: what a retry-after header says. */
    public static long seconds(long nanos) {
        return Math.max(1, (nanos + 999_999_999) / 1_000_000_000);
    }

    /** As OpenAI writes them: {@code 120ms}, {@code 1s}, {@code 6m0s}; rounded up, so waiting that long is enough. */
    static String duration(long nanos) {
        long millis = (nanos + 999_999) / 1_000_000;
        if (millis < 1_000) {
            return millis + "ms";
        }
        long seconds = (millis + 999) / 1_000;
        return seconds < 60 ? seconds + "s" : seconds / 60 + "m" + seconds % 60 + "s";
    }
}
