package dev.tollgate.journal.reconcile;

import java.time.LocalDate;

/**
 * One row of a usage answer. A dimension the query did not group by is null here (its values are
 * summed in the row); {@code provider} and {@code model} are both set when grouping by model.
 *
 * @param day the UTC day, when grouped by day
 */
public record UsageRow(String accountId, String keyHash, String provider, String model, String lane, LocalDate day, UsageTotals totals) {
}
