package dev.tollgate.journal.reconcile;

import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * Usage over a time range, grouped by any combination of {@link Dimension}s and optionally narrowed
 * to one account and/or one key. Answered from the hourly rollups, so the range is in whole hours:
 * an hour counts when it starts inside [fromMs, toMs) (UTC).
 *
 * @param accountId only this account, or null for all
 * @param keyHash   only this key (its SHA-256 hex, or a prefix of it), or null for all
 * @param groupBy   the dimensions each row is split by; empty gives one row of totals
 */
public record UsageQuery(long fromMs, long toMs, String accountId, String keyHash, Set<Dimension> groupBy) {

    /** What a usage row can be split by. {@code MODEL} is the model row: provider and model together. */
    public enum Dimension {
        ACCOUNT, KEY, MODEL, LANE, DAY
    }

    public UsageQuery {
        if (toMs <= fromMs) {
            throw new IllegalArgumentException("the range is empty: from " + fromMs + " to " + toMs);
        }
        Objects.requireNonNull(groupBy, "groupBy");
        groupBy = groupBy.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(groupBy));
    }

    public static UsageQuery of(long fromMs, long toMs, Dimension... groupBy) {
        return new UsageQuery(fromMs, toMs, null, null, groupBy.length == 0 ? Set.of() : EnumSet.of(groupBy[0], groupBy));
    }

    public UsageQuery forAccount(String account) {
        return new UsageQuery(fromMs, toMs, account, keyHash, groupBy);
    }

    public UsageQuery forKey(String key) {
        return new UsageQuery(fromMs, toMs, accountId, key, groupBy);
    }
}
