package dev.tollgate.proxy.listener;

import dev.tollgate.proxy.Gateway;
import dev.tollgate.proxy.Transport;
import dev.tollgate.proxy.lanes.LaneGate;
import dev.tollgate.proxy.lanes.Resumptions;
import dev.tollgate.proxy.upstream.UpstreamForwarder;
import dev.tollgate.proxy.upstream.UpstreamPool;

import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.Limits;
import dev.tollgate.config.ProviderConfig;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.concurrent.EventExecutor;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * The proxy listener. Each client connection's pipeline reads like the route of its request:
 * connection guard (caps and timeouts), HTTP codec, body limit, routing to a surface, authentication, Tollgate's own endpoints, the lane gate (a slot
 * of the key's lane, or its queue), admission (reserve), forwarding upstream. The upstream connections live on the client connection's own event loop.
 */
public final class TollgateServer implements AutoCloseable {
    private final Gateway gateway;
    private final MultiThreadIoEventLoopGroup group;
    private final Channel serverChannel;
    private final Map<EventExecutor, UpstreamPool> pools = new HashMap<>();
    private final Map<EventExecutor, Resumptions> resumptions = new HashMap<>();
    private final ConnectionGuard.Connections connections = new ConnectionGuard.Connections();

    private TollgateServer(Gateway gateway, ListenerConfig listener, int threads, Transport transport) throws InterruptedException {
        this.gateway = gateway;
        this.group = transport.newGroup(threads, "tollgate-io");
        Map<String, SslContext> tls = upstreamTls(gateway);
        for (EventExecutor executor : group) {
            pools.put(executor, new UpstreamPool((EventLoop) executor, transport, gateway.limits(), tls, gateway.lanes()));
            resumptions.put(executor, new Resumptions(executor, gateway.lanes().priorityRanks()));
            executor.execute(() -> gateway.ledger().writer().wakeOncePerTurnOf(executor));
        }
        java.util.List<UpstreamPool> allPools = java.util.List.copyOf(pools.values());
        allPools.forEach(pool -> pool.siblings(allPools));
        Limits limits = gateway.limits();
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(transport.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 4096)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        ChannelPipeline pipeline = channel.pipeline();
                        ConnectionGuard guard = new ConnectionGuard(connections, limits);
                        pipeline.addLast(ConnectionGuard.NAME, guard);
                        pipeline.addLast(ReadGate.NAME, new ReadGate());
                        addHttpCodec(pipeline);
                        addBodyLimit(pipeline, limits);
                        pipeline.addLast("request-ends", guard.requestSide());
                        addRouting(pipeline);
                        addAuthentication(pipeline);
                        addLocalEndpoints(pipeline);
                        addLaneGate(pipeline);
                        addAdmission(pipeline);
                        addForwarding(pipeline);
                    }
                });
        this.serverChannel = bootstrap.bind(listener.host(), listener.port()).sync().channel();
    }

    public static TollgateServer start(Gateway gateway, ListenerConfig listener) throws InterruptedException {
        return start(gateway, listener, Runtime.getRuntime().availableProcessors(), Transport.best());
    }

    public static TollgateServer start(Gateway gateway, ListenerConfig listener, int threads, Transport transport) throws InterruptedException {
        return new TollgateServer(gateway, listener, threads, transport);
    }

    private static void addHttpCodec(ChannelPipeline pipeline) {
        pipeline.addLast("http-codec", new HttpServerCodec(8192, 64 * 1024, 64 * 1024));
    }

    private void addBodyLimit(ChannelPipeline pipeline, Limits limits) {
        pipeline.addLast("body-limit", new BodyLimitAggregator(limits.maxRequestBodyBytes(), gateway.metrics()));
    }

    private void addRouting(ChannelPipeline pipeline) {
        pipeline.addLast("route", new SurfaceRouter(gateway));
    }

    private void addAuthentication(ChannelPipeline pipeline) {
        pipeline.addLast("auth", new Authenticator(gateway));
    }

    private void addLocalEndpoints(ChannelPipeline pipeline) {
        pipeline.addLast("local-endpoints", new LocalEndpoints(gateway));
    }

    private void addLaneGate(ChannelPipeline pipeline) {
        pipeline.addLast(LaneGate.NAME, new LaneGate(gateway, resumptions.get(pipeline.channel().eventLoop())));
    }

    private void addAdmission(ChannelPipeline pipeline) {
        pipeline.addLast("admission", new AdmissionHandler(gateway));
    }

    private void addForwarding(ChannelPipeline pipeline) {
        pipeline.addLast("forward", new UpstreamForwarder(channel -> pools.get(channel.eventLoop())));
    }

    private static Map<String, SslContext> upstreamTls(Gateway gateway) {
        Map<String, SslContext> contexts = new HashMap<>();
        for (ProviderConfig provider : gateway.config().providers()) {
            if (!provider.tls()) {
                continue;
            }
            try {
                SslContextBuilder builder = SslContextBuilder.forClient().endpointIdentificationAlgorithm("HTTPS");
                if (provider.caCertFile() != null) {
                    builder.trustManager(provider.caCertFile().toFile());
                }
                contexts.put(provider.name(), builder.build());
            } catch (SSLException e) {
                throw new IllegalStateException("cannot set up TLS for provider " + provider.name() + ": " + e.getMessage(), e);
            }
        }
        return contexts;
    }

    public Gateway gateway() {
        return gateway;
    }

    /** This listener's client connections: open, refused at a cap, closed by a timeout. */
    public ConnectionGuard.Connections connections() {
        return connections;
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
