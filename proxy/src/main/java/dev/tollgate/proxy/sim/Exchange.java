package dev.tollgate.proxy.sim;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

import java.util.concurrent.TimeUnit;

/**
 * One request and its answer on a connection: knows the provider dialect, the request id and
 * whether the connection stays open, and tells the handler when the answer is fully written so the
 * next pipelined request may go.
 */
final class Exchange {

    private static final String EVENT_STREAM = "text/event-stream; charset=utf-8";

    private final SimulatedProvider provider;
    private final SimHttpHandler handler;
    private final ChannelHandlerContext ctx;
    private final Dialect dialect;
    private final boolean keepAlive;
    private final String requestId;
    /** The request-id header as sent: the id, or the bytes a {@code [sim:request-id=...]} fault asks for. */
    private CharSequence requestIdHeader;

    Exchange(SimulatedProvider provider, SimHttpHandler handler, ChannelHandlerContext ctx, Dialect dialect, boolean keepAlive) {
        this.provider = provider;
        this.handler = handler;
        this.ctx = ctx;
        this.dialect = dialect;
        this.keepAlive = keepAlive;
        this.requestId = dialect.newRequestId(provider.ids());
        this.requestIdHeader = requestId;
    }

    SimulatedProvider provider() {
        return provider;
    }

    SimulatedProvider.Settings settings() {
        return provider.settings();
    }

    SimIds ids() {
        return provider.ids();
    }

    ChannelHandlerContext ctx() {
        return ctx;
    }

    Dialect dialect() {
        return dialect;
    }

    boolean keepAlive() {
        return keepAlive;
    }

    String requestId() {
        return requestId;
    }

    int firstByteDelayMs(Directives directives) {
        return directives.firstByteDelayMs() != Directives.ABSENT
                ? directives.firstByteDelayMs() : settings().firstByteDelayMs();
    }

    int interEventDelayMs(Directives directives) {
        return directives.interEventDelayMs() != Directives.ABSENT
                ? directives.interEventDelayMs() : settings().interEventDelayMs();
    }

    /** A 200 JSON answer after the first-byte delay the directives or settings ask for, or the wire fault they ask for. */
    void json(Directives directives, Json.Body body) {
        if (faultBeforeTheAnswer(directives.wire())) {
            return;
        }
        if (directives.wire().resetAfterDeltas() != Directives.ABSENT) {
            reset();
            return;
        }
        int delayMs = firstByteDelayMs(directives);
        if (delayMs > 0) {
            // The body is built when sent, not now, so a long delay holds no buffer.
            ctx.executor().schedule(() -> json(HttpResponseStatus.OK, body), delayMs, TimeUnit.MILLISECONDS);
        } else {
            json(HttpResponseStatus.OK, body);
        }
    }

    /** The provider's error shape, at once. */
    void error(int status, String message, String param, String code) {
        json(HttpResponseStatus.valueOf(status), dialect.error(status, message, param, code, requestId));
    }

    /** A 400 for a missing or mistyped required field, worded as the provider words it. */
    void missingParameter(String param) {
        if (dialect == Dialect.ANTHROPIC) {
            error(400, param + ": Field required", null, null);
        } else {
            error(400, "Missing required parameter: '" + param + "'.", param, "missing_required_parameter");
        }
    }

    /** {@code [sim:error=STATUS]}: the provider's error shape for that status, at once, whatever the request. */
    void simulatedError(int status) {
        String code = dialect == Dialect.OPENAI && status == 404 ? "model_not_found" : null;
        error(status, Dialect.simulatedErrorMessage(status), null, code);
    }

    void json(HttpResponseStatus status, Json.Body body) {
        if (!ctx.channel().isActive()) {
            // The peer left while we waited; nobody to answer.
            done(true);
            return;
        }
        ByteBuf content = ctx.alloc().buffer(512);
        try {
            Json.write(content, body);
        } catch (RuntimeException e) {
            content.release();
            throw e;
        }
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content, headersFactory(),
                DefaultHttpHeadersFactory.trailersFactory());
        HttpHeaders headers = response.headers();
        headers.set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        headers.setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        headers.set(dialect.requestIdHeader(), requestIdHeader);
        int code = status.code();
        if (code / 100 == 2 || code == 429) {
            dialect.rateLimitHeaders(headers, code == 429);
        }
        HttpUtil.setKeepAlive(response, keepAlive);
        var written = ctx.writeAndFlush(response);
        if (!keepAlive) {
            written.addListener(ChannelFutureListener.CLOSE);
        }
        done(!keepAlive);
    }

    /** A chunked {@code text/event-stream} answer, with the delays and fault the directives ask for. */
    void stream(Directives directives, StreamScript script) {
        if (faultBeforeTheAnswer(directives.wire())) {
            return;
        }
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, headersFactory());
        HttpHeaders headers = head.headers();
        headers.set(HttpHeaderNames.CONTENT_TYPE, EVENT_STREAM);
        headers.set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_CACHE);
        headers.set(dialect.requestIdHeader(), requestIdHeader);
        dialect.rateLimitHeaders(headers, false);
        HttpUtil.setTransferEncodingChunked(head, true);
        HttpUtil.setKeepAlive(head, keepAlive);
        SseStream stream = new SseStream(this, script, interEventDelayMs(directives), directives.wire());
        handler.streaming(stream);
        stream.start(head, firstByteDelayMs(directives));
    }

    /**
     * The faults that replace the whole answer: a hang (the connection stays open, unanswered, until the peer
     * leaves) or a 200 carrying the provider's error object. Also applies a
     * request-id fault to whatever answer follows. True when the fault has answered instead.
     */
    private boolean faultBeforeTheAnswer(WireFaults wire) {
        requestIdHeader = wire.requestId().headerValue(requestId);
        if (wire.hangBeforeHead()) {
            return true;
        }
        if (wire.errorBody()) {
            json(HttpResponseStatus.OK, dialect.error(500, Dialect.simulatedErrorMessage(500), null, null, requestId));
            return true;
        }
        return false;
    }

    /** {@code [sim:reset-after]} on a JSON answer: the connection ends in a TCP reset instead of the answer. */
    private void reset() {
        resetWhenWritten(ctx, ctx.newSucceededFuture());
        done(true);
    }

    /** Resets the connection once {@code written} has left: SO_LINGER 0 makes the close send RST and drop what is unsent. */
    static void resetWhenWritten(ChannelHandlerContext ctx, io.netty.channel.ChannelFuture written) {
        ctx.flush();
        written.addListener(f -> {
            ctx.channel().config().setOption(io.netty.channel.ChannelOption.SO_LINGER, 0);
            ctx.close();
        });
    }

    /** Netty refuses control bytes in header values; a request-id fault needs them on the wire, so it turns that off. */
    private HttpHeadersFactory headersFactory() {
        DefaultHttpHeadersFactory headers = DefaultHttpHeadersFactory.headersFactory();
        return requestIdHeader == requestId ? headers : headers.withValueValidation(false);
    }

    /** The answer is fully written (or abandoned); {@code connectionClosing} stops any pipelined request behind it. */
    void done(boolean connectionClosing) {
        handler.exchangeDone(this, connectionClosing);
    }
}
