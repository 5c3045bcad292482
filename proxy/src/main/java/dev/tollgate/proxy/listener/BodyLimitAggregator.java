package dev.tollgate.proxy.listener;

import dev.tollgate.proxy.Endpoint;
import dev.tollgate.proxy.ErrorShapes;
import dev.tollgate.proxy.Gateway;

import dev.tollgate.config.Protocol;
import dev.tollgate.metering.request.Rejection;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.QueryStringDecoder;

/**
 * Aggregates a request body up to {@code limits.maxRequestBodyBytes}; a larger one is refused with
 * 413 in the surface's error shape before anything is reserved, and the connection is closed so the
 * rest of the oversized body is never read.
 */
public final class BodyLimitAggregator extends HttpObjectAggregator {

    public BodyLimitAggregator(int maxRequestBodyBytes) {
        super(maxRequestBodyBytes);
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
        String path = oversized instanceof HttpRequest request ? new QueryStringDecoder(request.uri()).rawPath() : "";
        Protocol surface = SurfaceRouter.surfaceFor(Endpoint.atPath(path), oversized.headers());
        Rejection rejection = Rejection.of(Rejection.Kind.BODY_TOO_LARGE,
                "Request body too large: the limit is " + maxContentLength() + " bytes.");
        ctx.writeAndFlush(ErrorShapes.response(ctx.alloc(), surface, rejection, Gateway.newRequestId()))
                .addListener(ChannelFutureListener.CLOSE);
    }
}
