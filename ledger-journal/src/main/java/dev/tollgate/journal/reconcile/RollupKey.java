package dev.tollgate.journal.reconcile;

import java.util.Comparator;

/**
 * One row of the hourly rollups: an account's traffic through one key, to one model row
 * (provider + model) at one of its price sets (row version), in one lane at one price multiplier, during one UTC hour.
 * Ordered by account, then hour, so an account's rows for a time range are one contiguous range of the map.
 *
 * @param hourStartMs the start of the hour, epoch milliseconds (a multiple of 3,600,000)
 * @param rowVersion  the price set's version as the journal's facts name it; empty for an undated row (and
 *                    for rollups of journals from before rows were dated)
 * @param priceMultiplierBps the lane's price multiplier the requests were billed at (10000 for records before it was journaled)
 * @param direct      billed by the provider on the account's own credentials ({@code billed_by: provider}), not by Tollgate
 */
public record RollupKey(String accountId, long hourStartMs, String keyHash, String provider, String model, String rowVersion, String lane,
                        int priceMultiplierBps, boolean direct) implements Comparable<RollupKey> {
    public static final long HOUR_MS = 3_600_000L;

    private static final Comparator<RollupKey> ORDER = Comparator.comparing(RollupKey::accountId)
            .thenComparingLong(RollupKey::hourStartMs)
            .thenComparing(RollupKey::keyHash)
            .thenComparing(RollupKey::provider)
            .thenComparing(RollupKey::model)
            .thenComparing(RollupKey::rowVersion)
            .thenComparing(RollupKey::lane)
            .thenComparingInt(RollupKey::priceMultiplierBps)
            .thenComparing(RollupKey::direct);

    public RollupKey {
        if (Math.floorMod(hourStartMs, HOUR_MS) != 0) {
            throw new IllegalArgumentException("not the start of an hour: " + hourStartMs);
        }
    }

    /** A key of requests billed by Tollgate on the prepaid balance. */
    public RollupKey(String accountId, long hourStartMs, String keyHash, String provider, String model, String rowVersion, String lane,
                     int priceMultiplierBps) {
        this(accountId, hourStartMs, keyHash, provider, model, rowVersion, lane, priceMultiplierBps, false);
    }

    /** Who was paid for the provider's tokens: {@code tollgate} or {@code provider}. */
    public String billedBy() {
        return direct ? "provider" : "tollgate";
    }

    public static long hourOf(long timestampMs) {
        return Math.floorDiv(timestampMs, HOUR_MS) * HOUR_MS;
    }

    /** The first possible key of an account at or after {@code hourStartMs}: a bound for range scans. */
    static RollupKey lowest(String accountId, long hourStartMs) {
        return new RollupKey(accountId, hourStartMs, "", "", "", "", "", 0);
    }

    @Override
    public int compareTo(RollupKey other) {
        return ORDER.compare(this, other);
    }
}
