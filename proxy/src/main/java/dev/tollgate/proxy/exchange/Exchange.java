package dev.tollgate.proxy.exchange;

import dev.tollgate.config.Protocol;
import dev.tollgate.journal.LedgerReservation;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.ModelRoutes;
import dev.tollgate.metering.RateLimiter;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;
import dev.tollgate.metering.request.Admission;
import dev.tollgate.metering.request.InspectedRequest;
import dev.tollgate.proxy.Endpoint;
import dev.tollgate.proxy.ErrorShapes;
import dev.tollgate.proxy.Gateway;
import dev.tollgate.proxy.Headers;
import dev.tollgate.proxy.accesslog.AccessEntry;
import dev.tollgate.proxy.accesslog.AccessLog;
import dev.tollgate.proxy.admin.AdminApi;
import dev.tollgate.proxy.lanes.Lane;
import dev.tollgate.proxy.upstream.UpstreamCall;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import dev.tollgate.proxy.upstream.UpstreamRequests;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client request from arrival to its single outcome, as the state machine of {@link ExchangeState}:
 * each public method is one transition and checks that it is legal. The work is split three ways:
 * {@link ClientSide} writes to the client, {@link UpstreamCall} is the request to the provider, and
 * {@link Billing} holds the money and gives the reservation its one outcome. Whatever ends the
 * exchange (response complete, client gone, upstream failure, timeout, cut at the reservation, a bug)
 * passes through {@link #complete}, which refuses to leave money held.
 *
 * <p>Lives on the client channel's event loop, where its upstream connection lives too: no locks.
 */
public final class Exchange {
    private static final Logger LOG = LoggerFactory.getLogger(Exchange.class);

    /** How the upstream side is driven: sending (again) and handing a finished connection back. */
    public interface UpstreamLink {
        void send(Exchange exchange);

        /** The exchange is done with {@code channel}: pool it if {@code reusable}, close it otherwise. */
        void done(Exchange exchange, Channel channel, boolean reusable);
    }

    private final Gateway gateway;
    private final String requestId = Gateway.newRequestId();
    private final Endpoint endpoint;
    private final Protocol surface;
    private final ClientSide client;
    private final Billing billing;
    private RateLimiter keyLimiter;
    private RateLimiter accountLimiter;
    private long rateLimitedTokens;
    private long rateLimitAcquiredNanos;
    /** Serves the connection's next request once this one is over. */
    private final Runnable readNext;
    private ExchangeState state = ExchangeState.ADMITTING;
    private FullHttpRequest request;
    private UpstreamCall upstream;
    /** The candidates this request may be served by and the attempts made; null until admitted. */
    private Attempts attempts;
    private UpstreamLink link;
    private ResponseRelay relay;
    private ScheduledFuture<?> timer;
    private long lastUpstreamActivityNanos;
    private Runnable onComplete;
    /** The lane it runs in once the lane gate let it through (null before); the slot is given back once, when it completes. */
    private Lane lane;
    private boolean holdsLaneSlot;
    private long laneEnteredNanos;
    /** For the latency metrics: when the whole request was here, when it went upstream (0: never), when the upstream's response ended (0: not cleanly). */
    private final long arrivedNanos = System.nanoTime();
    private long forwardedNanos;
    private long finishingNanos;
    /** Why Tollgate answered with an error of its own ({@link ErrorShapes.ErrorResponse#reason}), for the access log; null when it did not. */
    private String errorReason;
    private boolean accessLogged;

    public Exchange(Gateway gateway, Channel client, Endpoint endpoint, Protocol surface, FullHttpRequest request, Runnable readNext) {
        this.gateway = gateway;
        this.endpoint = endpoint;
        this.surface = surface;
        this.request = request;
        this.readNext = readNext;
        this.client = new ClientSide(client, requestId, HttpUtil.isKeepAlive(request));
        this.billing = new Billing(gateway, requestId, endpoint, gateway.nowMs(), client.eventLoop(), this::logAccess);
    }

    // ---------------------------------------------------------------- what it is

    public String requestId() {
        return requestId;
    }

    public Endpoint endpoint() {
        return endpoint;
    }

    public Protocol surface() {
        return surface;
    }

    public ExchangeState state() {
        return state;
    }

    public boolean completed() {
        return state == ExchangeState.DONE;
    }

    public Channel channel() {
        return client.channel();
    }

    /** The client's request, until the upstream request is built from it. */
    public FullHttpRequest request() {
        return request;
    }

    public ApiKeys.ApiKey key() {
        return billing.key;
    }

    public ModelRoutes.Route route() {
        return billing.route;
    }

    public LedgerReservation reservation() {
        return billing.reservation;
    }

    public UpstreamCall upstream() {
        return upstream;
    }

    public void onComplete(Runnable action) {
        this.onComplete = action;
    }

    /** The lane it runs in, or the lane of keys that name none when it never passed a lane gate (a test's pipeline). */
    public Lane lane() {
        return lane != null ? lane : gateway.lanes().first();
    }

    /**
     * Gives the lane slot back, once. Called just before the answer's last bytes are written too (the exchange completes
     * right after), so a client that sends its next request as soon as it reads the answer never meets its own slot.
     */
    private void releaseLaneSlot() {
        if (holdsLaneSlot) {
            holdsLaneSlot = false;
            lane.release(System.nanoTime() - laneEnteredNanos);
        }
    }

    /** The lane gate gave it one of {@code entered}'s slots: it holds that slot until it completes (or writes its last bytes). */
    public void enteredLane(Lane entered) {
        requireState(ExchangeState.ADMITTING);
        if (lane != null) {
            throw new IllegalStateException(requestId + ": already in lane " + lane.name());
        }
        lane = entered;
        holdsLaneSlot = true;
        laneEnteredNanos = System.nanoTime();
        billing.lane = entered.name();
    }

    Gateway gateway() {
        return gateway;
    }

    ClientSide client() {
        return client;
    }

    Billing billing() {
        return billing;
    }

    /** When the request arrived (epoch milliseconds, the gateway's clock): the moment it is priced at and its facts start. */
    public long startEpochMs() {
        return billing.startEpochMs();
    }

    InspectedRequest inspected() {
        return billing.inspected;
    }

    TokenCounter counter() {
        return billing.counter;
    }

    public Admission.Plan plan() {
        return billing.plan;
    }

    /** The candidates and attempts, null before admission. */
    public Attempts attempts() {
        return attempts;
    }

    // ---------------------------------------------------------------- admission (ADMITTING -> RESERVED)

    public void authenticated(ApiKeys.ApiKey key) {
        requireState(ExchangeState.ADMITTING);
        billing.key = key;
    }

    /** Admitted without money: a free endpoint (count_tokens). It goes to the first candidate, with no fallback. */
    public void admittedFree(Attempts attempts, InspectedRequest inspected) {
        requireState(ExchangeState.ADMITTING);
        this.attempts = attempts;
        billing.inspected = inspected;
        billing.attempts = attempts;
        attempts.advance();
        prepareCurrent();
    }

    /** The worst case of the dearest candidate is held; the first candidate's request is built. */
    public void reserved(Attempts attempts, InspectedRequest inspected, LedgerReservation reservation) {
        requireState(ExchangeState.ADMITTING);
        this.attempts = attempts;
        billing.inspected = inspected;
        billing.attempts = attempts;
        billing.reservation = reservation;
        attempts.advance();
        moveTo(ExchangeState.RESERVED);
        prepareCurrent();
    }

    /**
     * Admitted under rate limits (either may be null) at {@code acquiredNanos}, charged {@code tokens}: the exchange ends
     * the permit when it completes, whatever the path, and corrects the token charge by what was billed.
     */
    public void rateLimited(RateLimiter keyLimiter, RateLimiter accountLimiter, long tokens, long acquiredNanos) {
        this.keyLimiter = keyLimiter;
        this.accountLimiter = accountLimiter;
        this.rateLimitedTokens = tokens;
        this.rateLimitAcquiredNanos = acquiredNanos;
    }

    /**
     * Builds the request for the current candidate (its model name, the output cap it is sent, its provider's headers and
     * key) and prices the exchange by it. The client's request is let go once no other candidate can follow.
     */
    private void prepareCurrent() {
        Attempts.Candidate candidate = attempts.current();
        billing.route = candidate.route();
        billing.plan = candidate.plan();
        billing.counter = candidate.counter();
        if (candidate.plan() != null) {
            billing.outputTokensSent = attempts.outputTokensToSend();
        }
        if (upstream != null) {
            cancelUpstream();
            upstream.dispose();
        }
        // Named as the candidate knows the model; named back when an earlier candidate's name is still in the parsed body.
        String upstreamModel = candidate.route().row().model();
        boolean renamed = !upstreamModel.equals(attempts.requestedModel())
                || !attempts.requestedModel().equals(billing.inspected.body().path("model").asText(null));
        byte[] rewritten = Admission.rewrite(billing.inspected, candidate.plan(), candidate.plan() == null ? 0 : attempts.outputTokensToSend(),
                renamed ? upstreamModel : null);
        ByteBuf body = rewritten != null ? Unpooled.wrappedBuffer(rewritten) : request.content().retainedDuplicate();
        upstream = UpstreamRequests.call(candidate.route().provider(), endpoint, request.uri(), request.headers(), body, candidate.credential());
        if (!attempts.mayFallBack()) {
            releaseRequest(); // nothing more is built from it
        }
    }

    /**
     * The journal has the reservation, or could not take it. True when the exchange goes upstream now;
     * otherwise it was answered here: a reservation that is not journaled is not spent (503), and a client
     * that left meanwhile gets its money back.
     */
    public boolean reservationJournaled(RuntimeException failure) {
        if (state != ExchangeState.RESERVED) {
            return false;
        }
        if (failure != null) {
            LOG.error("{}: cannot journal the reservation", requestId, failure);
            billing.reservation.abandon(); // never recorded, so for the journal it never existed
            gateway.metrics().refused(surface, dev.tollgate.proxy.metrics.NodeMetrics.JOURNAL_FAILED);
            refuse(ErrorShapes.NOT_RECORDED, "Tollgate could not record this request; nothing was charged. Try again shortly.");
            return false;
        }
        if (!client.channel().isActive()) {
            billing.release("client_disconnected");
            complete(false);
            return false;
        }
        return true;
    }

    /** Answers locally (a refusal or Tollgate's own endpoint) and completes; nothing is held or forwarded. */
    public void respond(FullHttpResponse response) {
        if (state == ExchangeState.DONE) {
            response.release();
            return;
        }
        if (response instanceof ErrorShapes.ErrorResponse error) {
            errorReason = error.reason(); // the one place every refusal passes: the access log's reason
        }
        billing.release("internal_error"); // no path answers locally with money held; the guard costs one check
        releaseLaneSlot();
        client.respond(response);
        complete(false);
    }

    public void refuse(ErrorShapes.ErrorKind kind, String message) {
        respond(ErrorShapes.response(client.channel().alloc(), surface, kind, message, null, requestId));
    }

    /** Lets go of the client's request once nothing more is read from it. */
    public void releaseRequest() {
        if (request != null) {
            ReferenceCountUtil.release(request);
            request = null;
        }
    }

    // ---------------------------------------------------------------- upstream (-> AWAITING_HEAD -> RELAYING)

    /** Goes upstream through {@code link}. */
    public void forward(UpstreamLink link) {
        this.link = link;
        forwardedNanos = System.nanoTime();
        moveTo(ExchangeState.AWAITING_HEAD);
        sendCurrent();
    }

    /**
     * Sends the current candidate's request if its provider's circuit breaker lets it, else moves on to the next candidate;
     * when none is left the request is answered here (nothing was sent anywhere, so nothing is charged).
     */
    private void sendCurrent() {
        while (true) {
            dev.tollgate.proxy.upstream.UpstreamBreakers.Permit permit = attempts.breakerApplies()
                    ? gateway.breakers().tryAcquire(billing.route.provider().name()) : dev.tollgate.proxy.upstream.UpstreamBreakers.Permit.NONE;
            if (permit != null) {
                attempts.started(permit);
                link.send(this);
                return;
            }
            attempts.skipped("circuit_open");
            gateway.metrics().upstreamAttempt(billing.route.provider().name(), "circuit_open");
            if (!attempts.advance()) {
                billing.release("upstream_circuit_open");
                refuse(ErrorShapes.CIRCUIT_OPEN, "Every upstream that serves `" + attempts.requestedModel()
                        + "` is failing right now and is rested by Tollgate's circuit breaker; nothing was charged. Try again shortly.");
                return;
            }
            prepareCurrent();
        }
    }

    /**
     * The current attempt failed before anything reached the client, and another candidate may serve: the failure is
     * recorded (the journal and the access log name it), the connection dropped, and the next candidate tried after a
     * jittered backoff, so clients that failed together do not come back together.
     */
    private void fallBack(String reason) {
        String provider = billing.route.provider().name();
        attempts.failed(reason);
        gateway.metrics().upstreamAttempt(provider, reason);
        LOG.info("{}: {} failed ({}); trying the next route", requestId, provider, reason);
        cancelTimer();
        if (!attempts.advance()) {
            throw new IllegalStateException(requestId + ": fell back with no candidate left"); // mayFallBack said there was one
        }
        prepareCurrent();
        dev.tollgate.config.RoutingConfig routing = gateway.config().routing();
        long ceilingMs = Math.min(routing.maxBackoffMs(), (long) routing.backoffMs() << Math.min(20, attempts.made() - 1));
        long delayMs = ceilingMs <= 0 ? 0 : java.util.concurrent.ThreadLocalRandom.current().nextLong(ceilingMs + 1);
        timer = client.channel().eventLoop().schedule(() -> {
            if (state == ExchangeState.AWAITING_HEAD) {
                sendCurrent();
            }
        }, delayMs, TimeUnit.MILLISECONDS);
    }

    /** Whether a failure now may go to another candidate: before any response byte reached the client, with budget left. */
    private boolean mayFallBack() {
        return state == ExchangeState.AWAITING_HEAD && attempts != null && attempts.mayFallBack() && !client.headWritten();
    }

    public void armResponseTimeout() {
        cancelTimer();
        timer = client.channel().eventLoop().schedule(() -> {
            if (state == ExchangeState.AWAITING_HEAD) {
                upstreamFailed("upstream_timeout", true);
            }
        }, gateway.limits().upstreamResponseTimeoutMs(), TimeUnit.MILLISECONDS);
    }

    /** After the response head: the upstream may stay silent at most upstreamIdleTimeoutMs between two pieces. */
    private void armIdleTimeout() {
        cancelTimer();
        lastUpstreamActivityNanos = System.nanoTime();
        scheduleIdleCheck(gateway.limits().upstreamIdleTimeoutMs());
    }

    private void scheduleIdleCheck(long delayMs) {
        timer = client.channel().eventLoop().schedule(() -> {
            if (state != ExchangeState.RELAYING) {
                return;
            }
            long idleMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastUpstreamActivityNanos);
            long limitMs = gateway.limits().upstreamIdleTimeoutMs();
            if (!client.channel().isWritable()) {
                // Tollgate stopped reading the provider because this client stopped reading: the silence is the
                // client's, not the provider's. It is given the client idle timeout, then cut as stalled.
                long clientLimitMs = gateway.limits().clientIdleTimeoutMs();
                if (idleMs >= clientLimitMs) {
                    clientStalled();
                } else {
                    scheduleIdleCheck(Math.min(limitMs, clientLimitMs - idleMs));
                }
                return;
            }
            if (idleMs >= limitMs) {
                upstreamFailed("upstream_timeout", true);
            } else {
                scheduleIdleCheck(limitMs - idleMs);
            }
        }, delayMs, TimeUnit.MILLISECONDS);
    }

    private void cancelTimer() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    /** One piece of the upstream response; the exchange owns it from here and releases it. */
    public void onUpstream(HttpObject message) {
        try {
            if (state != ExchangeState.AWAITING_HEAD && state != ExchangeState.RELAYING) {
                return; // the outcome is decided; what the provider still sends changes nothing
            }
            lastUpstreamActivityNanos = System.nanoTime();
            if (message.decoderResult().isFailure()) {
                upstreamFailed("upstream_invalid_response", false);
                return;
            }
            if (message instanceof HttpResponse head) {
                onUpstreamHead(head);
            }
            if (message instanceof HttpContent content && state == ExchangeState.RELAYING) {
                relay.onContent(content.content(), message instanceof LastHttpContent);
                if (message instanceof LastHttpContent && state == ExchangeState.RELAYING) {
                    relay.onEnd();
                }
            }
        } catch (RuntimeException e) {
            abort(e);
        } finally {
            ReferenceCountUtil.release(message);
        }
    }

    private void onUpstreamHead(HttpResponse head) {
        if (head.status().code() == 100) {
            return;
        }
        requireState(ExchangeState.AWAITING_HEAD);
        int status = head.status().code();
        boolean providerFailed = status >= 500 || status == 429 || endpoint.family() != null && (status == 401 || status == 403);
        if (providerFailed && mayFallBack()) {
            fallBack("upstream_status_" + status);
            return;
        }
        if (providerFailed) {
            attempts.failedFinally("upstream_status_" + status);
        } else {
            attempts.succeeded();
        }
        gateway.metrics().upstreamAttempt(billing.route.provider().name(), providerFailed ? "upstream_status_" + status : "served");
        gateway.metrics().upstreamFirstByte(billing.route.provider().name(), System.nanoTime() - forwardedNanos);
        upstream.responseHead(head);
        String providerId = head.headers().get(surface == Protocol.ANTHROPIC ? "request-id" : "x-request-id");
        billing.upstreamRequestId = providerId == null ? null : Billing.providerId(providerId, Billing.MAX_UPSTREAM_ID_BYTES);
        if (endpoint.family() != null && (status == 401 || status == 403)) {
            // The provider refused Tollgate's own key. Passing its message on could leak part of that key
            // and would make the client's SDK blame the client's key: answer as a gateway error instead.
            LOG.error("{}: provider {} refused Tollgate's credentials (HTTP {})", requestId, billing.route.provider().name(), status);
            billing.release("upstream_status_" + status);
            refuse(ErrorShapes.UPSTREAM_UNAVAILABLE, "The upstream provider refused Tollgate's credentials; the operator has been told.");
            return;
        }
        if (endpoint.family() == null) {
            relay = new PassThroughRelay(this);
        } else if (status >= 300) {
            // The provider's own error, in its own shape: passed on as is; a failed request costs nothing.
            billing.release("upstream_status_" + status);
            relay = new PassThroughRelay(this);
        } else if (isEventStream(head)) {
            relay = new SseRelay(this);
        } else {
            relay = new JsonRelay(this);
        }
        moveTo(ExchangeState.RELAYING);
        armIdleTimeout();
        DefaultHttpResponse clientHead = new DefaultHttpResponse(HttpVersion.HTTP_1_1, head.status());
        Headers.copyResponseHeaders(head.headers(), clientHead.headers());
        if (relay.streaming() || !HttpUtil.isContentLengthSet(head) || head.headers().contains(HttpHeaderNames.CONTENT_ENCODING)) {
            HttpUtil.setTransferEncodingChunked(clientHead, true);
        } else {
            clientHead.headers().set(HttpHeaderNames.CONTENT_LENGTH, head.headers().get(HttpHeaderNames.CONTENT_LENGTH));
        }
        if (billing.holdsMoney()) {
            clientHead.headers().set(Headers.TOLLGATE_RESERVED, billing.reservation.heldMicros());
        }
        if (keyLimiter != null || accountLimiter != null) {
            dev.tollgate.proxy.RateLimitHeaders.set(clientHead.headers(), surface, keyLimiter, accountLimiter, System.nanoTime());
        }
        if (relay.holdsResponseForDebit()) {
            client.holdHead(clientHead);
        } else {
            client.writeHead(clientHead);
        }
    }

    private static boolean isEventStream(HttpResponse head) {
        String type = head.headers().get(HttpHeaderNames.CONTENT_TYPE);
        return type != null && type.regionMatches(true, 0, "text/event-stream", 0, "text/event-stream".length());
    }

    /** The upstream connection's current read is over. */
    public void upstreamReadComplete() {
        client.upstreamReadComplete();
    }

    // ---------------------------------------------------------------- endings

    /**
     * The response is whole (or cut at the reservation): bill {@code usage} (null: release, it cost nothing) and, once the debit is in the
     * journal, send {@code lastBytes} (may be null) and complete, so a client never holds a complete answer
     * whose debit a crash could lose. A debit that cannot be recorded ends the response with an error instead.
     */
    void finish(Usage usage, boolean reportedByProvider, String reason, ByteBuf lastBytes, boolean upstreamReusable) {
        moveTo(ExchangeState.FINISHING);
        finishingNanos = System.nanoTime();
        cancelTimer();
        if (usage == null) {
            billing.release(reason); // nothing is debited, so nothing waits for the journal
            debitJournaled(null, lastBytes, upstreamReusable);
            return;
        }
        billing.servedServiceTier = relay.servedServiceTier();
        Billing.Recording recording = billing.settle(usage, reportedByProvider, relay.outputTokensCounted(), reason,
                failure -> debitJournaled(failure, lastBytes, upstreamReusable)); // on the event loop
        switch (recording) {
            case NOTHING_HELD -> debitJournaled(null, lastBytes, upstreamReusable);
            case FAILED -> debitJournaled(new IllegalStateException("the settlement was not recorded"), lastBytes, upstreamReusable);
            case PENDING -> {
                // the journal's acknowledgement goes on
            }
        }
    }

    /** Ends a response whose body needs no metering (a provider's error, a free endpoint). */
    void finishUnbilled() {
        moveTo(ExchangeState.FINISHING);
        releaseLaneSlot();
        client.writeEnd(null);
        complete(true);
    }

    private void debitJournaled(RuntimeException failure, ByteBuf lastBytes, boolean upstreamReusable) {
        if (state != ExchangeState.FINISHING) {
            if (lastBytes != null) {
                lastBytes.release();
            }
            return;
        }
        try {
            if (failure == null) {
                releaseLaneSlot();
                client.writeEnd(lastBytes);
                complete(upstreamReusable);
                return;
            }
            LOG.error("{}: the debit could not be journaled; the client gets an error, not the answer", requestId, failure);
            if (lastBytes != null) {
                lastBytes.release();
            }
            endWithError(ErrorShapes.NOT_RECORDED, "Tollgate could not record the cost of this response. Try again shortly.");
            complete(false);
        } catch (RuntimeException e) {
            abort(e);
        }
    }

    /**
     * The upstream failed (connection lost, timeout, garbage) before the response completed. Before any
     * output: the reservation is released and the client gets a 502/504 in its surface's shape. After
     * output began: what was generated is billed and the client's stream ends with an error event.
     */
    public void upstreamFailed(String reason, boolean timeout) {
        if (state.outcomeDecided()) {
            return;
        }
        if (mayFallBack()) {
            fallBack(reason);
            return;
        }
        if (attempts != null) {
            attempts.failedFinally(reason);
            if (state == ExchangeState.AWAITING_HEAD) {
                gateway.metrics().upstreamAttempt(billing.route.provider().name(), reason);
            }
        }
        ErrorShapes.ErrorKind kind = timeout ? ErrorShapes.UPSTREAM_TIMEOUT : ErrorShapes.UPSTREAM_UNAVAILABLE;
        String message = timeout ? "The upstream provider did not answer in time." : "The upstream provider closed the connection or sent an invalid response.";
        if (state != ExchangeState.RELAYING) {
            billing.release(reason);
            refuse(kind, message);
            return;
        }
        moveTo(ExchangeState.FINISHING);
        cancelUpstream();
        if (relay.providerErrorSeen()) {
            // The provider's own error event reached the client and the connection ended after it: that is the failure.
            endOutcome(relay.usageOnFailure(), "upstream_error_event");
            client.writeEnd(null);
        } else {
            endOutcome(relay.usageOnFailure(), reason);
            endWithError(kind, message);
        }
        complete(false);
    }

    /**
     * A bug, not traffic: the exchange ends on its failure path so the reservation still gets one
     * outcome (what was generated is billed, as on an upstream failure) and the client a clean end.
     */
    public void abort(Throwable cause) {
        LOG.error("{}: failed in state {}; ending the exchange", requestId, state, cause);
        if (state == ExchangeState.DONE) {
            return;
        }
        try {
            cancelUpstream();
            Usage generated = null;
            if (relay != null && billing.holdsMoney()) {
                try {
                    generated = relay.usageOnFailure();
                } catch (RuntimeException again) {
                    LOG.error("{}: the usage so far is unknown; releasing", requestId, again);
                }
            }
            if (state != ExchangeState.FINISHING) {
                state = ExchangeState.FINISHING; // from any live state: the outcome is decided here
            }
            endOutcome(generated, "internal_error");
            endWithError(ErrorShapes.INTERNAL, "Tollgate failed while relaying this response.");
        } catch (RuntimeException again) {
            LOG.error("{}: failed again while ending", requestId, again);
            client.abandonResponse();
        } finally {
            complete(false);
        }
    }

    /** Cancels the upstream request now (closing its connection is how HTTP/1.1 cancels). */
    void cancelUpstream() {
        if (upstream != null) {
            Channel channel = upstream.detach();
            if (channel != null) {
                channel.close();
            }
        }
    }

    /**
     * The upstream connection closed under this exchange. A kept-alive connection found closed before any
     * byte of the request was written is retried once on a fresh connection (the provider never saw the
     * request); any other loss is an upstream failure, never a resend.
     */
    public void upstreamClosed(Channel channel) {
        if (state != ExchangeState.AWAITING_HEAD && state != ExchangeState.RELAYING || upstream == null || channel != upstream.channel()) {
            return;
        }
        boolean resend = state == ExchangeState.AWAITING_HEAD && upstream.mayResendAfterLosing(channel);
        upstream.detach();
        if (resend) {
            moveTo(ExchangeState.AWAITING_HEAD);
            link.send(this);
            return;
        }
        upstreamFailed("upstream_connection_lost", false);
    }

    /** The client went away before the response completed: cancel upstream, bill what was generated. */
    public void clientGone() {
        if (state == ExchangeState.DONE) {
            return;
        }
        client.markGone();
        if (state == ExchangeState.FINISHING) {
            return; // the settlement's journal acknowledgement completes the exchange
        }
        if (state == ExchangeState.RELAYING) {
            if (relay.readsOnWhenClientGone()) {
                return; // reads the response to its end and settles it exactly, sending nothing more
            }
            moveTo(ExchangeState.FINISHING);
            cancelUpstream();
            endOutcome(relay.usageOnClientGone(), "client_disconnected");
        } else {
            billing.release("client_disconnected");
        }
        complete(false);
    }

    /**
     * The client read nothing of its response for the client idle timeout while Tollgate held the provider back
     * for it: as if it had left (bill what was generated, cancel upstream), and its connection is closed.
     */
    private void clientStalled() {
        LOG.info("{}: the client read nothing for {} ms; ending its response", requestId, gateway.limits().clientIdleTimeoutMs());
        moveTo(ExchangeState.FINISHING);
        cancelUpstream();
        client.markGone();
        endOutcome(relay.usageOnClientGone(), "client_stalled");
        complete(false);
        client.channel().close();
    }

    private void endPermit(RateLimiter limiter, boolean forwarded, long nowNanos) {
        if (forwarded) {
            limiter.finish(rateLimitedTokens, billing.billedTokens, nowNanos);
        } else {
            limiter.cancel(rateLimitedTokens, rateLimitAcquiredNanos, nowNanos);
        }
    }

    /** Settles {@code generated}, or releases when nothing was generated (null); journaled without waiting. */
    private void endOutcome(Usage generated, String reason) {
        if (generated == null) {
            billing.release(reason);
        } else {
            billing.servedServiceTier = relay == null ? null : relay.servedServiceTier();
            billing.settle(generated, false, relay == null ? 0 : relay.outputTokensCounted(), reason, null);
        }
    }

    /** The client must not see a success: a whole error response if nothing was sent, an error event on a stream, else a cut. */
    private void endWithError(ErrorShapes.ErrorKind kind, String message) {
        if (!client.headWritten()) {
            client.respond(ErrorShapes.response(client.channel().alloc(), surface, kind, message, null, requestId));
        } else if (relay != null && relay.streaming()) {
            client.writeEndEvent(ErrorShapes.streamEvent(endpoint, surface, kind, message, requestId, relay.eventsForwarded()));
        } else {
            client.abandonResponse();
        }
    }

    /**
     * Ends the exchange: the upstream connection goes back to the pool when it finished its response
     * cleanly, otherwise it is closed; the client connection reads its next request or closes.
     */
    void complete(boolean upstreamReusable) {
        if (state == ExchangeState.DONE) {
            return;
        }
        moveTo(ExchangeState.DONE);
        if (attempts != null) {
            attempts.ended(); // an attempt cut short by the client says nothing about its provider
        }
        // First, so no failure in the cleanup below can keep a concurrency slot taken for good.
        releaseLaneSlot();
        if (keyLimiter != null || accountLimiter != null) {
            long now = System.nanoTime();
            // Refused before going upstream (the balance, a spend cap, the journal): the provider saw nothing, nor does the rate limit.
            // Once forwarded it counts, even if it then failed: the provider spent on it.
            boolean forwarded = forwardedNanos != 0;
            if (keyLimiter != null) {
                endPermit(keyLimiter, forwarded, now);
            }
            if (accountLimiter != null) {
                endPermit(accountLimiter, forwarded, now);
            }
            keyLimiter = null;
            accountLimiter = null;
        }
        cancelTimer();
        releaseRequest();
        if (forwardedNanos != 0) {
            // Before going upstream, and (for a response that ended cleanly) the wait for its debit to be journaled.
            long added = forwardedNanos - arrivedNanos + (finishingNanos != 0 ? System.nanoTime() - finishingNanos : 0);
            gateway.metrics().addedLatency(surface, added);
        }
        if (relay != null) {
            relay.dispose();
        }
        if (billing.holdsMoney()) {
            // Every path above closes the reservation; this guard keeps a missed one from leaking money.
            LOG.error("{}: exchange completed with its reservation open; releasing it", requestId);
            billing.release("internal_error");
        }
        if (upstream != null) {
            boolean reusable = upstreamReusable && upstream.reusable();
            Channel channel = upstream.detach();
            upstream.dispose();
            if (channel != null) {
                link.done(this, channel, reusable);
            }
        }
        logAccess();
        if (onComplete != null) {
            onComplete.run();
        }
        client.finish(readNext);
    }

    /**
     * Hands the access log this exchange's line once both are known: how its response went (the exchange is done) and
     * its outcome, which a settlement journaled after the exchange completed (a stream cut short) publishes later.
     */
    private void logAccess() {
        AccessLog log = gateway.accessLog();
        if (accessLogged || !log.enabled() || state != ExchangeState.DONE || billing.outcomeAwaited
                || endpoint == Endpoint.HEALTHZ || endpoint == Endpoint.READYZ) { // probes would drown the requests
            return;
        }
        accessLogged = true;
        try {
            log.record(accessEntry());
        } catch (RuntimeException e) {
            LOG.error("{}: the access log line could not be made", requestId, e);
        }
    }

    private AccessEntry accessEntry() {
        int status = client.statusSent();
        if (billing.outcome != null) {
            return AccessEntry.of(billing.outcome, status);
        }
        String outcome;
        String reason = errorReason;
        if (billing.reservation != null && errorReason == null) {
            // Its record failed and the money went back without an outcome (Billing's last resort).
            outcome = AccessEntry.RELEASED;
            reason = "internal_error";
        } else if (errorReason != null && forwardedNanos == 0) {
            outcome = AccessEntry.REFUSED;
        } else {
            outcome = AccessEntry.UNMETERED;
        }
        ApiKeys.ApiKey key = billing.key; // null unless a known key was presented: an unknown one is never written anywhere
        ModelRoutes.Route route = billing.route;
        long now = gateway.nowMs();
        return new AccessEntry(now, requestId, key == null ? null : AdminApi.keyId(key.sha256Hex()), key == null ? null : key.label(),
                key == null ? null : key.accountId(), route == null ? null : route.provider().name(), route == null ? null : route.row().model(),
                endpoint == null ? null : endpoint.path(), status, outcome, reason, null, 0, 0, 0, Math.max(0, now - billing.startEpochMs()),
                billing.upstreamRequestId, attempts == null || attempts.requestedModel().equals(route == null ? null : route.row().model()) ? null : attempts.requestedModel(),
                attempts == null ? "" : attempts.failedBefore());
    }

    // ---------------------------------------------------------------- the state word

    private void moveTo(ExchangeState target) {
        if (!state.canMoveTo(target)) {
            throw new IllegalStateException(requestId + ": illegal transition " + state + " -> " + target);
        }
        state = target;
    }

    private void requireState(ExchangeState expected) {
        if (state != expected) {
            throw new IllegalStateException(requestId + ": expected state " + expected + " but is " + state);
        }
    }
}
