package dev.tollgate.proxy.listener;

import dev.tollgate.config.EndpointFamily;
import dev.tollgate.config.Protocol;
import dev.tollgate.journal.LedgerReservation;
import dev.tollgate.metering.ModelRoutes;
import dev.tollgate.metering.ModelRouting;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.request.Admission;
import dev.tollgate.metering.request.InspectedRequest;
import dev.tollgate.metering.request.Rejection;
import dev.tollgate.metering.RateLimiter;
import dev.tollgate.metering.SpendWindows;
import dev.tollgate.metering.request.RequestInspector;
import dev.tollgate.proxy.ErrorShapes;
import dev.tollgate.proxy.Gateway;
import dev.tollgate.proxy.Money;
import dev.tollgate.proxy.exchange.Attempts;
import dev.tollgate.proxy.exchange.Exchange;
import dev.tollgate.proxy.metrics.NodeMetrics;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Admits a request against its account's balance before anything goes upstream: reads the body,
 * finds the model's route, reserves the worst case it can afford (see {@link Admission}) and builds
 * the upstream request, lowering its output cap when the balance affords less than the worst case.
 */
public final class AdmissionHandler extends ChannelInboundHandlerAdapter {
    private static final java.util.concurrent.atomic.AtomicLong LAST_UNAVAILABLE_LOG_NANOS = new java.util.concurrent.atomic.AtomicLong(System.nanoTime() - 5_000_000_000L);
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(AdmissionHandler.class);

    private final Gateway gateway;

    public AdmissionHandler(Gateway gateway) {
        this.gateway = gateway;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        admit(ctx, (Exchange) msg);
    }

    private void admit(ChannelHandlerContext ctx, Exchange exchange) {
        ByteBuf content = exchange.request().content();
        byte[] body;
        int offset;
        if (content.hasArray()) {
            body = content.array();
            offset = content.arrayOffset() + content.readerIndex();
        } else {
            body = ByteBufUtil.getBytes(content);
            offset = 0;
        }
        int length = content.readableBytes();
        boolean free = exchange.endpoint().family() == null;
        EndpointFamily family = free ? EndpointFamily.MESSAGES : exchange.endpoint().family();
        RequestInspector.Result inspected = free
                ? RequestInspector.inspectModelOnly(family, body, offset, length)
                : RequestInspector.inspect(family, body, offset, length);
        if (inspected.rejection() != null) {
            reject(exchange, inspected.rejection());
            return;
        }
        String model = inspected.request().model();
        if (!exchange.key().scope().allowsModel(model)) {
            reject(exchange, new Rejection(Rejection.Kind.MODEL_NOT_ALLOWED, "This key may not use the model `" + model + "`; it may use "
                    + String.join(", ", exchange.key().scope().models()) + ".", "model"));
            return;
        }
        // Priced as in force when it arrived, for the whole request however long it streams: the same instant its facts
        // journal as startMs, so a re-rating finds the same version and time window. No version in force then: unknown.
        ModelRouting.Candidates found = gateway.routing().find(exchange.endpoint().surface(), model);
        java.util.List<ModelRouting.Candidate> order = found == null ? java.util.List.of()
                : found.attemptOrder(java.util.concurrent.ThreadLocalRandom.current());
        java.util.List<ModelRoutes.Route> priced = new java.util.ArrayList<>(order.size());
        ModelRoutes.Route wrongEndpoint = null;
        for (ModelRouting.Candidate candidate : order) {
            ModelRoutes.Route route = candidate.route().pricedAt(exchange.startEpochMs());
            if (route == null) {
                continue;
            }
            if (!route.row().serves(family)) {
                wrongEndpoint = route;
                continue;
            }
            priced.add(route);
        }
        if (priced.isEmpty() && wrongEndpoint != null) {
            reject(exchange, new Rejection(Rejection.Kind.WRONG_ENDPOINT, "The model `" + model + "` is not served on "
                    + exchange.endpoint().path() + "; it serves " + wrongEndpoint.row().endpoints().stream().map(EndpointFamily::path).sorted().toList() + ".", "model"));
            return;
        }
        if (priced.isEmpty()) {
            reject(exchange, new Rejection(Rejection.Kind.UNKNOWN_MODEL, exchange.surface() == Protocol.ANTHROPIC
                    ? "model: " + model
                    : "The model `" + model + "` does not exist or you do not have access to it.", "model"));
            return;
        }
        InspectedRequest request = inspected.request();
        if (free) {
            ModelRoutes.Route route = priced.getFirst();
            exchange.admittedFree(Attempts.single(model, new Attempts.Candidate(route, null, TokenCounter.forEncoding(route.row().encoding()))), request);
            ctx.fireChannelRead(exchange); // forwarded: nothing to journal
            return;
        }
        String journalUnavailable = gateway.ledger().writer().health().whyNot();
        if (journalUnavailable != null) {
            // Money held now could not be given an outcome the journal keeps: refuse before reserving.
            long now = System.nanoTime();
            long last = LAST_UNAVAILABLE_LOG_NANOS.get();
            if (now - last >= 5_000_000_000L && LAST_UNAVAILABLE_LOG_NANOS.compareAndSet(last, now)) {
                LOG.warn("refusing requests with 503 (logged every 5 s at most): {}", journalUnavailable); // a full disk must not fill with logs
            }
            gateway.metrics().refused(exchange.surface(), NodeMetrics.JOURNAL_UNAVAILABLE);
            exchange.refuse(ErrorShapes.NOT_RECORDED, "Tollgate cannot record requests right now; nothing was charged. Try again shortly.");
            return;
        }
        // The reservation covers the dearest candidate, so a fallback never costs more than is held.
        java.util.List<Attempts.Candidate> candidates = new java.util.ArrayList<>(priced.size());
        Admission.Plan dearest = null;
        long minimumMicros = 0;
        String missingCredential = null;
        for (ModelRoutes.Route route : priced) {
            // A direct route is sent on the account's own key for each provider: a provider it gave none for cannot serve it.
            dev.tollgate.config.Secret credential = null;
            if (found.direct()) {
                credential = gateway.credentials().get(exchange.key().accountId(), route.provider().name());
                if (credential == null) {
                    missingCredential = missingCredential == null ? route.provider().name() : missingCredential;
                    continue;
                }
            }
            Admission.Plan plan = gateway.admission().plan(request, route.row(), exchange.lane().priceMultiplierBps());
            candidates.add(new Attempts.Candidate(route, plan, TokenCounter.forEncoding(route.row().encoding()), credential));
            if (dearest == null || plan.worstCaseMicros() > dearest.worstCaseMicros()) {
                dearest = plan;
            }
            minimumMicros = Math.max(minimumMicros, plan.minimumMicros());
        }
        if (candidates.isEmpty()) {
            reject(exchange, Rejection.of(Rejection.Kind.NO_PROVIDER_CREDENTIAL, "The model `" + model + "` is served on your own "
                    + missingCredential + " account (a direct route), and your account has given Tollgate no " + missingCredential
                    + " credential; an operator sets one through the admin API."));
            return;
        }
        if (!admitUnderRateLimits(exchange, dearest)) {
            return;
        }
        dev.tollgate.config.RouteConfig.PlatformFee directFee = found.direct() ? found.platformFee() : null;
        LedgerReservation reservation;
        try {
            // The money is held now; the request goes upstream once the journal has the reservation.
            dev.tollgate.journal.JournalWriter.Appended whenJournaled = failure -> exchange.channel().eventLoop().execute(() -> {
                if (exchange.reservationJournaled(failure)) {
                    ctx.fireChannelRead(exchange); // forwarded
                }
            });
            // A direct route's tokens are the provider's to bill: the balance holds only the worst case's platform fee, the
            // key's caps the fee and the cost.
            reservation = directFee != null
                    ? gateway.ledger().reserveDirect(exchange.key(), directFee.feeMicros(dearest.worstCaseMicros()), minimumMicros,
                            dearest.worstCaseMicros(), exchange.requestId(), whenJournaled)
                    : gateway.ledger().reserve(exchange.key(), minimumMicros, dearest.worstCaseMicros(), exchange.requestId(), whenJournaled);
        } catch (RuntimeException e) {
            LOG.error("{}: cannot journal the reservation", exchange.requestId(), e);
            gateway.metrics().refused(exchange.surface(), NodeMetrics.JOURNAL_FAILED);
            exchange.refuse(ErrorShapes.NOT_RECORDED, "Tollgate could not record this request; nothing was charged. Try again shortly.");
            return;
        }
        if (reservation == null) {
            String capMessage = capMessage(exchange, dearest.minimumMicros() < minimumMicros ? withMinimum(dearest, minimumMicros) : dearest);
            reject(exchange, capMessage != null ? Rejection.of(Rejection.Kind.SPEND_CAP_REACHED, capMessage)
                    : Rejection.of(Rejection.Kind.INSUFFICIENT_BALANCE, directFee != null
                            ? insufficientForFeeMessage(exchange, directFee.feeMicros(dearest.worstCaseMicros()))
                            : insufficientMessage(exchange, withMinimum(dearest, minimumMicros))));
            return;
        }
        // What is held affords each candidate at least the minimum output. Where it affords one less than its own cap, every
        // candidate is sent at most the least such a one affords (a candidate whose own cap is lower keeps it), so
        // whichever serves, its cost stays within the hold.
        long lowered = 0;
        for (Attempts.Candidate candidate : candidates) {
            long affordable = Admission.affordableOutputTokens(candidate.plan(), candidate.route().row(), reservation.coverageMicros());
            if (affordable > 0 && affordable < candidate.plan().outputCapTokens()) {
                lowered = lowered == 0 ? affordable : Math.min(lowered, affordable);
            }
        }
        int maxAttempts = found.configured() ? gateway.config().routing().maxAttempts() : 1;
        exchange.reserved(new Attempts(model, candidates, maxAttempts, lowered, found.configured(), directFee), request, reservation);
    }

    /** {@code plan} with {@code minimumMicros} as its minimum, for the refusal's message. */
    private static Admission.Plan withMinimum(Admission.Plan plan, long minimumMicros) {
        return new Admission.Plan(plan.promptBoundTokens(), plan.promptWorstMicros(), plan.outputCapTokens(), plan.choices(), plan.worstCaseMicros(),
                minimumMicros, plan.outputMicrosPerMillionTokens(), plan.servicePercent(), plan.feesWorstMicros(), plan.serverToolCallBounds(),
                plan.oneHourCacheWrites(), plan.priceMultiplierBps());
    }

    /**
     * Takes a permit from the key's and the account's rate limits (those that have any), charging the reservation's
     * token estimate, or refuses with 429 and retry-after having taken nothing. The exchange gives the permit back.
     */
    private boolean admitUnderRateLimits(Exchange exchange, Admission.Plan plan) {
        RateLimiter keyLimiter = exchange.key().rateLimiter();
        RateLimiter accountLimiter = gateway.ledger().accountRateLimiter(exchange.key().accountSlot());
        if (keyLimiter == null && accountLimiter == null) {
            return true;
        }
        long tokens = plan.promptBoundTokens() + plan.outputCapTokens() * Math.max(1, plan.choices());
        long now = System.nanoTime();
        RateLimiter.Refusal refusal = keyLimiter == null ? null : keyLimiter.tryAcquire(tokens, now);
        RateLimiter refusedBy = keyLimiter;
        if (refusal == null && accountLimiter != null) {
            refusal = accountLimiter.tryAcquire(tokens, now);
            refusedBy = accountLimiter;
            if (refusal != null && keyLimiter != null) {
                keyLimiter.cancel(tokens, now, now);
            }
        }
        if (refusal == null) {
            exchange.rateLimited(keyLimiter, accountLimiter, tokens, now);
            return true;
        }
        boolean byKey = refusedBy == keyLimiter;
        String whose = byKey ? "This key's" : "Your account's";
        RateLimiter.Limits limits = refusedBy.limits();
        long retryAfterNanos = refusedBy.retryAfterNanos(refusal, tokens, now);
        String message = switch (refusal) {
            case REQUESTS -> whose + " rate limit of " + limits.rpm() + " requests per minute is reached.";
            case TOKENS -> refusedBy.exceedsTokenLimit(tokens)
                    ? "This request may use up to " + tokens + " tokens, more than " + (byKey ? "this key's" : "your account's")
                            + " limit of " + limits.tpm() + " tokens per minute; lower max_tokens or the prompt."
                    : whose + " rate limit of " + limits.tpm() + " tokens per minute is reached (this request may use up to " + tokens + ").";
            case CONCURRENCY -> whose + " limit of " + limits.concurrency() + " requests at once is reached.";
        };
        boolean hopeless = refusal == RateLimiter.Refusal.TOKENS && refusedBy.exceedsTokenLimit(tokens);
        gateway.metrics().refused(exchange.surface(), Rejection.Kind.RATE_LIMITED);
        io.netty.handler.codec.http.FullHttpResponse response = ErrorShapes.response(exchange.channel().alloc(), exchange.surface(),
                Rejection.of(Rejection.Kind.RATE_LIMITED, hopeless ? message : message + " Try again in " + dev.tollgate.proxy.RateLimitHeaders.seconds(retryAfterNanos) + "s."),
                exchange.requestId());
        if (hopeless) {
            response.headers().set("x-should-retry", "false"); // no wait admits it
        } else {
            response.headers().set("retry-after", dev.tollgate.proxy.RateLimitHeaders.seconds(retryAfterNanos));
            response.headers().set("retry-after-ms", Math.max(1, (retryAfterNanos + 999_999) / 1_000_000));
        }
        dev.tollgate.proxy.RateLimitHeaders.set(response.headers(), exchange.surface(), keyLimiter, accountLimiter, now);
        exchange.respond(response);
        return false;
    }

    private void reject(Exchange exchange, Rejection rejection) {
        gateway.metrics().refused(exchange.surface(), rejection.kind());
        exchange.respond(ErrorShapes.response(exchange.channel().alloc(), exchange.surface(), rejection, exchange.requestId()));
    }

    /** Why a refused reservation was refused, if a spend cap of the key was the reason (null: the balance was). */
    private String capMessage(Exchange exchange, Admission.Plan plan) {
        int slot = exchange.key().spendSlot();
        if (slot < 0) {
            return null;
        }
        SpendWindows windows = gateway.ledger().spendWindows();
        long now = System.currentTimeMillis();
        int day = SpendWindows.dayOf(now);
        int month = SpendWindows.monthOf(now);
        SpendWindows.Window window = windows.tighterThan(slot, day, month, plan.minimumMicros());
        if (window == null) {
            return null;
        }
        String currency = gateway.config().catalog().currency();
        String name = switch (window) {
            case DAY -> "daily";
            case MONTH -> "monthly";
            case TOTAL -> "total";
        };
        java.time.ZonedDateTime utc = java.time.Instant.ofEpochMilli(now).atZone(java.time.ZoneOffset.UTC);
        String resets = switch (window) {
            case DAY -> "; it resets at " + utc.toLocalDate().plusDays(1) + "T00:00:00Z";
            case MONTH -> "; it resets at " + utc.toLocalDate().withDayOfMonth(1).plusMonths(1) + "T00:00:00Z";
            case TOTAL -> "";
        };
        return "This key's " + name + " spend cap of " + Money.format(windows.cap(slot, window), currency) + " is reached ("
                + Money.format(windows.used(slot, window, window == SpendWindows.Window.DAY ? day : month), currency)
                + " spent or held, and this request needs " + Money.format(plan.minimumMicros(), currency) + ")" + resets + ".";
    }

    private String insufficientForFeeMessage(Exchange exchange, long feeMicros) {
        long available = gateway.accounts().balances().availableMicros(exchange.key().accountSlot());
        String currency = gateway.config().catalog().currency();
        return "Your Tollgate balance is too low for this request's platform fee: the provider bills the tokens to your own account, and "
                + "Tollgate's fee for this request may reach " + Money.format(feeMicros, currency) + ", and " + Money.format(available, currency)
                + " is available. Top up the account to continue.";
    }

    private String insufficientMessage(Exchange exchange, Admission.Plan plan) {
        long available = gateway.accounts().balances().availableMicros(exchange.key().accountSlot());
        String currency = gateway.config().catalog().currency();
        return "Your Tollgate balance is too low for this request: admitting it needs "
                + Money.format(plan.minimumMicros(), currency) + " (a prompt of up to " + plan.promptBoundTokens()
                + " tokens and at least " + Math.min(plan.outputCapTokens(), gateway.limits().minOutputTokens())
                + " output tokens), and " + Money.format(available, currency) + " is available. Top up the account to continue.";
    }
}
