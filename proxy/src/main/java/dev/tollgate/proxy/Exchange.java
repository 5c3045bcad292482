package dev.tollgate.proxy;

import dev.tollgate.config.ModelRow;
import dev.tollgate.config.Protocol;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.CostRule;
import dev.tollgate.metering.ModelRoutes;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.JournalWriter;
import dev.tollgate.journal.Ledger;
import dev.tollgate.journal.LedgerReservation;
import dev.tollgate.metering.Reservation;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;
import dev.tollgate.metering.request.Admission;
import dev.tollgate.metering.request.InspectedRequest;
import dev.tollgate.metering.request.PromptEstimator;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client request from arrival to its single outcome. Created by {@link SurfaceRouter}, enriched by
 * each handler on the way in (key, route, reservation), then driven by the upstream response.
 * Lives on the client channel's event loop, where its upstream connection lives too, so it needs no locks.
 *
 * <p>It owns the client's request until the upstream body is built, and the upstream body until the
 * exchange completes. Whatever ends it (response complete, client gone, upstream failure, timeout,
 * cut at the reservation) goes through {@link #settle} or {@link #release} exactly once.
 */
final class Exchange {
    private static final Logger LOG = LoggerFactory.getLogger(Exchange.class);

    final Gateway gateway;
    final Channel client;
    final String requestId = Gateway.newRequestId();
    final long startEpochMs = System.currentTimeMillis();
    final Endpoint endpoint;
    final Protocol surface;
    final boolean keepAlive;
    private FullHttpRequest request;

    ApiKeys.ApiKey key;
    ModelRoutes.Route route;
    InspectedRequest inspected;
    Admission.Plan plan;
    LedgerReservation reservation;
    TokenCounter counter;
    /** The body sent upstream (kept for one retry on a stale pooled connection). */
    ByteBuf upstreamBody;

    UpstreamPool pool;
    /** Sends (or re-sends) this exchange upstream; set by the forwarder. */
    java.util.function.Consumer<Exchange> sender;
    io.netty.handler.codec.http.HttpHeaders upstreamHeaders;
    /** The client's query string ({@code ?beta=true}), passed on; it cannot change the upstream host. */
    final String upstreamQuery;
    Channel upstream;
    boolean upstreamReused;
    int attempts;
    boolean responseStarted;
    private boolean upstreamKeepAlive;
    String upstreamRequestId;
    ResponseRelay relay;
    private ScheduledFuture<?> timer;
    private long lastUpstreamActivityNanos;
    private boolean completed;
    /** Once the client is gone nothing more is written to it. */
    private boolean clientGone;
    /** The response is over and its debit is being journaled: upstream failures and timeouts no longer apply. */
    private boolean awaitingJournal;
    private Runnable onComplete;
    /** Written to the client and to be flushed when the current upstream read is over. */
    private boolean flushAtReadEnd;
    /** Serves the connection's next request once this one is over (the connection stays open). */
    private final Runnable readNext;

    Exchange(Gateway gateway, Channel client, Endpoint endpoint, Protocol surface, FullHttpRequest request, Runnable readNext) {
        this.readNext = readNext;
        this.gateway = gateway;
        this.client = client;
        this.endpoint = endpoint;
        this.surface = surface;
        this.request = request;
        this.keepAlive = HttpUtil.isKeepAlive(request);
        int query = request.uri().indexOf('?');
        this.upstreamQuery = query >= 0 ? request.uri().substring(query) : "";
    }

    FullHttpRequest request() {
        return request;
    }

    ModelRow row() {
        return route.row();
    }

    boolean completed() {
        return completed;
    }

    void onComplete(Runnable action) {
        this.onComplete = action;
    }

    /** Lets go of the client's request once nothing more is read from it. */
    void releaseRequest() {
        if (request != null) {
            ReferenceCountUtil.release(request);
            request = null;
        }
    }

    // ---------------------------------------------------------------- answering the client

    /** Answers locally (an error or Tollgate's own endpoint) and completes; nothing is reserved or held open. */
    void respond(FullHttpResponse response) {
        response.headers().set(Headers.TOLLGATE_REQUEST_ID, requestId);
        HttpUtil.setKeepAlive(response, keepAlive);
        client.writeAndFlush(response, client.voidPromise());
        complete(false);
    }

    void writeHead(HttpResponse head) {
        responseStarted = true;
        head.headers().set(Headers.TOLLGATE_REQUEST_ID, requestId);
        HttpUtil.setKeepAlive(head, keepAlive);
        client.write(head, client.voidPromise());
    }

    void writeContent(ByteBuf content) {
        if (clientGone) {
            content.release();
            return;
        }
        client.write(new DefaultHttpContent(content), client.voidPromise());
    }

    void flush() {
        flushAtReadEnd = false;
        if (!clientGone) {
            client.flush();
        }
    }

    /**
     * Flushes what was written once the current read from the upstream is over: the events of
     * several upstream chunks received in one read (a provider sends each event as its own chunk)
     * then leave in one system call instead of one each.
     */
    void flushAtReadEnd() {
        flushAtReadEnd = true;
    }

    /** The upstream connection's current read is over (Netty's {@code channelReadComplete}). */
    void upstreamReadComplete() {
        if (flushAtReadEnd) {
            flush();
        }
    }

    /** Ends the response to the client, with {@code lastBytes} (may be null) as its final piece. */
    void writeEnd(ByteBuf lastBytes) {
        if (clientGone) {
            if (lastBytes != null) {
                lastBytes.release();
            }
            return;
        }
        LastHttpContent last = lastBytes == null ? LastHttpContent.EMPTY_LAST_CONTENT : new DefaultLastHttpContent(lastBytes);
        client.writeAndFlush(last, client.voidPromise());
    }

    // ---------------------------------------------------------------- outcomes

    /** Debits the actual cost of {@code usage} and returns the rest of the reservation. Once only; journaled without waiting. */
    void settle(Usage usage, boolean reportedByProvider, String reason) {
        settleThen(usage, reportedByProvider, reason, null);
    }

    /**
     * Settles as above, then runs {@code then} on this exchange's event loop once the debit is in the
     * journal, so the response's last byte leaves only after its debit is recorded: a crash can then
     * never lose the debit of a response that a client received whole. The upstream response is over
     * by then, so its timers stop; a failure to journal is logged (the debit stays on the counters).
     */
    void settleThen(Usage usage, boolean reportedByProvider, String reason, Runnable then) {
        Reservation.Settlement settlement = null;
        long costMicros = 0;
        if (reservation != null) {
            costMicros = CostRule.costMicros(row(), usage);
            JournalWriter.Appended whenJournaled = then == null ? null : failure -> client.eventLoop().execute(() -> {
                if (failure != null) {
                    LOG.error("{}: the debit could not be journaled", requestId, failure);
                }
                then.run();
            });
            settlement = reservation.settle(costMicros, facts(), usage, reportedByProvider, reason, whenJournaled);
        }
        if (settlement == null) {
            if (then != null) {
                then.run();
            }
            return;
        }
        if (then != null) {
            cancelTimer();
            awaitingJournal = true;
        }
        if (settlement.writtenOffMicros() > 0) {
            LOG.warn("{}: cost {} micros exceeded the reservation and the balance; {} micros written off", requestId, costMicros,
                    settlement.writtenOffMicros());
        }
        publish(Outcome.SETTLED, reason, usage, reportedByProvider, settlement.heldMicros(), costMicros,
                settlement.debitedMicros(), settlement.writtenOffMicros());
    }

    /** Returns the whole reservation: this request costs nothing. Once only. */
    void release(String reason) {
        if (reservation == null) {
            return;
        }
        long held = reservation.heldMicros();
        if (reservation.release(facts(), reason, null)) {
            publish(Outcome.RELEASED, reason, Usage.ZERO, false, held, 0, 0, 0);
        }
    }

    /** What the journal records of this request: no key, no prompt, only what a statement shows. */
    private RequestFacts facts() {
        return new RequestFacts(requestId, key.accountId(), key.sha256Hex(), Ledger.DEFAULT_LANE, route.provider().name(), route.row().model(),
                endpoint.path(), startEpochMs, Math.max(startEpochMs, System.currentTimeMillis()), upstreamRequestId == null ? "" : truncate(upstreamRequestId));
    }

    /** Upstream ids are the provider's strings: keep a hostile or broken one from making the record invalid. */
    private static String truncate(String upstreamId) {
        return upstreamId.length() > 200 ? upstreamId.substring(0, 200) : upstreamId;
    }

    private void publish(String status, String reason, Usage usage, boolean reported, long held, long cost, long debited, long writtenOff) {
        gateway.publish(new Outcome(requestId, key.accountId(), key.label(), route.provider().name(), route.row().model(),
                endpoint.path(), status, reason, usage, reported, held, cost, debited, writtenOff,
                gateway.accounts().balances().availableMicros(key.accountSlot()), startEpochMs, System.currentTimeMillis(),
                upstreamRequestId));
    }

    /** The usage to bill when the provider's own report is missing: estimated prompt, counted output. */
    long estimatedPromptTokens() {
        return PromptEstimator.estimateTokens(inspected.body(), counter);
    }

    // ---------------------------------------------------------------- timers

    void armResponseTimeout() {
        cancelTimer();
        timer = client.eventLoop().schedule(() -> {
            if (!completed && !responseStarted) {
                upstreamFailed("upstream_timeout", true);
            }
        }, gateway.limits().upstreamResponseTimeoutMs(), TimeUnit.MILLISECONDS);
    }

    /** After the response head: the upstream may stay silent at most upstreamIdleTimeoutMs between two pieces. */
    void armIdleTimeout() {
        cancelTimer();
        lastUpstreamActivityNanos = System.nanoTime();
        scheduleIdleCheck(gateway.limits().upstreamIdleTimeoutMs());
    }

    void upstreamActivity() {
        lastUpstreamActivityNanos = System.nanoTime();
    }

    private void scheduleIdleCheck(long delayMs) {
        timer = client.eventLoop().schedule(() -> {
            if (completed) {
                return;
            }
            long idleMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastUpstreamActivityNanos);
            long limitMs = gateway.limits().upstreamIdleTimeoutMs();
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

    // ---------------------------------------------------------------- the upstream response

    /** One piece of the upstream response; the exchange owns it from here and releases it. */
    void onUpstream(HttpObject message) {
        try {
            if (completed) {
                return;
            }
            upstreamActivity();
            if (message.decoderResult().isFailure()) {
                upstreamFailed("upstream_invalid_response", false);
                return;
            }
            if (message instanceof HttpResponse head) {
                onUpstreamHead(head);
            }
            if (message instanceof HttpContent content && !completed) {
                if (relay == null) {
                    return; // the head was answered locally (an upstream auth failure); its body is dropped
                }
                relay.onContent(content.content(), message instanceof LastHttpContent);
                if (message instanceof LastHttpContent && !completed) {
                    relay.onEnd();
                }
            }
        } finally {
            ReferenceCountUtil.release(message);
        }
    }

    private void onUpstreamHead(HttpResponse head) {
        if (head.status().code() == 100) {
            return;
        }
        upstreamRequestId = head.headers().get(surface == Protocol.ANTHROPIC ? "request-id" : "x-request-id");
        upstreamKeepAlive = HttpUtil.isKeepAlive(head);
        int status = head.status().code();
        if (endpoint.family() == null) {
            relay = new PassThroughRelay(this, false);
        } else if (status == 401 || status == 403) {
            // The provider refused Tollgate's own key. Passing its message on could leak part of that key
            // and would make the client's SDK blame the client's key: answer as a gateway error instead.
            LOG.error("{}: provider {} refused Tollgate's credentials (HTTP {})", requestId, route.provider().name(), status);
            release("upstream_status_" + status);
            respondAfterUpstream(ErrorShapes.response(client.alloc(), surface, ErrorShapes.UPSTREAM_UNAVAILABLE,
                    "The upstream provider refused Tollgate's credentials; the operator has been told.", null, requestId));
            return;
        } else if (status >= 300) {
            // The provider's own error, in its own shape: passed on as is; a failed request costs nothing.
            release("upstream_status_" + status);
            relay = new PassThroughRelay(this, false);
        } else if (isEventStream(head)) {
            relay = new SseRelay(this);
        } else {
            relay = new JsonRelay(this);
        }
        armIdleTimeout();
        DefaultHttpResponse clientHead = new DefaultHttpResponse(HttpVersion.HTTP_1_1, head.status());
        Headers.copyResponseHeaders(head.headers(), clientHead.headers());
        if (relay.streaming() || !HttpUtil.isContentLengthSet(head) || head.headers().contains(HttpHeaderNames.CONTENT_ENCODING)) {
            HttpUtil.setTransferEncodingChunked(clientHead, true);
        } else {
            clientHead.headers().set(HttpHeaderNames.CONTENT_LENGTH, head.headers().get(HttpHeaderNames.CONTENT_LENGTH));
        }
        if (reservation != null && !reservation.isClosed()) {
            clientHead.headers().set(Headers.TOLLGATE_RESERVED, reservation.heldMicros());
        }
        writeHead(clientHead);
    }

    private static boolean isEventStream(HttpResponse head) {
        String type = head.headers().get(HttpHeaderNames.CONTENT_TYPE);
        return type != null && type.regionMatches(true, 0, "text/event-stream", 0, "text/event-stream".length());
    }

    // ---------------------------------------------------------------- endings

    /**
     * The upstream failed (connection lost, timeout, garbage) before the response completed. Before any
     * output: the reservation is released and the client gets a 502/504 in its surface's shape. After
     * output began: what was generated is billed and the client's stream ends with an error event.
     */
    void upstreamFailed(String reason, boolean timeout) {
        if (completed || awaitingJournal) {
            return;
        }
        ErrorShapes.ErrorKind kind = timeout ? ErrorShapes.UPSTREAM_TIMEOUT : ErrorShapes.UPSTREAM_UNAVAILABLE;
        String message = timeout ? "The upstream provider did not answer in time." : "The upstream provider closed the connection or sent an invalid response.";
        if (!responseStarted) {
            release(reason);
            respondAfterUpstream(ErrorShapes.response(client.alloc(), surface, kind, message, null, requestId));
            return;
        }
        if (relay != null) {
            relay.upstreamFailed(reason);
        }
        if (relay != null && relay.streaming()) {
            writeEnd(io.netty.buffer.Unpooled.wrappedBuffer(ErrorShapes.streamEvent(surface, kind, message, requestId)));
            complete(false);
        } else {
            // A JSON body cut short cannot be repaired: closing tells the client it is incomplete.
            complete(false);
            client.close();
        }
    }

    /** Cancels the upstream request now (closing its connection is how HTTP/1.1 cancels), before the exchange completes. */
    void cancelUpstream() {
        if (upstream != null) {
            Channel channel = upstream;
            upstream = null;
            UpstreamHandler.detach(channel);
            channel.close();
        }
    }

    /**
     * The upstream connection closed under this exchange. A kept-alive connection that the provider had
     * already closed fails before any response: the request never reached it, so it is sent once more
     * on a fresh connection. Any other loss is an upstream failure.
     */
    void upstreamClosed(Channel channel) {
        if (completed || channel != upstream || awaitingJournal) {
            return;
        }
        upstream = null;
        if (!responseStarted && upstreamReused && attempts == 1) {
            sender.accept(this);
            return;
        }
        upstreamFailed("upstream_connection_lost", false);
    }

    /** The client went away before the response completed: cancel upstream, bill what was generated. */
    void clientGone() {
        if (completed) {
            return;
        }
        clientGone = true;
        if (awaitingJournal) {
            return; // the settlement's journal acknowledgement completes the exchange
        }
        if (responseStarted && relay != null) {
            if (relay.clientGone()) {
                return;
            }
        } else {
            release("client_disconnected");
        }
        complete(false);
    }

    private void respondAfterUpstream(FullHttpResponse response) {
        response.headers().set(Headers.TOLLGATE_REQUEST_ID, requestId);
        HttpUtil.setKeepAlive(response, keepAlive);
        client.writeAndFlush(response, client.voidPromise());
        complete(false);
    }

    /**
     * Ends the exchange: the upstream connection goes back to the pool when it finished its response
     * cleanly, otherwise it is closed (which is how an HTTP/1.1 upstream request is cancelled); the
     * client connection reads its next request or closes.
     */
    void complete(boolean upstreamReusable) {
        if (completed) {
            return;
        }
        completed = true;
        if (flushAtReadEnd) {
            flush(); // the upstream connection may be handed on before its read completes
        }
        cancelTimer();
        releaseRequest();
        if (upstreamBody != null) {
            upstreamBody.release();
            upstreamBody = null;
        }
        if (relay != null) {
            relay.dispose();
        }
        if (reservation != null && !reservation.isClosed()) {
            // Every path above closes the reservation; this guard keeps a missed one from leaking money.
            LOG.error("{}: exchange completed with its reservation open; releasing it", requestId);
            release("internal_error");
        }
        if (upstream != null) {
            Channel channel = upstream;
            upstream = null;
            UpstreamHandler.detach(channel);
            if (upstreamReusable && upstreamKeepAlive && channel.isActive()) {
                pool.release(route.provider(), channel);
            } else {
                channel.close();
            }
        }
        if (onComplete != null) {
            onComplete.run();
        }
        if (client.isActive()) {
            if (keepAlive) {
                readNext.run();
            } else {
                client.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            }
        }
    }
}
