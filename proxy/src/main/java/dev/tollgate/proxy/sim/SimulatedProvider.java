package dev.tollgate.proxy.sim;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.DefaultThreadFactory;

import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A simulated upstream model provider: a Netty HTTP server that speaks the OpenAI and Anthropic
 * wire formats with deterministic text and exact, deterministic token usage.
 *
 * <p>It is the test double for both providers, the upstream of {@code bin/tollgate demo} and the
 * mock of the load harness. Tests steer a single request through directives written anywhere in
 * the prompt text ({@code [sim:events=5]}, {@code [sim:error=429]}, ...; see {@link Directives}).
 *
 * <p>Endpoints, all under {@code /v1}: {@code POST chat/completions}, {@code POST completions},
 * {@code POST embeddings}, {@code POST responses}, {@code POST messages},
 * {@code POST messages/count_tokens} and {@code GET models}.
 */
public final class SimulatedProvider implements AutoCloseable {

    /** Requests larger than this are refused by the aggregator with 413. */
    static final int MAX_REQUEST_BYTES = 32 * 1024 * 1024;
    private static final int RECENT_REQUESTS_KEPT = 256;

    private final Settings settings;
    private final EventLoopGroup group;
    private final Channel serverChannel;
    private final int port;
    private final SimIds ids = new SimIds();

    private final AtomicLong requestsReceived = new AtomicLong();
    private final AtomicLong streamsCancelledByPeer = new AtomicLong();
    private final AtomicLong openStreams = new AtomicLong();
    private final AtomicLong sseEventsWritten = new AtomicLong();
    private final AtomicLong streamsWaitingForReader = new AtomicLong();
    private final ArrayDeque<RecordedRequest> recentRequests = new ArrayDeque<>(RECENT_REQUESTS_KEPT);

    private SimulatedProvider(Settings settings) {
        this.settings = settings;
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory ioHandlerFactory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        Class<? extends ServerChannel> serverChannelClass =
                epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        // Daemon threads: a test that forgets close() must not keep the JVM alive.
        this.group = new MultiThreadIoEventLoopGroup(settings.ioThreads(),
                new DefaultThreadFactory("tollgate-sim", true), ioHandlerFactory);
        try {
            ServerBootstrap bootstrap = new ServerBootstrap()
                    .group(group)
                    .channel(serverChannelClass)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ChannelPipeline pipeline = ch.pipeline();
                            if (settings.tls() != null) {
                                pipeline.addLast(settings.tls().newHandler(ch.alloc()));
                            }
                            pipeline.addLast(new HttpServerCodec());
                            pipeline.addLast(new HttpObjectAggregator(MAX_REQUEST_BYTES));
                            pipeline.addLast(new SimHttpHandler(SimulatedProvider.this));
                        }
                    });
            this.serverChannel = bootstrap.bind(settings.host(), settings.port()).syncUninterruptibly().channel();
            this.port = ((InetSocketAddress) serverChannel.localAddress()).getPort();
        } catch (RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new IllegalStateException("simulated provider could not bind " + settings.host() + ":" + settings.port(), e);
        }
    }

    /** Binds and returns once the server is listening. */
    public static SimulatedProvider start(Settings settings) {
        return new SimulatedProvider(Objects.requireNonNull(settings, "settings"));
    }

    public int port() {
        return port;
    }

    /** The OpenAI-style base URL, with the {@code /v1} prefix, e.g. {@code http://127.0.0.1:43123/v1}. */
    public String baseUrl() {
        return rootUrl() + "/v1";
    }

    /**
     * The URL without the {@code /v1} prefix: what the Anthropic SDKs take as their base URL
     * (they append {@code /v1/messages} themselves).
     */
    public String rootUrl() {
        String host = settings.host().contains(":") ? "[" + settings.host() + "]" : settings.host();
        return (settings.tls() != null ? "https://" : "http://") + host + ":" + port;
    }

    public Settings settings() {
        return settings;
    }

    /** The last 256 requests received, oldest first. */
    public List<RecordedRequest> recentRequests() {
        synchronized (recentRequests) {
            return List.copyOf(recentRequests);
        }
    }

    public long requestsReceived() {
        return requestsReceived.get();
    }

    /** Streams whose connection the client closed before the stream finished. */
    public long streamsCancelledByPeer() {
        return streamsCancelledByPeer.get();
    }

    /**
     * Streams whose writing is paused because their connection stopped taking bytes (backpressure: the reader is not
     * reading): a test waits for this instead of for a counter to look still.
     */
    public long streamsWaitingForReader() {
        return streamsWaitingForReader.get();
    }

    /** Streams accepted and not yet finished, including those still waiting out their first-byte delay. */
    public long openStreams() {
        return openStreams.get();
    }

    /** SSE events handed to the network so far, all streams together: shows a stream's progress, or that it stalled. */
    public long sseEventsWritten() {
        return sseEventsWritten.get();
    }

    @Override
    public void close() {
        serverChannel.close().syncUninterruptibly();
        // No quiet period: tests start and stop many providers.
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    void record(RecordedRequest request) {
        requestsReceived.incrementAndGet();
        synchronized (recentRequests) {
            if (recentRequests.size() == RECENT_REQUESTS_KEPT) {
                recentRequests.removeFirst();
            }
            recentRequests.addLast(request);
        }
    }

    SimIds ids() {
        return ids;
    }

    void streamOpened() {
        openStreams.incrementAndGet();
    }

    void streamWaiting(boolean waiting) {
        streamsWaitingForReader.addAndGet(waiting ? 1 : -1);
    }

    void sseEventWritten() {
        sseEventsWritten.incrementAndGet();
    }

    void streamEnded(boolean cancelledByPeer) {
        openStreams.decrementAndGet();
        if (cancelledByPeer) {
            streamsCancelledByPeer.incrementAndGet();
        }
    }

    /**
     * How the provider listens and behaves by default.
     *
     * @param host              address to bind, e.g. {@code 127.0.0.1}
     * @param port              port to bind; 0 picks a free one
     * @param firstByteDelayMs  wait before the response's first byte (streaming and not)
     * @param interEventDelayMs wait between two consecutive SSE events of a stream
     * @param defaultEvents     content deltas (= output tokens) when the request does not say
     * @param requiredApiKey    the only key accepted; null accepts any non-empty key
     * @param tls               server TLS context; null serves plain HTTP
     * @param ioThreads         event loop threads
     */
    public record Settings(String host, int port, int firstByteDelayMs, int interEventDelayMs, int defaultEvents,
                           String requiredApiKey, SslContext tls, int ioThreads) {

        public Settings {
            Objects.requireNonNull(host, "host");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port out of range: " + port);
            }
            if (firstByteDelayMs < 0 || interEventDelayMs < 0 || defaultEvents < 0) {
                throw new IllegalArgumentException("delays and defaultEvents must not be negative");
            }
            if (ioThreads < 1) {
                throw new IllegalArgumentException("ioThreads must be at least 1: " + ioThreads);
            }
        }

        /** The shape callers know: one event loop thread. */
        public Settings(String host, int port, int firstByteDelayMs, int interEventDelayMs, int defaultEvents,
                        String requiredApiKey, SslContext tls) {
            this(host, port, firstByteDelayMs, interEventDelayMs, defaultEvents, requiredApiKey, tls, 1);
        }

        /** 127.0.0.1, a free port, no delays, 24 events, any key, plain HTTP, one thread. */
        public static Settings defaults() {
            return new Settings("127.0.0.1", 0, 0, 0, 24, null, null, 1);
        }

        public Settings withHost(String host) {
            return new Settings(host, port, firstByteDelayMs, interEventDelayMs, defaultEvents, requiredApiKey, tls, ioThreads);
        }

        public Settings withPort(int port) {
            return new Settings(host, port, firstByteDelayMs, interEventDelayMs, defaultEvents, requiredApiKey, tls, ioThreads);
        }

        public Settings withFirstByteDelayMs(int firstByteDelayMs) {
            return new Settings(host, port, firstByteDelayMs, interEventDelayMs, defaultEvents, requiredApiKey, tls, ioThreads);
        }

        public Settings withInterEventDelayMs(int interEventDelayMs) {
            return new Settings(host, port, firstByteDelayMs, interEventDelayMs, defaultEvents, requiredApiKey, tls, ioThreads);
        }

        public Settings withDefaultEvents(int defaultEvents) {
            return new Settings(host, port, firstByteDelayMs, interEventDelayMs, defaultEvents, requiredApiKey, tls, ioThreads);
        }

        public Settings withRequiredApiKey(String requiredApiKey) {
            return new Settings(host, port, firstByteDelayMs, interEventDelayMs, defaultEvents, requiredApiKey, tls, ioThreads);
        }

        public Settings withTls(SslContext tls) {
            return new Settings(host, port, firstByteDelayMs, interEventDelayMs, defaultEvents, requiredApiKey, tls, ioThreads);
        }

        public Settings withIoThreads(int ioThreads) {
            return new Settings(host, port, firstByteDelayMs, interEventDelayMs, defaultEvents, requiredApiKey, tls, ioThreads);
        }
    }
}
