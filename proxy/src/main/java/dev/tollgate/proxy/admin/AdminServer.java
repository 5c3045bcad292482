package dev.tollgate.proxy.admin;

import dev.tollgate.config.ListenerConfig;
import dev.tollgate.journal.reconcile.Reconciler;
import dev.tollgate.proxy.Gateway;
import dev.tollgate.proxy.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.ReadTimeoutHandler;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The admin listener: its own port, its own thread, never the proxy's event loops (an admin call may
 * wait for the journal or the reconciler, and must not stall a stream). Off a loopback address it
 * starts only with admin tokens; on loopback without tokens it answers only {@code /healthz},
 * {@code /readyz} and {@code /metrics} and refuses every admin route.
 */
public final class AdminServer implements AutoCloseable {
    /** An admin body is a small JSON object; anything near this is a mistake or an attack. */
    static final int MAX_BODY_BYTES = 64 * 1024;
    private static final int READ_TIMEOUT_SECONDS = 30;

    private final MultiThreadIoEventLoopGroup group;
    private final Channel serverChannel;

    private AdminServer(MultiThreadIoEventLoopGroup group, Channel serverChannel) {
        this.group = group;
        this.serverChannel = serverChannel;
    }

    public static AdminServer start(Gateway gateway, Reconciler reconciler, ListenerConfig listener, AdminTokens tokens, Transport transport)
            throws InterruptedException {
        if (tokens.isEmpty() && !listener.isLoopback()) {
            throw new IllegalStateException("the admin listener on " + listener.host() + ":" + listener.port()
                    + " is not on a loopback address, and no admin token is set: set " + AdminTokens.TOKENS_ENV + " (label:role:secret) or "
                    + AdminTokens.TOKEN_ENV + ", or bind listeners.admin to 127.0.0.1");
        }
        AdminApi api = new AdminApi(gateway, reconciler, System::currentTimeMillis);
        MultiThreadIoEventLoopGroup group = transport.newGroup(1, "tollgate-admin");
        try {
            Channel channel = new ServerBootstrap()
                    .group(group)
                    .channel(transport.serverChannel())
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel channel) {
                            channel.pipeline()
                                    .addLast("read-timeout", new ReadTimeoutHandler(READ_TIMEOUT_SECONDS, TimeUnit.SECONDS))
                                    .addLast("http-codec", new HttpServerCodec(4096, 16 * 1024, 16 * 1024))
                                    .addLast("aggregate", new HttpObjectAggregator(MAX_BODY_BYTES))
                                    .addLast("admin", new AdminHandler(gateway, api, tokens));
                        }
                    })
                    .bind(listener.host(), listener.port()).sync().channel();
            return new AdminServer(group, channel);
        } catch (RuntimeException | InterruptedException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
    }

    public int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    @Override
    public void close() {
        serverChannel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
