package dev.tollgate.proxy.listener;

import dev.tollgate.proxy.Endpoint;
import dev.tollgate.proxy.ErrorShapes;
import dev.tollgate.proxy.Gateway;
import dev.tollgate.proxy.metrics.NodeMetrics;

import dev.tollgate.config.Protocol;
import dev.tollgate.metering.request.Rejection;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.ReferenceCountUtil;
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

    /** Where refusals are counted; null for none. */
    private final NodeMetrics metrics;

    public BodyLimitAggregator(int maxRequestBodyBytes) {
        this(maxRequestBodyBytes, null);
    }

    public BodyLimitAggregator(int maxRequestBodyBytes, NodeMetrics metrics) {
        super(maxRequestBodyBytes);
        this.metrics = metrics;
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
        ctx.writeAndFlush(tooLarge(ctx.alloc(), oversized)).addListener(ChannelFutureListener.CLOSE);
    }

    /**
     * A client that declares an oversized body and waits for {@code 100 Continue} gets the same JSON 413 as one
     * that sends it, instead of Netty's empty one; its body is then not read.
     */
    @Override
    protected Object newContinueResponse(HttpMessage start, int maxContentLength, ChannelPipeline pipeline) {
        Object response = super.newContinueResponse(start, maxContentLength, pipeline);
        if (response instanceof HttpResponse refusal && refusal.status().code() == HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE.code()) {
            ReferenceCountUtil.release(refusal);
            FullHttpResponse json = tooLarge(pipeline.channel().alloc(), start);
            json.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            return json;
        }
        return response;
    }

    /** Closing after the JSON 413 (not only ignoring the body) keeps an oversized upload from holding the connection. */
    @Override
    protected boolean closeAfterContinueResponse(Object response) {
        return response instanceof HttpResponse refusal && refusal.status().code() == HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE.code()
                || super.closeAfterContinueResponse(response);
    }

    private FullHttpResponse tooLarge(ByteBufAllocator alloc, HttpMessage oversized) {
        String path = oversized instanceof HttpRequest request ? new QueryStringDecoder(request.uri()).rawPath() : "";
        Protocol surface = SurfaceRouter.surfaceFor(Endpoint.atPath(path), oversized.headers());
        if (metrics != null) {
            metrics.refused(surface, Rejection.Kind.BODY_TOO_LARGE);
        }
        Rejection rejection = Rejection.of(Rejection.Kind.BODY_TOO_LARGE,
                "Request body too large: the limit is " + maxContentLength() + " bytes.");
        return ErrorShapes.response(alloc, surface, rejection, Gateway.newRequestId());
    }
}
