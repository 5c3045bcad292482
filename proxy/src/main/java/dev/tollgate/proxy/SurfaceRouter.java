package dev.tollgate.proxy;

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

/**
 * Matches a complete request to one of Tollgate's endpoints and opens its {@link Exchange}; unknown
 * paths and wrong methods are answered here. Reading is manual (AUTO_READ off): the first request
 * is read when the connection opens, each next one when the previous exchange completes.
 */
final class SurfaceRouter extends ChannelInboundHandlerAdapter {
    private final Gateway gateway;

    SurfaceRouter(Gateway gateway) {
        this.gateway = gateway;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof FullHttpRequest request)) {
            ReferenceCountUtil.release(msg); // released: only whole requests come out of the aggregator
            return;
        }
        if (request.decoderResult().isFailure()) {
            FullHttpResponse response = ErrorShapes.response(ctx.alloc(), Protocol.OPENAI,
                    Rejection.of(Rejection.Kind.MALFORMED_JSON, "The request is not valid HTTP."), Gateway.newRequestId());
            request.release(); // released: answered here
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        String path = new QueryStringDecoder(request.uri()).rawPath();
        Endpoint endpoint = Endpoint.atPath(path);
        Exchange exchange = new Exchange(gateway, ctx.channel(), endpoint, surfaceFor(endpoint, request.headers()), request);
        if (endpoint == null) {
            exchange.respond(ErrorShapes.response(ctx.alloc(), exchange.surface, Rejection.of(Rejection.Kind.UNKNOWN_PATH,
                    "Invalid URL (" + request.method() + " " + path + ")"), exchange.requestId));
            return;
        }
        if (!endpoint.method().equals(request.method())) {
            FullHttpResponse response = ErrorShapes.response(ctx.alloc(), exchange.surface, Rejection.of(Rejection.Kind.METHOD_NOT_ALLOWED,
                    "Method " + request.method() + " is not allowed on " + path + "; use " + endpoint.method() + "."), exchange.requestId);
            response.headers().set(HttpHeaderNames.ALLOW, endpoint.method().name());
            exchange.respond(response);
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
