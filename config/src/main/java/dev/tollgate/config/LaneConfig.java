package dev.tollgate.config;

/**
 * One lane: a share of the node that its keys' requests run in and never leave. Lanes share nothing: each has its own
 * slots, its own queue and its own upstream connections, so a flooded lane waits or refuses on its own.
 *
 * @param name                a tag ({@code [a-z0-9][a-z0-9_.-]{0,31}}, as a key's lane tag), unique; journaled with every debit
 * @param maxConcurrent       requests of the lane in flight at once on this node, from the lane gate to the end of the exchange
 * @param queueDepth          requests that may wait for a slot (first in, first out); 0: none wait, a full lane refuses at once
 * @param queueTimeoutMs      the longest a request waits in the queue; then it is refused (503, Anthropic 529) with retry-after
 * @param upstreamConnections upstream connections (in use and idle, all providers) the lane may hold open, divided
 *                            evenly across the event loops (at least one each)
 * @param priority            lower first (as routes' priorities): when queued requests of several lanes are resumed on one
 *                            event loop at the same time, the lower number's run first (see {@code config/README.md})
 * @param priceMultiplierBps  what the lane's tokens cost, in basis points of the listed price: 10000 is the list price,
 *                            5000 half of it; applied once in the cost rule, before its one rounding
 */
public record LaneConfig(String name, int maxConcurrent, int queueDepth, int queueTimeoutMs, int upstreamConnections, int priority,
                         int priceMultiplierBps) {
    /** The lane of every key when the configuration declares none: no cap, no queue, the list price. */
    public static final String BUILT_IN_NAME = "default";
    public static final int LIST_PRICE_BPS = 10_000;
    public static final int MAX_PRICE_MULTIPLIER_BPS = 100_000;
    public static final int DEFAULT_PRIORITY = 0;
    public static final int MAX_PRIORITY = 100;
    public static final int DEFAULT_QUEUE_TIMEOUT_MS = 2_000;
    public static final int MAX_COUNT = 1_000_000;
    /** Beyond any count a node reaches, so the built-in lane never refuses or queues. */
    public static final int UNBOUNDED = Integer.MAX_VALUE;

    public static final LaneConfig BUILT_IN = new LaneConfig(BUILT_IN_NAME, UNBOUNDED, 0, DEFAULT_QUEUE_TIMEOUT_MS, UNBOUNDED, DEFAULT_PRIORITY,
            LIST_PRICE_BPS);

    public LaneConfig {
        java.util.Objects.requireNonNull(name, "name");
        if (maxConcurrent < 1 || queueDepth < 0 || queueTimeoutMs < 1 || upstreamConnections < 1 || priority < 0
                || priceMultiplierBps < 1 || priceMultiplierBps > MAX_PRICE_MULTIPLIER_BPS) {
            throw new IllegalArgumentException("lane " + name + ": out of range: " + maxConcurrent + ", " + queueDepth + ", " + queueTimeoutMs + ", "
                    + upstreamConnections + ", " + priority + ", " + priceMultiplierBps);
        }
    }

    /** A lane at the list price and the default priority, its connections as many as its slots. */
    public static LaneConfig of(String name, int maxConcurrent, int queueDepth, int queueTimeoutMs) {
        return new LaneConfig(name, maxConcurrent, queueDepth, queueTimeoutMs, maxConcurrent, DEFAULT_PRIORITY, LIST_PRICE_BPS);
    }

    public LaneConfig withPriceMultiplierBps(int bps) {
        return new LaneConfig(name, maxConcurrent, queueDepth, queueTimeoutMs, upstreamConnections, priority, bps);
    }

    public LaneConfig withUpstreamConnections(int connections) {
        return new LaneConfig(name, maxConcurrent, queueDepth, queueTimeoutMs, connections, priority, priceMultiplierBps);
    }

    public LaneConfig withPriority(int newPriority) {
        return new LaneConfig(name, maxConcurrent, queueDepth, queueTimeoutMs, upstreamConnections, newPriority, priceMultiplierBps);
    }
}
