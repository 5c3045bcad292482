package dev.tollgate.proxy;

import dev.tollgate.metering.Usage;

/**
 * How one metered request ended: settled with its cost, or released with nothing charged. Exactly
 * one is produced per reservation. Holds no key and no prompt text, only what a statement may show.
 *
 * @param keyId          the key's public id ({@code key_} and 16 hex digits of its hash, as the admin API names it): never the key
 * @param status         {@code settled} or {@code released}
 * @param reason         why: {@code completed}, {@code client_disconnected}, {@code cut_at_reservation},
 *                       {@code upstream_error}, {@code upstream_timeout}, {@code upstream_status_<code>}...
 * @param usage          the tokens billed (zero when released)
 * @param balanceAfterMicros the account's available balance right after this outcome
 * @param requestedModel the model name the client sent, when a route served it under another (null: the same)
 * @param attemptsBefore the upstream attempts that failed before the one that served, as the journal keeps them (empty: none)
 * @param lane           the lane that served it
 * @param directCostMicros on a direct route, the cost at the catalog price that the provider bills the account's own
 *                       account ({@code billed_by: provider}; then {@code costMicros} is only the platform fee); -1 when
 *                       the prepaid balance paid
 */
public record Outcome(
        String requestId,
        String accountId,
        String keyId,
        String keyLabel,
        String provider,
        String model,
        String endpoint,
        String status,
        String reason,
        Usage usage,
        boolean usageReportedByProvider,
        long heldMicros,
        long costMicros,
        long debitedMicros,
        long writtenOffMicros,
        long balanceAfterMicros,
        long startEpochMs,
        long endEpochMs,
        String upstreamRequestId,
        String requestedModel,
        String attemptsBefore,
        String lane,
        long directCostMicros) {

    /** An outcome paid from the prepaid balance. */
    public Outcome(String requestId, String accountId, String keyId, String keyLabel, String provider, String model, String endpoint,
                   String status, String reason, Usage usage, boolean usageReportedByProvider, long heldMicros, long costMicros,
                   long debitedMicros, long writtenOffMicros, long balanceAfterMicros, long startEpochMs, long endEpochMs, String upstreamRequestId,
                   String requestedModel, String attemptsBefore, String lane) {
        this(requestId, accountId, keyId, keyLabel, provider, model, endpoint, status, reason, usage, usageReportedByProvider, heldMicros, costMicros,
                debitedMicros, writtenOffMicros, balanceAfterMicros, startEpochMs, endEpochMs, upstreamRequestId, requestedModel, attemptsBefore, lane,
                dev.tollgate.journal.JournalEvent.RequestFacts.PREPAID);
    }

    /** Whether the provider billed the tokens on the account's own key (a direct route). */
    public boolean direct() {
        return directCostMicros != dev.tollgate.journal.JournalEvent.RequestFacts.PREPAID;
    }

    /** An outcome in the built-in lane. */
    public Outcome(String requestId, String accountId, String keyId, String keyLabel, String provider, String model, String endpoint,
                   String status, String reason, Usage usage, boolean usageReportedByProvider, long heldMicros, long costMicros,
                   long debitedMicros, long writtenOffMicros, long balanceAfterMicros, long startEpochMs, long endEpochMs, String upstreamRequestId,
                   String requestedModel, String attemptsBefore) {
        this(requestId, accountId, keyId, keyLabel, provider, model, endpoint, status, reason, usage, usageReportedByProvider, heldMicros, costMicros,
                debitedMicros, writtenOffMicros, balanceAfterMicros, startEpochMs, endEpochMs, upstreamRequestId, requestedModel, attemptsBefore,
                dev.tollgate.config.LaneConfig.BUILT_IN_NAME);
    }

    /** An outcome of a request served by the model it named, at its first attempt, in the built-in lane. */
    public Outcome(String requestId, String accountId, String keyId, String keyLabel, String provider, String model, String endpoint,
                   String status, String reason, Usage usage, boolean usageReportedByProvider, long heldMicros, long costMicros,
                   long debitedMicros, long writtenOffMicros, long balanceAfterMicros, long startEpochMs, long endEpochMs, String upstreamRequestId) {
        this(requestId, accountId, keyId, keyLabel, provider, model, endpoint, status, reason, usage, usageReportedByProvider, heldMicros, costMicros,
                debitedMicros, writtenOffMicros, balanceAfterMicros, startEpochMs, endEpochMs, upstreamRequestId, null, "");
    }

    public static final String SETTLED = "settled";
    public static final String RELEASED = "released";
}
