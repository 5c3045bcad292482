package dev.tollgate.proxy.exchange;

import dev.tollgate.metering.ModelRoutes;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.request.Admission;
import dev.tollgate.proxy.upstream.UpstreamBreakers;
import java.util.List;

/**
 * The upstream attempts of one exchange: its candidates in the order to try them (each at its price when the request
 * arrived, with its own plan), how many of them may be tried, and the record of those that failed. A request falls
 * back to the next candidate only while nothing of a response has reached its client; the journal and the access log
 * name the failed attempts beside the route that served.
 */
public final class Attempts {
    /** One candidate as this request would use it: its route priced at the request's arrival, and its plan. */
    /** @param credential the account's own key for the provider on a direct route (sent instead of Tollgate's); null otherwise */
    public record Candidate(ModelRoutes.Route route, Admission.Plan plan, TokenCounter counter, dev.tollgate.config.Secret credential) {
        /** A candidate on Tollgate's own provider key. */
        public Candidate(ModelRoutes.Route route, Admission.Plan plan, TokenCounter counter) {
            this(route, plan, counter, null);
        }
    }

    private final String requestedModel;
    private final List<Candidate> order;
    private final int maxAttempts;
    /** The output cap sent to every candidate when the balance affords less than some candidate's own cap; 0 when none is lowered. */
    private final long loweredOutputTokens;
    private int current = -1;
    private int made;
    private UpstreamBreakers.Permit permit;
    private StringBuilder failed;
    private final boolean breakerApplies;
    private final dev.tollgate.config.RouteConfig.PlatformFee directFee;

    /**
     * @param order                the candidates in attempt order, at least one
     * @param maxAttempts          the most attempts this request may make (each candidate once at most)
     * @param loweredOutputTokens  the output cap every candidate is sent, or 0 to send each its plan's own
     * @param routed               true for a model with a configured route: its candidates' breakers are asked; false
     *                             for one served by its catalog row alone, sent as before routes whatever its breaker says
     * @param directFee            on a direct route (billed by the provider on the account's own key), the platform fee drawn
     *                             from the balance; null for a request paid from the prepaid balance
     */
    public Attempts(String requestedModel, List<Candidate> order, int maxAttempts, long loweredOutputTokens, boolean routed,
                    dev.tollgate.config.RouteConfig.PlatformFee directFee) {
        if (order.isEmpty()) {
            throw new IllegalArgumentException("no candidate");
        }
        this.requestedModel = requestedModel;
        this.order = order;
        this.maxAttempts = Math.max(1, maxAttempts);
        this.loweredOutputTokens = loweredOutputTokens;
        this.breakerApplies = routed;
        this.directFee = directFee;
    }

    /** Candidates paid from the prepaid balance. */
    public Attempts(String requestedModel, List<Candidate> order, int maxAttempts, long loweredOutputTokens, boolean routed) {
        this(requestedModel, order, maxAttempts, loweredOutputTokens, routed, null);
    }

    /** The platform fee of a direct route, or null for a request paid from the prepaid balance. */
    public dev.tollgate.config.RouteConfig.PlatformFee directFee() {
        return directFee;
    }

    /**
     * A request served by one route, with no fallback and no circuit breaker: a free endpoint, or a model without a
     * configured route, served as before routes were configurable.
     */
    public static Attempts single(String requestedModel, Candidate candidate) {
        return new Attempts(requestedModel, List.of(candidate), 1, 0, false);
    }

    /** Whether an open breaker skips this request's candidates (a configured route), or is not asked at all. */
    boolean breakerApplies() {
        return breakerApplies;
    }

    /** The model name the client sent. */
    public String requestedModel() {
        return requestedModel;
    }

    /** The candidate tried now (the first before any attempt). */
    public Candidate current() {
        return order.get(Math.max(0, current));
    }

    /** The output cap sent to the current candidate: the lowered cap if any, else its plan's own. */
    public long outputTokensToSend() {
        long own = current().plan().outputCapTokens();
        return loweredOutputTokens > 0 ? Math.min(loweredOutputTokens, own) : own;
    }

    boolean lowered() {
        return loweredOutputTokens > 0;
    }

    /** Whether a failure now may be followed by another attempt. */
    boolean mayFallBack() {
        return made < maxAttempts && current + 1 < order.size();
    }

    /** True while the request could still go to another candidate: its body must be kept until then. */
    boolean mayEverFallBack() {
        return order.size() > 1 && maxAttempts > 1;
    }

    /** Moves to the next candidate; false when none is left or the budget is spent. */
    boolean advance() {
        if (made >= maxAttempts || current + 1 >= order.size()) {
            return false;
        }
        current++;
        return true;
    }

    /** The current candidate is tried under {@code permit}. */
    void started(UpstreamBreakers.Permit permit) {
        this.permit = permit;
        made++;
    }

    /** The current candidate was not tried: its breaker is open. */
    void skipped(String reason) {
        record(reason);
    }

    /** The current attempt failed before anything reached the client. */
    void failed(String reason) {
        if (permit != null) {
            permit.failed(reason);
            permit = null;
        }
        record(reason);
    }

    /** The current attempt is the one that serves (its response head came and is not a failure). */
    void succeeded() {
        if (permit != null) {
            permit.succeeded();
            permit = null;
        }
    }

    /** The current attempt failed where no other may follow (after the first byte, or the last one): the breaker hears of it. */
    void failedFinally(String reason) {
        if (permit != null) {
            permit.failed(reason);
            permit = null;
        }
    }

    /** The exchange ended with an attempt under way that said nothing about its provider. */
    void ended() {
        if (permit != null) {
            permit.unused();
            permit = null;
        }
    }

    /** Attempts made, the current one included. */
    public int made() {
        return made;
    }

    /** The attempts that failed or were skipped before the current one, as the journal keeps them (empty for none). */
    public String failedBefore() {
        return failed == null ? "" : failed.toString();
    }

    private void record(String reason) {
        ModelRoutes.Route route = order.get(current).route();
        String entry = route.provider().name() + "/" + route.row().model() + ":" + reason;
        if (failed == null) {
            failed = new StringBuilder();
        } else {
            entry = " " + entry;
        }
        if (failed.length() + entry.length() <= dev.tollgate.journal.JournalCodec.MAX_ATTEMPTS / 4) { // at most 4 bytes a char
            failed.append(entry);
        }
    }
}
