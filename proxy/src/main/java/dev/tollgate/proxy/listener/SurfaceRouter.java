package dev.tollgate.proxy.listener;

import dev.tollgate.proxy.Endpoint;
import dev.tollgate.proxy.ErrorShapes;
import dev.tollgate.proxy.Gateway;
import dev.tollgate.proxy.exchange.Exchange;
import dev.tollgate.proxy.metrics.NodeMetrics;

import dev.tollgate.config.Protocol;
import dev.tollgate.metering.request.Rejection;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * Matches a complete request to one of Tollgate's endpoints and opens its {@link Exchange}; unknown
 * paths and wrong methods are answered here. One exchange at a time per connection: a request
 * pipelined behind one in flight waits here, and the connection stops reading (see {@link ReadGate})
 * until every waiting request is served.
 *
 * <p>The connection reads on its own (auto-read) rather than one {@code read()} per request: with
 * epoll every manual read and every pause is a system call re-arming the socket's interest, two per
 * request, and clients almost never pipeline.
 */
public final class SurfaceRouter extends ChannelInboundHandlerAdapter {
    private final Gateway gateway;
    /** Requests that arrived while an exchange was in flight, in order; reading is paused while any wait. */
    private final ArrayDeque<FullHttpRequest> pipelined = new ArrayDeque<>(2);
    private boolean exchangeInFlight;
    private boolean readingPaused;
    private ChannelHandlerContext ctx;

    public SurfaceRouter(Gateway gateway) {
        this.gateway = gateway;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof FullHttpRequest request)) {
            ReferenceCountUtil.release(msg); // released: only whole requests come out of the aggregator
            return;
        }
        if (exchangeInFlight) {
            pipelined.add(request); // owned here until its turn
            if (!readingPaused) {
                readingPaused = true;
                ReadGate.pause(ctx.channel());
            }
            return;
        }
        route(ctx, request);
    }

    /**
     * Called by the exchange when it is over and the connection stays open: the next request's turn.
     * A waiting request is served in a task of its own, not inside the ending of the one before it
     * (which may be running in its upstream connection's read).
     */
    private void exchangeCompleted() {
        FullHttpRequest next = pipelined.poll();
        if (next == null) {
            exchangeInFlight = false;
            if (readingPaused && ctx.channel().isActive()) {
                readingPaused = false;
                ReadGate.resume(ctx.channel());
            }
            return;
        }
        ctx.executor().execute(() -> {
            if (!ctx.channel().isActive()) {
                next.release(); // released: the connection closed before its turn
                return;
            }
            try {
                route(ctx, next);
            } catch (RuntimeException e) {
                ctx.fireExceptionCaught(e);
            }
        });
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        FullHttpRequest waiting;
        while ((waiting = pipelined.poll()) != null) {
            waiting.release(); // released: the connection closed before its turn
        }
    }

    private void route(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (request.decoderResult().isFailure()) {
            Throwable cause = request.decoderResult().cause();
            gateway.metrics().refused(Protocol.OPENAI, cause instanceof io.netty.handler.codec.http.TooLongHttpHeaderException ? NodeMetrics.HEADERS_TOO_LARGE
                    : cause instanceof io.netty.handler.codec.http.TooLongHttpLineException ? NodeMetrics.URI_TOO_LONG : NodeMetrics.INVALID_HTTP);
            FullHttpResponse response = cause instanceof io.netty.handler.codec.http.TooLongHttpHeaderException
                    ? ErrorShapes.response(ctx.alloc(), Protocol.OPENAI, ErrorShapes.HEADERS_TOO_LARGE,
                            "The request's headers are too large.", null, Gateway.newRequestId())
                    : cause instanceof io.netty.handler.codec.http.TooLongHttpLineException
                    ? ErrorShapes.response(ctx.alloc(), Protocol.OPENAI, ErrorShapes.URI_TOO_LONG, "The request line is too long.", null,
                            Gateway.newRequestId())
                    : ErrorShapes.response(ctx.alloc(), Protocol.OPENAI,
                            Rejection.of(Rejection.Kind.MALFORMED_JSON, "The request is not valid HTTP."), Gateway.newRequestId());
            request.release(); // released: answered here
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        String path = new QueryStringDecoder(request.uri()).rawPath();
        Endpoint endpoint = Endpoint.atPath(path);
        exchangeInFlight = true;
        Exchange exchange = new Exchange(gateway, ctx.channel(), endpoint, surfaceFor(endpoint, request.headers()), request,
                this::exchangeCompleted);
        if (endpoint == null) {
            gateway.metrics().refused(exchange.surface(), Rejection.Kind.UNKNOWN_PATH);
            exchange.respond(ErrorShapes.response(ctx.alloc(), exchange.surface(), Rejection.of(Rejection.Kind.UNKNOWN_PATH,
                    "Invalid URL (" + request.method() + " " + path + ")"), exchange.requestId()));
            return;
        }
        if (!endpoint.method().equals(request.method())) {
            gateway.metrics().refused(exchange.surface(), Rejection.Kind.METHOD_NOT_ALLOWED);
            FullHttpResponse response = ErrorShapes.response(ctx.alloc(), exchange.surface(), Rejection.of(Rejection.Kind.METHOD_NOT_ALLOWED,
                    "Method " + request.method() + " is not allowed on " + path + "; use " + endpoint.method() + "."), exchange.requestId());
            response.headers().set(HttpHeaderNames.ALLOW, endpoint.method().name());
            exchange.respond(response);
            return;
        }
        if (endpoint == Endpoint.HEALTHZ || endpoint == Endpoint.READYZ) {
            exchange.respond(endpoint == Endpoint.HEALTHZ ? dev.tollgate.proxy.Health.healthz() : dev.tollgate.proxy.Health.readyz(gateway));
            return;
        }
        ctx.fireChannelRead(exchange); // forwarded: the exchange owns the request now
    }

    /**
     * The surface whose error shape a request gets: its endpoint's, or for paths both providers share
     * (and unknown ones) Anthropic's when the client sent Anthropic's headers.
     */
    static Protocol surfaceFor(Endpoint endpoint, HttpHeaders headers) {
        if (endpoint != null && endpoint.family() != null) {
            return endpoint.surface();
        }
        if (endpoint == Endpoint.COUNT_TOKENS || headers.contains("anthropic-version") || headers.contains("x-api-key")) {
            return Protocol.ANTHROPIC;
        }
        return Protocol.OPENAI;
    }
}
