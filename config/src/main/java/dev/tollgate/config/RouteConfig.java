package dev.tollgate.config;

import java.util.List;

/**
 * What a model name a client sends is served by: candidate targets, tried by priority (lowest first), and within one
 * priority in a weighted random order. A model without a route is served by its catalog row's provider, as before routes.
 *
 * @param billing     who is paid for the provider's tokens: Tollgate from the prepaid balance, or the provider directly on
 *                    the account's own provider credentials (then the cost still counts against the key's spend caps)
 * @param platformFee on a direct route, what Tollgate charges the prepaid balance per request; {@link PlatformFee#NONE} for nothing
 */
public record RouteConfig(String model, List<Target> targets, Billing billing, PlatformFee platformFee) {

    public RouteConfig {
        targets = List.copyOf(targets);
        java.util.Objects.requireNonNull(billing);
        java.util.Objects.requireNonNull(platformFee);
    }

    /** A route billed on the prepaid balance. */
    public RouteConfig(String model, List<Target> targets) {
        this(model, targets, Billing.PREPAID, PlatformFee.NONE);
    }

    public boolean direct() {
        return billing == Billing.DIRECT;
    }

    /**
     * One candidate: a configured provider and the model name it is asked for (its catalog row prices it).
     *
     * @param priority 1 is tried first; a higher number only when every target of a lower one failed or is skipped
     * @param weight   within one priority, the share of first attempts this target gets
     */
    public record Target(String provider, String model, int priority, int weight) {
    }

    /** Who a route's provider tokens are paid to. */
    public enum Billing {
        /** Tollgate, from the account's prepaid balance: the default. */
        PREPAID,
        /** The provider, on the account's own credentials: metered and capped here, not drawn from the balance. */
        DIRECT
    }

    /**
     * What Tollgate charges the prepaid balance for a request it serves on a direct route: a flat amount plus a share of
     * the request's cost at the catalog price, rounded down to the micro (so the fee grows with the cost, never past
     * what the worst case held).
     */
    public record PlatformFee(long perRequestMicros, int percentBps) {
        public static final PlatformFee NONE = new PlatformFee(0, 0);
        /** 100% of the cost: a fee above it is a price, not a fee. */
        public static final int MAX_PERCENT_BPS = 10_000;
        /** A cent's ten thousand times: far above any real per-request fee, far below overflow. */
        public static final long MAX_PER_REQUEST_MICROS = 100_000_000L;

        public PlatformFee {
            if (perRequestMicros < 0 || perRequestMicros > MAX_PER_REQUEST_MICROS || percentBps < 0 || percentBps > MAX_PERCENT_BPS) {
                throw new IllegalArgumentException("platform fee out of range: " + perRequestMicros + " micros, " + percentBps + " bps");
            }
        }

        /** The fee of a request that cost {@code costMicros} at the catalog price. */
        public long feeMicros(long costMicros) {
            // floor(cost * bps / 10000) without the product, which could overflow for a large cost
            return perRequestMicros + costMicros / MAX_PERCENT_BPS * percentBps + costMicros % MAX_PERCENT_BPS * percentBps / MAX_PERCENT_BPS;
        }

        public boolean isNone() {
            return perRequestMicros == 0 && percentBps == 0;
        }
    }
}
