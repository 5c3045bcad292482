package dev.tollgate.config;

/**
 * How routed requests fall back and when an upstream is skipped.
 *
 * @param maxAttempts   upstream attempts per request at most, the first included; each target is tried at most once
 * @param backoffMs     the wait before the second attempt, doubled for each later one, with full jitter (a random wait
 *                      between 0 and it), so clients that failed together do not retry together
 * @param maxBackoffMs  the longest wait before an attempt
 * @param breaker       the circuit breaker every upstream provider has
 */
public record RoutingConfig(int maxAttempts, int backoffMs, int maxBackoffMs, Breaker breaker) {
    public static final RoutingConfig DEFAULT = new RoutingConfig(3, 20, 200, Breaker.DEFAULT);

    /**
     * A provider's breaker opens after {@code consecutiveFailures} failures in a row, or when at least
     * {@code failureRatePercent} of its last {@code windowCalls} calls failed (once it has seen {@code minimumCalls});
     * while open it is skipped; after {@code openMs} it lets {@code halfOpenProbes} requests through, and closes when
     * they succeed or opens again when one fails. A failure is a connection that could not be made or was lost before
     * the response head, a timeout to the head, or a 5xx or 429 answer (a 401 or 403 too: the provider refused
     * Tollgate's key). Only models with a configured route consult the breakers: a model served by its catalog row alone
     * is always sent, as before routes, so one tenant's failing requests cannot close a provider to every tenant that
     * has no alternative.
     */
    public record Breaker(int consecutiveFailures, int failureRatePercent, int windowCalls, int minimumCalls, int openMs, int halfOpenProbes) {
        public static final Breaker DEFAULT = new Breaker(5, 50, 20, 10, 30_000, 2);
    }
}
