package dev.tollgate.proxy.exchange;

import dev.tollgate.config.ModelRow;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.JournalWriter;
import dev.tollgate.journal.LedgerReservation;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.CostRule;
import dev.tollgate.metering.ModelRoutes;
import dev.tollgate.metering.Reservation;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;
import dev.tollgate.metering.UsageBounds;
import dev.tollgate.metering.request.Admission;
import dev.tollgate.metering.request.InspectedRequest;
import dev.tollgate.metering.request.PromptEstimator;
import dev.tollgate.proxy.Endpoint;
import dev.tollgate.proxy.Gateway;
import dev.tollgate.proxy.Outcome;
import dev.tollgate.proxy.admin.AdminApi;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The money of one exchange: who pays (key), at which price (route), what is held (reservation), and
 * the one place where that reservation gets its single outcome, {@link #settle} or {@link #release}.
 * Neither ever throws: whatever goes wrong while recording an outcome comes back as
 * {@link Recording#FAILED}, so the exchange can still end cleanly.
 */
final class Billing {
    private static final Logger LOG = LoggerFactory.getLogger(Billing.class);
    /** The journal keeps a provider's request id to this many UTF-8 bytes. */
    static final int MAX_UPSTREAM_ID_BYTES = 200;

    /** What became of an outcome. */
    enum Recording {
        /** Nothing was held (a free endpoint, or already closed): nothing to wait for. */
        NOTHING_HELD,
        /** Applied to the counters; the journal's acknowledgement follows on the event loop. */
        PENDING,
        /** It could not be recorded; the reservation is closed in memory and the client must not see a success. */
        FAILED
    }

    private final Gateway gateway;
    private final String requestId;
    private final Endpoint endpoint;
    private final long startEpochMs;
    ApiKeys.ApiKey key;
    /** The lane that serves it, as its facts journal it. */
    String lane;
    ModelRoutes.Route route;
    /** The candidates and the attempts made: the journal names the requested model and the attempts that failed. */
    Attempts attempts;
    InspectedRequest inspected;
    TokenCounter counter;
    Admission.Plan plan;
    LedgerReservation reservation;
    /** The output cap per choice sent upstream: what the provider may bill at most. */
    long outputTokensSent;
    /** The service tier the provider's response says served the request, or null when it said none: priced by the row's percentage. */
    String servedServiceTier;
    /** The tokens the settlement billed, for the rate limits' correction; 0 until settled (a release used none). */
    long billedTokens;
    /** The exchange's own thread: outcomes are published there, and the journal's acknowledgements handed back to it. */
    private final Executor eventLoop;
    /** The provider's request id as {@link #providerId} keeps it, or null when it sent none. */
    String upstreamRequestId;
    /** The reservation's outcome once published, for the access log; null before (or when there is none). */
    Outcome outcome;
    /** A settlement waits for the journal, and its outcome is published when the journal answers (maybe after the exchange completed). */
    boolean outcomeAwaited;
    /** Told after each outcome is published. */
    private final Runnable outcomePublished;

    Billing(Gateway gateway, String requestId, Endpoint endpoint, long startEpochMs, Executor eventLoop, Runnable outcomePublished) {
        this.gateway = gateway;
        this.outcomePublished = outcomePublished;
        this.eventLoop = eventLoop;
        this.requestId = requestId;
        this.endpoint = endpoint;
        this.startEpochMs = startEpochMs;
        this.lane = gateway.lanes().first().name();
    }

    long startEpochMs() {
        return startEpochMs;
    }

    ModelRow row() {
        return route.row();
    }

    boolean holdsMoney() {
        return reservation != null && !reservation.isClosed();
    }

    /** The usage to bill when the provider's own report is missing: the prompt estimated from the request. */
    long estimatedPromptTokens() {
        return PromptEstimator.estimateTokens(inspected.body(), counter);
    }

    /**
     * Debits the cost of {@code usage}, within what the request could have used, and returns the rest of the
     * reservation. {@code outputTokensCounted} is what the body really carried by the tokenizer's count.
     * {@code whenJournaled} (may be null) is told on the event loop when the debit is in the journal, only when
     * this returns PENDING. The outcome is published then too: settled, or, when the journal could not keep the
     * debit, released (the ledger has given the money back, and the client gets an error, not the answer).
     */
    Recording settle(Usage usage, boolean reportedByProvider, long outputTokensCounted, String reason, JournalWriter.Appended whenJournaled) {
        if (!holdsMoney()) {
            return Recording.NOTHING_HELD;
        }
        long costMicros;
        Reservation.Settlement settlement;
        try {
            usage = withinBounds(usage, reportedByProvider, outputTokensCounted);
            costMicros = CostRule.costMicros(row(), usage, row().servicePercent(servedServiceTier), plan.priceMultiplierBps());
            Usage billed = usage;
            billedTokens = usage.totalTokens();
            // On a direct route the provider bills the tokens to the account's own key; the balance pays only the fee.
            long directCost = reservation.direct() ? costMicros : RequestFacts.PREPAID;
            long cost = reservation.direct() ? attempts.directFee().feeMicros(costMicros) : costMicros;
            // Filled in before the task below can run: settle is called on the event loop, which runs the task later.
            Reservation.Settlement[] settled = new Reservation.Settlement[1];
            JournalWriter.Appended whenSettled = failure -> eventLoop.execute(() -> {
                Reservation.Settlement made = settled[0];
                if (failure == null) {
                    publish(Outcome.SETTLED, reason, billed, reportedByProvider, made.heldMicros(), cost, made.debitedMicros(), made.writtenOffMicros(),
                            directCost);
                } else {
                    publish(Outcome.RELEASED, LedgerReservation.NOT_JOURNALED_REASON, Usage.ZERO, false, made.heldMicros(), 0, 0, 0, directCost);
                }
                if (whenJournaled != null) {
                    whenJournaled.appended(failure);
                }
            });
            settlement = reservation.direct()
                    ? reservation.settleDirect(cost, facts(directCost), usage, reportedByProvider, reason, whenSettled)
                    : reservation.settle(cost, facts(directCost), usage, reportedByProvider, reason, whenSettled);
            settled[0] = settlement;
        } catch (RuntimeException e) {
            LOG.error("{}: the settlement could not be recorded", requestId, e);
            closeAfterFailure("internal_error");
            return Recording.FAILED;
        }
        if (settlement == null) {
            return Recording.NOTHING_HELD;
        }
        outcomeAwaited = true;
        if (settlement.writtenOffMicros() > 0) {
            LOG.warn("{}: cost {} micros exceeded the reservation and the balance; {} micros written off", requestId, costMicros,
                    settlement.writtenOffMicros());
        }
        return Recording.PENDING;
    }

    /**
     * What can be billed of {@code usage}: a count beyond what the request could have used (its prompt bound;
     * the output cap sent times its choices, or the output really counted in the body if a provider that
     * ignored the cap sent more) is untrusted input, billed at the bound, logged and journaled as a drift record with both.
     */
    private Usage withinBounds(Usage usage, boolean reportedByProvider, long outputTokensCounted) {
        UsageBounds capped = UsageBounds.of(plan.promptBoundTokens(), outputTokensSent, plan.choices());
        UsageBounds bounds = new UsageBounds(capped.promptTokens(), Math.max(capped.outputTokens(), outputTokensCounted), plan.serverToolCallBounds(),
                plan.oneHourCacheWrites());
        UsageBounds.Bounded bounded = bounds.apply(usage);
        if (bounded.drifted()) {
            // Counts only: a provider's numbers are not secret, and no prompt or answer text is logged.
            LOG.warn("{}: {} usage {} is beyond what the request could use ({}); billed {}", requestId,
                    reportedByProvider ? "the provider's" : "the estimated", usage, bounds, bounded.billed());
            try {
                reservation.recordDrift(usage, bounded.billed());
            } catch (RuntimeException e) {
                LOG.error("{}: the usage drift could not be journaled", requestId, e); // evidence only; the settlement goes on
            }
        }
        return bounded.billed();
    }

    /** Returns the whole reservation: this request costs nothing. Journaled without waiting. */
    Recording release(String reason) {
        if (!holdsMoney()) {
            return Recording.NOTHING_HELD;
        }
        long held = reservation.heldMicros();
        try {
            if (!reservation.release(facts(unbilled()), reason, null)) {
                return Recording.NOTHING_HELD;
            }
        } catch (RuntimeException e) {
            LOG.error("{}: the release could not be recorded", requestId, e);
            closeAfterFailure("internal_error");
            return Recording.FAILED;
        }
        publish(Outcome.RELEASED, reason, Usage.ZERO, false, held, 0, 0, 0, unbilled());
        return Recording.PENDING;
    }

    /**
     * The last resort when a record could not be built or submitted: the money goes back so nothing is
     * held for ever, recorded if the journal takes it, and otherwise closed for recovery to find open and
     * release by its own policy.
     */
    private void closeAfterFailure(String reason) {
        if (reservation == null || reservation.isClosed()) {
            return;
        }
        try {
            reservation.release(minimalFacts(), reason, null);
        } catch (RuntimeException again) {
            LOG.error("{}: the release after a failed record could not be journaled either", requestId, again);
            reservation.abandon();
        }
    }

    /** Extends the reservation from the balance; false when the balance cannot cover {@code minMicros}. */
    boolean extend(long minMicros, long maxMicros) {
        try {
            return reservation.extend(minMicros, maxMicros, null); // journaled in order, not awaited
        } catch (RuntimeException e) {
            LOG.error("{}: the extension could not be recorded", requestId, e);
            return false;
        }
    }

    /**
     * What the journal records of this request: no key, no prompt, only what a statement shows. The catalog version is
     * the route's, kept from admission, so a reload while the request runs does not change what it is priced by; the lane
     * and its price multiplier are the plan's, so a re-rating prices it as the settlement did.
     */
    private RequestFacts facts(long directCostMicros) {
        return new RequestFacts(requestId, key.accountId(), key.sha256Hex(), lane, route.provider().name(), route.row().model(),
                endpoint.path(), startEpochMs, Math.max(startEpochMs, gateway.nowMs()),
                upstreamRequestId == null ? "" : upstreamRequestId, route.catalogVersion(), row().rowVersion(), journaledServiceTier(),
                requestedModel(), attempts == null ? "" : attempts.failedBefore(), plan.priceMultiplierBps(), directCostMicros);
    }

    /** The direct cost of a request that ended with nothing billed: 0 on a direct route (still billed by the provider), else prepaid. */
    private long unbilled() {
        return reservation != null && reservation.direct() ? 0 : RequestFacts.PREPAID;
    }

    /** The model name the client sent, when a route served it under another; empty when the same. */
    private String requestedModel() {
        return attempts == null || attempts.requestedModel().equals(route.row().model()) ? "" : attempts.requestedModel();
    }

    /**
     * The served tier as the journal keeps it: a name the catalog could list (so one re-rating can price), else none. The
     * provider's string is untrusted and only a listed name changes the price, so an odd one is not worth its bytes.
     */
    private String journaledServiceTier() {
        return ModelRow.isServiceTierName(servedServiceTier) ? servedServiceTier : "";
    }

    /** The facts without anything the provider said, for the release that follows a record that would not encode. */
    private RequestFacts minimalFacts() {
        return new RequestFacts(requestId, key.accountId(), key.sha256Hex(), lane, route.provider().name(), route.row().model(),
                endpoint.path(), startEpochMs, Math.max(startEpochMs, gateway.nowMs()), "", route.catalogVersion(), row().rowVersion(), "",
                requestedModel(), "", plan.priceMultiplierBps(), unbilled());
    }

    /**
     * A provider's request id as the journal, logs and exports keep it: visible ASCII, with every other byte (and
     * {@code %}) percent-encoded, cut between escapes to at most {@code maxBytes}. A provider's id is whatever bytes
     * it chose to send; Netty hands a header over one char per byte, so chars up to 0xFF are those bytes (a wider
     * char, only possible from code, is encoded as its UTF-8 bytes). Lossless up to the cut, and never a control
     * character, quote or backslash that a log line or a CSV cell would have to escape.
     */
    static String providerId(String raw, int maxBytes) {
        StringBuilder kept = new StringBuilder(Math.min(raw.length(), maxBytes));
        for (int index = 0; index < raw.length(); ) {
            int codePoint = raw.codePointAt(index);
            index += Character.charCount(codePoint);
            String piece;
            if (codePoint > 0x20 && codePoint < 0x7f && codePoint != '%' && codePoint != '"' && codePoint != '\\') {
                piece = Character.toString(codePoint);
            } else {
                byte[] bytes = codePoint <= 0xFF ? new byte[] {(byte) codePoint} : Character.toString(codePoint).getBytes(StandardCharsets.UTF_8);
                StringBuilder escaped = new StringBuilder(3 * bytes.length);
                for (byte b : bytes) {
                    escaped.append('%').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xF, 16)))
                            .append(Character.toUpperCase(Character.forDigit(b & 0xF, 16)));
                }
                piece = escaped.toString();
            }
            if (kept.length() + piece.length() > maxBytes) {
                break;
            }
            kept.append(piece);
        }
        return kept.toString();
    }

    private void publish(String status, String reason, Usage usage, boolean reported, long held, long cost, long debited, long writtenOff,
                         long directCostMicros) {
        outcomeAwaited = false;
        try {
            outcome = new Outcome(requestId, key.accountId(), AdminApi.keyId(key.sha256Hex()), key.label(), route.provider().name(), route.row().model(),
                    endpoint.path(), status, reason, usage, reported, held, cost, debited, writtenOff,
                    gateway.accounts().balances().availableMicros(key.accountSlot()), startEpochMs, gateway.nowMs(),
                    upstreamRequestId, requestedModel().isEmpty() ? null : requestedModel(), attempts == null ? "" : attempts.failedBefore(), lane,
                    directCostMicros);
            gateway.publish(outcome);
        } catch (RuntimeException e) {
            LOG.error("{}: an outcome listener failed", requestId, e); // the money is recorded; a listener cannot undo it
        }
        outcomePublished.run();
    }
}
