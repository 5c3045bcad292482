package dev.tollgate.proxy.accesslog;

import dev.tollgate.metering.Usage;
import dev.tollgate.proxy.Outcome;

/**
 * One line of the access log, as the event loop hands it over: only facts a statement may show. It has no field
 * for a presented key or for any text of a prompt or an answer, so no code path can put one in the log.
 *
 * @param endEpochMs        when the request ended (its outcome, or its response when it had none)
 * @param keyId             the key's public id ({@code key_...}), null when no known key was presented
 * @param httpStatus        the status of the response the client was sent, 0 when none was (the client left first)
 * @param outcome           {@link #SETTLED}, {@link #RELEASED}, {@link #REFUSED} or {@link #UNMETERED}
 * @param reason            why it ended so: the outcome's reason, or the refusal's error code
 * @param usage             the tokens billed, null when nothing was metered (refused, unmetered)
 * @param costMicros        the priced cost (debited plus written off); with the other amounts, meaningless when usage is null
 * @param upstreamRequestId the provider's request id as the journal keeps it, or null
 * @param requestedModel    the model name the client sent when a route served it under another, or null
 * @param attemptsBefore    the upstream attempts that failed before the one that served ({@code provider/model:reason}, space
 *                          separated), empty when the first served
 * @param lane              the lane that served it, or null when no lane admitted it (refused before, or unmetered)
 * @param directCostMicros  on a direct route, the cost at the catalog price the provider bills the account's own key
 *                          ({@code costMicros} is then the platform fee); -1 when the prepaid balance paid
 */
public record AccessEntry(
        long endEpochMs,
        String requestId,
        String keyId,
        String keyLabel,
        String accountId,
        String provider,
        String model,
        String endpoint,
        int httpStatus,
        String outcome,
        String reason,
        Usage usage,
        long costMicros,
        long debitedMicros,
        long writtenOffMicros,
        long latencyMs,
        String upstreamRequestId,
        String requestedModel,
        String attemptsBefore,
        String lane,
        long directCostMicros) {

    /** A line of a request no lane admitted, paid from the prepaid balance if at all. */
    public AccessEntry(long endEpochMs, String requestId, String keyId, String keyLabel, String accountId, String provider, String model,
                       String endpoint, int httpStatus, String outcome, String reason, Usage usage, long costMicros, long debitedMicros,
                       long writtenOffMicros, long latencyMs, String upstreamRequestId, String requestedModel, String attemptsBefore) {
        this(endEpochMs, requestId, keyId, keyLabel, accountId, provider, model, endpoint, httpStatus, outcome, reason, usage, costMicros,
                debitedMicros, writtenOffMicros, latencyMs, upstreamRequestId, requestedModel, attemptsBefore, null,
                dev.tollgate.journal.JournalEvent.RequestFacts.PREPAID);
    }

    /** A line of a request served by the model it named, at its first attempt. */
    public AccessEntry(long endEpochMs, String requestId, String keyId, String keyLabel, String accountId, String provider, String model,
                       String endpoint, int httpStatus, String outcome, String reason, Usage usage, long costMicros, long debitedMicros,
                       long writtenOffMicros, long latencyMs, String upstreamRequestId) {
        this(endEpochMs, requestId, keyId, keyLabel, accountId, provider, model, endpoint, httpStatus, outcome, reason, usage, costMicros,
                debitedMicros, writtenOffMicros, latencyMs, upstreamRequestId, null, "");
    }

    public static final String SETTLED = Outcome.SETTLED;
    public static final String RELEASED = Outcome.RELEASED;
    /** Answered with an error before any money was held (bad key, bad body, balance too low, spend cap...). */
    public static final String REFUSED = "refused";
    /** Served without a reservation: Tollgate's own endpoints (models, balance) and free ones (count_tokens). */
    public static final String UNMETERED = "unmetered";

    /** A reservation's outcome, and the status its client was sent (0: none). */
    public static AccessEntry of(Outcome outcome, int httpStatus) {
        return new AccessEntry(outcome.endEpochMs(), outcome.requestId(), outcome.keyId(), outcome.keyLabel(), outcome.accountId(),
                outcome.provider(), outcome.model(), outcome.endpoint(), httpStatus, outcome.status(), outcome.reason(), outcome.usage(),
                outcome.costMicros(), outcome.debitedMicros(), outcome.writtenOffMicros(),
                Math.max(0, outcome.endEpochMs() - outcome.startEpochMs()), outcome.upstreamRequestId(), outcome.requestedModel(),
                outcome.attemptsBefore(), outcome.lane(), outcome.directCostMicros());
    }
}
