package dev.tollgate.proxy.upstream;

import dev.tollgate.config.ProviderConfig;
import dev.tollgate.config.RoutingConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One circuit breaker per upstream provider, shared by the event loops: resilience4j's, with its lock-free sliding
 * window (an error rate over the last calls), plus a count of consecutive failures that opens it sooner, since a
 * provider that refuses every connection should not need half a window of victims. Routing asks for a {@link Permit}
 * before each attempt and skips a provider that gives none; each permit ends exactly once, as a success, a failure or
 * unused (the client left before the attempt ended), so a half-open breaker never waits for a probe that is gone.
 */
public final class UpstreamBreakers {
    private final CircuitBreakerConfig breakerConfig;
    private final int consecutiveFailuresToOpen;
    private final Map<String, Breaker> byProvider = new ConcurrentHashMap<>();

    public UpstreamBreakers(List<ProviderConfig> providers, RoutingConfig.Breaker settings, Clock clock) {
        this.consecutiveFailuresToOpen = settings.consecutiveFailures();
        this.breakerConfig = CircuitBreakerConfig.custom()
                .slidingWindow(settings.windowCalls(), Math.min(settings.minimumCalls(), settings.windowCalls()),
                        CircuitBreakerConfig.SlidingWindowType.COUNT_BASED, CircuitBreakerConfig.SlidingWindowSynchronizationStrategy.LOCK_FREE)
                .failureRateThreshold(settings.failureRatePercent())
                .slowCallRateThreshold(100)
                .slowCallDurationThreshold(Duration.ofDays(1)) // latency is the timeouts' business, not the breaker's
                .waitDurationInOpenState(Duration.ofMillis(settings.openMs()))
                .permittedNumberOfCallsInHalfOpenState(settings.halfOpenProbes())
                .automaticTransitionFromOpenToHalfOpenEnabled(false) // no timer thread: the next request after openMs probes
                .recordException(failure -> true)
                .clock(clock)
                .currentTimestampFunction(Clock::millis, TimeUnit.MILLISECONDS) // durations by the same clock, so a test can move it
                .build();
        for (ProviderConfig provider : providers) {
            breaker(provider.name());
        }
    }

    /** A permit to try {@code provider} now, or null when its breaker is open (or half-open with every probe out). */
    public Permit tryAcquire(String provider) {
        Breaker breaker = breaker(provider);
        return breaker.circuit.tryAcquirePermission() ? new Permit(breaker) : null;
    }

    /** The state of {@code provider}'s breaker. */
    public CircuitBreaker.State state(String provider) {
        return breaker(provider).circuit.getState();
    }

    /** Every provider's breaker state, for the metrics page. */
    public Map<String, CircuitBreaker.State> states() {
        Map<String, CircuitBreaker.State> states = new java.util.TreeMap<>();
        byProvider.forEach((name, breaker) -> states.put(name, breaker.circuit.getState()));
        return states;
    }

    private Breaker breaker(String provider) {
        return byProvider.computeIfAbsent(provider, name -> new Breaker(CircuitBreaker.of(name, breakerConfig), consecutiveFailuresToOpen));
    }

    private static final class Breaker {
        final CircuitBreaker circuit;
        final int consecutiveFailuresToOpen;
        final AtomicInteger consecutiveFailures = new AtomicInteger();

        Breaker(CircuitBreaker circuit, int consecutiveFailuresToOpen) {
            this.circuit = circuit;
            this.consecutiveFailuresToOpen = consecutiveFailuresToOpen;
        }
    }

    /** What one attempt on a provider became; the first report counts, later ones change nothing. */
    public static final class Permit {
        /** The permit of an attempt no breaker watches (a model without a configured route): its reports go nowhere. */
        public static final Permit NONE = new Permit(null);

        private final Breaker breaker;
        private final long startNanos = System.nanoTime();
        private boolean ended;

        private Permit(Breaker breaker) {
            this.breaker = breaker;
        }

        /** The provider answered with a response head that is not a 5xx or 429. */
        public void succeeded() {
            if (end()) {
                // A success after the breaker reopened (a probe that outlived a failed one) is dropped by resilience4j's open state.
                breaker.consecutiveFailures.set(0);
                breaker.circuit.onSuccess(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
            }
        }

        /** The provider failed this attempt ({@code reason}, for the breaker's own records). */
        public void failed(String reason) {
            if (end()) {
                breaker.circuit.onError(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS, new UpstreamFailure(reason));
                CircuitBreaker.State state = breaker.circuit.getState();
                if (state == CircuitBreaker.State.HALF_OPEN
                        || breaker.consecutiveFailures.incrementAndGet() >= breaker.consecutiveFailuresToOpen && state == CircuitBreaker.State.CLOSED) {
                    // A failed probe reopens at once: resilience4j would wait for every probe of the batch to report.
                    breaker.consecutiveFailures.set(0);
                    breaker.circuit.transitionToOpenState();
                }
            }
        }

        /** The attempt ended without saying anything about the provider (the client left first). */
        public void unused() {
            if (end()) {
                breaker.circuit.releasePermission();
            }
        }

        private boolean end() {
            if (ended || breaker == null) {
                return false;
            }
            ended = true;
            return true;
        }
    }

    /** An upstream failure as the breaker records it: no stack trace, it is traffic, not a bug. */
    static final class UpstreamFailure extends RuntimeException {
        UpstreamFailure(String reason) {
            super(reason, null, false, false);
        }
    }
}
