package dev.tollgate.proxy.upstream;

import dev.tollgate.proxy.exchange.Exchange;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpObject;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The last handler of an upstream connection: hands the response to the exchange that owns the connection now. */
public final class UpstreamHandler extends ChannelInboundHandlerAdapter {
    static final String NAME = "upstream-response";
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamHandler.class);

    private Exchange exchange;

    static void attach(Channel channel, Exchange exchange) {
        channel.pipeline().get(UpstreamHandler.class).exchange = exchange;
    }

    static void detach(Channel channel) {
        UpstreamHandler handler = channel.pipeline().get(UpstreamHandler.class);
        if (handler != null) {
            handler.exchange = null;
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (exchange != null && msg instanceof HttpObject http) {
            Exchange owner = exchange;
            owner.onUpstream(http); // forwarded: the exchange releases it, and ends itself cleanly on any failure
        } else {
            // Bytes on an idle pooled connection belong to no request: drop them and the connection.
            ReferenceCountUtil.release(msg);
            ctx.close();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        Exchange owner = exchange;
        if (owner != null) {
            owner.upstreamReadComplete();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        Exchange owner = exchange;
        exchange = null;
        if (owner != null) {
            owner.upstreamClosed(ctx.channel());
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("upstream connection {} failed: {}", ctx.channel(), cause.toString());
        ctx.close();
    }
}
