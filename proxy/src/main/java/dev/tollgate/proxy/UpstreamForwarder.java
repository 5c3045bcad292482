package dev.tollgate.proxy;

import dev.tollgate.config.ProviderConfig;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends an admitted exchange to its provider over a pooled connection of this event loop, and ties
 * the two connections together: the client's going away cancels the upstream request, and a client
 * that reads slowly pauses reading from the upstream (backpressure).
 */
final class UpstreamForwarder extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamForwarder.class);

    private final Function<Channel, UpstreamPool> pools;
    private Exchange current;

    UpstreamForwarder(Function<Channel, UpstreamPool> pools) {
        this.pools = pools;
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
        exchange.pool = pools.apply(ctx.channel());
        exchange.sender = this::send;
        send(exchange);
    }

    private void send(Exchange exchange) {
        ProviderConfig provider = exchange.route.provider();
        exchange.pool.acquire(provider, exchange.attempts == 0, (channel, reused) -> {
            if (exchange.completed()) {
                exchange.pool.release(provider, channel); // the client left while we connected
                return;
            }
            exchange.attempts++;
            exchange.upstream = channel;
            exchange.upstreamReused = reused;
            UpstreamHandler.attach(channel, exchange);
            channel.config().setAutoRead(exchange.client.isWritable());
            String uri = provider.basePath() + exchange.endpoint.path().substring("/v1".length()) + exchange.upstreamQuery;
            FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, uri,
                    exchange.upstreamBody.retainedDuplicate(), exchange.upstreamHeaders, EmptyHttpHeaders.INSTANCE);
            exchange.armResponseTimeout();
            channel.writeAndFlush(request).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        }, cause -> {
            LOG.warn("{}: cannot connect to provider {}: {}", exchange.requestId, provider.name(), cause.toString());
            exchange.upstreamFailed("upstream_connect_failed", cause instanceof ConnectTimeoutException);
        });
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
        if (current != null && current.upstream != null) {
            current.upstream.config().setAutoRead(ctx.channel().isWritable());
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
