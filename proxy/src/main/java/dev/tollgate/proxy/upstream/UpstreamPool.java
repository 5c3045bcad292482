package dev.tollgate.proxy.upstream;

import dev.tollgate.proxy.Transport;

import dev.tollgate.config.Limits;
import dev.tollgate.config.ProviderConfig;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContentDecompressor;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * Kept-alive upstream connections of one event loop, per provider. Connections are made on the same
 * event loop as the client connection that uses them, so a request never changes threads and the
 * pool needs no locks.
 */
public final class UpstreamPool {
    /** Largest response head and chunk the upstream codec accepts. */
    private static final int MAX_HEADER_BYTES = 64 * 1024;

    private final EventLoop loop;
    private final Transport transport;
    private final Limits limits;
    private final Map<String, SslContext> tlsByProvider;
    private final Map<String, ArrayDeque<Channel>> idleByProvider = new HashMap<>();

    public UpstreamPool(EventLoop loop, Transport transport, Limits limits, Map<String, SslContext> tlsByProvider) {
        this.loop = loop;
        this.transport = transport;
        this.limits = limits;
        this.tlsByProvider = tlsByProvider;
    }

    /** Hands a connection to {@code ready} (with whether it was reused), or the connect failure to {@code failed}. */
    void acquire(ProviderConfig provider, boolean allowReuse, ConnectionReady ready, Consumer<Throwable> failed) {
        if (allowReuse) {
            ArrayDeque<Channel> idle = idleByProvider.get(provider.name());
            while (idle != null && !idle.isEmpty()) {
                Channel channel = idle.pollLast();
                if (channel.isActive()) {
                    ready.accept(channel, true);
                    return;
                }
            }
        }
        connect(provider).addListener((ChannelFuture future) -> {
            if (future.isSuccess()) {
                ready.accept(future.channel(), false);
            } else {
                failed.accept(future.cause());
            }
        });
    }

    void release(ProviderConfig provider, Channel channel) {
        ArrayDeque<Channel> idle = idleByProvider.computeIfAbsent(provider.name(), name -> new ArrayDeque<>());
        if (idle.size() >= limits.maxIdleUpstreamConnections()) {
            channel.close();
            return;
        }
        idle.addLast(channel);
    }

    private ChannelFuture connect(ProviderConfig provider) {
        String host = provider.baseUrl().getHost();
        int port = provider.port();
        SslContext tls = tlsByProvider.get(provider.name());
        Bootstrap bootstrap = new Bootstrap()
                .group(loop)
                .channel(transport.socketChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, limits.upstreamConnectTimeoutMs())
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        if (tls != null) {
                            SslHandler ssl = tls.newHandler(channel.alloc(), host, port);
                            SSLEngine engine = ssl.engine();
                            SSLParameters parameters = engine.getSSLParameters();
                            parameters.setEndpointIdentificationAlgorithm("HTTPS");
                            engine.setSSLParameters(parameters);
                            ssl.setHandshakeTimeoutMillis(limits.upstreamConnectTimeoutMs());
                            channel.pipeline().addLast("tls", ssl);
                        }
                        channel.pipeline()
                                .addLast("http-codec", new HttpClientCodec(4096, MAX_HEADER_BYTES, 64 * 1024))
                                .addLast("decompress", new HttpContentDecompressor(0))
                                .addLast(UpstreamHandler.NAME, new UpstreamHandler());
                    }
                });
        ChannelFuture connected = bootstrap.connect(host, port);
        connected.channel().closeFuture().addListener(closed -> {
            ArrayDeque<Channel> idle = idleByProvider.get(provider.name());
            if (idle != null) {
                idle.remove(connected.channel());
            }
        });
        return connected;
    }

    @FunctionalInterface
    interface ConnectionReady {
        void accept(Channel channel, boolean reused);
    }
}
