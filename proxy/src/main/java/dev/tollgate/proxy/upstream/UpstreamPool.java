package dev.tollgate.proxy.upstream;

import dev.tollgate.proxy.Transport;
import dev.tollgate.proxy.lanes.Lane;
import dev.tollgate.proxy.lanes.Lanes;
import dev.tollgate.proxy.lanes.UpstreamBudget;

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
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AttributeKey;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * Kept-alive upstream connections of one event loop, per lane and provider. Connections are made on the same
 * event loop as the client connection that uses them, so a request never changes threads and the
 * pool needs no locks.
 *
 * <p>Lanes share no connection: each has its own idle connections, and opens at most its {@code upstreamConnections}
 * on the whole node ({@link UpstreamBudget}, an atomic count). When its budget is spent, a request waits for a
 * connection of its own lane, first in first out: one handed back on this loop, or a new one once a connection of the
 * lane closes anywhere (a loop that waits asks the others to close their idle ones of the lane). A wait lasts at most
 * {@code upstreamResponseTimeoutMs}, then fails as a connect timeout.
 */
public final class UpstreamPool {
    /** Largest response head and chunk the upstream codec accepts. */
    private static final int MAX_HEADER_BYTES = 64 * 1024;
    /** The budget a connection is counted in; cleared when it is given back, so it is given back once. */
    private static final AttributeKey<UpstreamBudget> COUNTED_IN = AttributeKey.valueOf("tollgate.upstreamBudget");

    private final EventLoop loop;
    private final Transport transport;
    private final Limits limits;
    private final Map<String, SslContext> tlsByProvider;
    private final Lanes lanes;
    private final Map<String, LanePool> byLane = new HashMap<>();
    /** Every loop's pool, this one included: asked to close an idle connection of a lane another loop waits for. */
    private List<UpstreamPool> siblings = List.of();

    public UpstreamPool(EventLoop loop, Transport transport, Limits limits, Map<String, SslContext> tlsByProvider, Lanes lanes) {
        this.loop = loop;
        this.transport = transport;
        this.limits = limits;
        this.tlsByProvider = tlsByProvider;
        this.lanes = lanes;
    }

    /** The pools of every event loop of the listener, set once before any request. */
    public void siblings(List<UpstreamPool> all) {
        this.siblings = List.copyOf(all);
    }

    /** This loop's connections of {@code lane} (the first lane when it names none declared). */
    public LanePool lane(String lane) {
        LanePool pool = byLane.get(lane);
        if (pool == null) {
            Lane declared = lanes.lane(lane);
            Lane of = declared != null ? declared : lanes.first();
            pool = byLane.computeIfAbsent(of.name(), name -> new LanePool(of));
        }
        return pool;
    }

    /** One lane's connections on this loop. Used on the loop only, but for {@link #wake}. */
    public final class LanePool {
        private final Lane lane;
        private final UpstreamBudget budget;
        private final Map<String, ArrayDeque<Channel>> idleByProvider = new HashMap<>();
        private final ArrayDeque<Waiting> waiting = new ArrayDeque<>();
        /** Registered with the budget for a wake-up that has not run yet. */
        private boolean wantRegistered;
        private final Runnable wake = () -> loop.execute(this::woken);

        private LanePool(Lane lane) {
            this.lane = lane;
            this.budget = lane.upstream();
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
            if (waiting.isEmpty() && (budget.tryTake() || closeIdleAndTake())) {
                open(provider, ready, failed);
                return;
            }
            Waiting wait = new Waiting(provider, ready, failed);
            wait.timer = loop.schedule(() -> {
                if (waiting.remove(wait)) {
                    failed.accept(new ConnectTimeoutException("no upstream connection of lane " + lane.name() + " was free within "
                            + limits.upstreamResponseTimeoutMs() + " ms"));
                }
            }, limits.upstreamResponseTimeoutMs(), TimeUnit.MILLISECONDS);
            waiting.add(wait);
            want();
        }

        /** The exchange is done with {@code channel}, which can serve another request: to a waiting request of the lane, or idle. */
        void release(ProviderConfig provider, Channel channel) {
            if (!channel.isActive()) {
                return; // its close gives its place in the budget back
            }
            Waiting next = waiting.peek();
            if (next != null && next.provider.name().equals(provider.name())) {
                waiting.poll();
                next.timer.cancel(false);
                next.ready.accept(channel, true);
                return;
            }
            ArrayDeque<Channel> idle = idleByProvider.computeIfAbsent(provider.name(), name -> new ArrayDeque<>());
            if (next != null || budget.wanted() || idle.size() >= limits.maxIdleUpstreamConnections()) {
                // Someone of the lane waits for a connection to another provider, or on another loop: this one's place serves them.
                closeCounted(channel);
                serveWaiting();
                return;
            }
            idle.addLast(channel);
        }

        private void open(ProviderConfig provider, ConnectionReady ready, Consumer<Throwable> failed) {
            connect(provider, this).addListener((ChannelFuture future) -> {
                if (future.isSuccess()) {
                    ready.accept(future.channel(), false);
                } else {
                    failed.accept(future.cause());
                }
            });
        }

        /** Requests wait here: be woken when a connection of the lane closes, and have the other loops close their idle ones. */
        private void want() {
            if (!wantRegistered) {
                wantRegistered = true;
                budget.want(wake);
                for (UpstreamPool sibling : siblings) {
                    if (sibling != UpstreamPool.this) {
                        sibling.loop.execute(() -> sibling.lane(lane.name()).closeOneIdle());
                    }
                }
            }
            serveWaiting(); // a connection that closed before the registration woke no one
        }

        private void woken() {
            wantRegistered = false;
            if (waiting.isEmpty()) {
                budget.wakeOne(); // nothing waits here any more: the next loop's turn
                return;
            }
            serveWaiting();
            if (!waiting.isEmpty()) {
                want();
            }
        }

        private void serveWaiting() {
            while (!waiting.isEmpty() && (budget.tryTake() || closeIdleAndTake())) {
                Waiting next = waiting.poll();
                next.timer.cancel(false);
                open(next.provider, next.ready, next.failed);
            }
        }

        /** Closes an idle connection of the lane on this loop (another provider's: the caller's own would have been reused) for its place. */
        private boolean closeIdleAndTake() {
            return closeOneIdle() && budget.tryTake();
        }

        private boolean closeOneIdle() {
            for (ArrayDeque<Channel> idle : idleByProvider.values()) {
                Channel oldest = idle.pollFirst();
                if (oldest != null) {
                    closeCounted(oldest);
                    return true;
                }
            }
            return false;
        }
    }

    /** A request of a lane whose budget is spent, waiting for a connection. */
    private static final class Waiting {
        final ProviderConfig provider;
        final ConnectionReady ready;
        final Consumer<Throwable> failed;
        ScheduledFuture<?> timer;

        Waiting(ProviderConfig provider, ConnectionReady ready, Consumer<Throwable> failed) {
            this.provider = provider;
            this.ready = ready;
            this.failed = failed;
        }
    }

    /** Closes {@code channel} and gives its place in its lane's budget back now, not when the close completes. */
    private static void closeCounted(Channel channel) {
        uncount(channel);
        channel.close();
    }

    private static void uncount(Channel channel) {
        UpstreamBudget budget = channel.attr(COUNTED_IN).getAndSet(null);
        if (budget != null) {
            budget.give();
        }
    }

    /** A new connection of {@code pool}'s lane, already counted in its budget; closing it (or failing to connect) gives that back. */
    private ChannelFuture connect(ProviderConfig provider, LanePool pool) {
        String host = provider.baseUrl().getHost();
        int port = provider.port();
        SslContext tls = tlsByProvider.get(provider.name());
        Bootstrap bootstrap = new Bootstrap()
                .group(loop)
                .channel(transport.socketChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, limits.upstreamConnectTimeoutMs())
                .option(ChannelOption.TCP_NODELAY, true)
                .attr(COUNTED_IN, pool.budget)
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
            ArrayDeque<Channel> idle = pool.idleByProvider.get(provider.name());
            if (idle != null) {
                idle.remove(connected.channel());
            }
            uncount(connected.channel());
            pool.serveWaiting();
        });
        return connected;
    }

    @FunctionalInterface
    interface ConnectionReady {
        void accept(Channel channel, boolean reused);
    }
}
