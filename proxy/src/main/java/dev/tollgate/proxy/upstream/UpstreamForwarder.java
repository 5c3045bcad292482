package dev.tollgate.proxy.upstream;

import dev.tollgate.config.ProviderConfig;
import dev.tollgate.proxy.exchange.Exchange;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ConnectTimeoutException;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends an admitted exchange to its provider over a pooled connection of this event loop, and ties
 * the two connections together: the client's going away cancels the upstream request, and a client
 * that reads slowly pauses reading from the upstream (backpressure).
 */
public final class UpstreamForwarder extends ChannelInboundHandlerAdapter implements Exchange.UpstreamLink {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamForwarder.class);

    private final Function<Channel, UpstreamPool> pools;
    private UpstreamPool pool;
    private Exchange current;

    public UpstreamForwarder(Function<Channel, UpstreamPool> pools) {
        this.pools = pools;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        pool = pools.apply(ctx.channel());
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Exchange exchange = (Exchange) msg;
        current = exchange;
        exchange.onComplete(() -> {
            if (current == exchange) {
                current = null;
            }
        });
        exchange.forward(this);
    }

    @Override
    public void send(Exchange exchange) {
        UpstreamCall call = exchange.upstream();
        ProviderConfig provider = call.provider();
        UpstreamPool.LanePool pool = poolOf(exchange);
        pool.acquire(provider, call.attempts() == 0, (channel, reused) -> {
            if (exchange.completed()) {
                pool.release(provider, channel); // the client left while we connected
                return;
            }
            call.attach(channel, reused);
            UpstreamHandler.attach(channel, exchange);
            channel.config().setAutoRead(exchange.channel().isWritable());
            exchange.armResponseTimeout();
            ChannelFuture written = channel.writeAndFlush(call.newRequest());
            if (written.isDone() && !written.isSuccess()) {
                // Refused at once: the connection was closed before the write, so no byte left (and no
                // channelInactive will come for it): the exchange decides whether to send again.
                call.writeFailed(written.cause());
                channel.close();
                exchange.upstreamClosed(channel);
                return;
            }
            written.addListener(ChannelFutureListener.CLOSE_ON_FAILURE); // bytes may have left: a loss is a failure, never a resend
        }, cause -> {
            LOG.warn("{}: cannot connect to provider {}: {}", exchange.requestId(), provider.name(), cause.toString());
            exchange.upstreamFailed("upstream_connect_failed", cause instanceof ConnectTimeoutException);
        });
    }

    /** The connections of the exchange's lane on this loop: a lane uses only its own. */
    private UpstreamPool.LanePool poolOf(Exchange exchange) {
        return pool.lane(exchange.lane().name());
    }

    @Override
    public void done(Exchange exchange, Channel channel, boolean reusable) {
        if (reusable) {
            poolOf(exchange).release(exchange.upstream().provider(), channel);
        } else {
            channel.close();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (current != null) {
            current.clientGone();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        Channel upstream = current == null || current.upstream() == null ? null : current.upstream().channel();
        if (upstream != null) {
            upstream.config().setAutoRead(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Clients resetting connections is normal traffic, not an error worth a stack trace.
        LOG.debug("client connection {} failed: {}", ctx.channel(), cause.toString());
        ctx.close();
    }
}
