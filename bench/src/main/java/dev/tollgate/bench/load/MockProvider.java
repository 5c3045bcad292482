package dev.tollgate.bench.load;

import dev.tollgate.bench.load.MockResponses.Dialect;
import dev.tollgate.bench.load.MockResponses.Prepared;
import dev.tollgate.bench.load.MockResponses.Shape;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The load harness's upstream: an epoll HTTP/1.1 server that answers {@code POST /v1/chat/completions}
 * (OpenAI) and {@code POST /v1/messages} (Anthropic), streaming or not, with pre-serialized bodies
 * ({@link MockResponses}) and usage in the real fields. It runs in its own process so its CPU is
 * never counted against the proxy under test.
 *
 * <p>Per request it reads only the path, the key header and a few body fields by byte scan
 * ({@code stream}, {@code stream_options.include_usage}, {@code model}, {@code max_tokens} /
 * {@code max_completion_tokens}) and the directives {@code [sim:events=N]}, {@code [sim:delay-ms=N]}
 * and {@code [sim:first-byte-ms=N]}, as the simulated provider understands them.
 * Each stream event is flushed on its own, as a real provider's tokens leave one by one; between
 * events it waits {@code delay-ms} on a timer of the event loop, never a sleep.
 */
public final class MockProvider implements AutoCloseable {

    private static final int MAX_REQUEST_BYTES = 1 << 20;
    private static final int MAX_MODEL_BYTES = 200;
    /** With no delay, give the event loop back after this many events so a long stream cannot starve others. */
    private static final int EVENTS_PER_TURN = 64;

    /**
     * @param requiredKey    the only provider key accepted (as {@code Authorization: Bearer} or {@code x-api-key})
     * @param defaultEvents  output tokens (content events) when the request has no {@code [sim:events=N]}
     * @param defaultDelayMs pause between stream events when the request has no {@code [sim:delay-ms=N]}
     */
    public record Settings(String host, int port, int threads, String requiredKey, int defaultEvents, int defaultDelayMs) {
        public Settings {
            Objects.requireNonNull(host, "host");
            Objects.requireNonNull(requiredKey, "requiredKey");
            if (threads < 1 || defaultEvents < 0 || defaultDelayMs < 0) {
                throw new IllegalArgumentException("threads must be at least 1, events and delay not negative");
            }
        }
    }

    private final Settings settings;
    private final MultiThreadIoEventLoopGroup group;
    private final Channel serverChannel;
    private final MockResponses responses = new MockResponses();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong openStreams = new AtomicLong();
    private final AtomicLong responseIds = new AtomicLong();

    private MockProvider(Settings settings) throws InterruptedException {
        if (!Epoll.isAvailable()) {
            throw new IllegalStateException("the mock provider needs native epoll", Epoll.unavailabilityCause());
        }
        this.settings = settings;
        this.group = new MultiThreadIoEventLoopGroup(settings.threads(), new DefaultThreadFactory("mock-io", true),
                EpollIoHandler.newFactory());
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(EpollServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 16384)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        channel.pipeline()
                                .addLast("http-codec", new HttpServerCodec())
                                .addLast("aggregate", new HttpObjectAggregator(MAX_REQUEST_BYTES))
                                .addLast("answer", new Answerer());
                    }
                });
        try {
            this.serverChannel = bootstrap.bind(settings.host(), settings.port()).sync().channel();
        } catch (RuntimeException | InterruptedException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
    }

    public static MockProvider start(Settings settings) throws InterruptedException {
        return new MockProvider(settings);
    }

    public int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    public long requests() {
        return requests.get();
    }

    public long openStreams() {
        return openStreams.get();
    }

    @Override
    public void close() {
        serverChannel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** One per connection: answers one request at a time, as HTTP/1.1 without pipelining support needs. */
    private final class Answerer extends ChannelInboundHandlerAdapter {
        private final ArrayDeque<FullHttpRequest> waiting = new ArrayDeque<>();
        private Stream stream;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof FullHttpRequest request)) {
                // Released: the aggregator passes only whole requests, anything else is noise.
                ReferenceCountUtil.release(msg);
                return;
            }
            if (stream != null) {
                // Kept (released when served or when the connection closes): a pipelined request waits its turn.
                waiting.add(request);
                return;
            }
            try {
                answer(ctx, request);
            } finally {
                request.release();
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (stream != null && stream.awaitingWritability && ctx.channel().isWritable()) {
                stream.awaitingWritability = false;
                stream.pump();
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (stream != null) {
                stream.end();
            }
            while (!waiting.isEmpty()) {
                waiting.poll().release();
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // Peers resetting connections under load; a mock has no one to tell.
            ctx.close();
        }

        private void streamDone(ChannelHandlerContext ctx) {
            stream = null;
            while (stream == null && !waiting.isEmpty() && ctx.channel().isActive()) {
                FullHttpRequest next = waiting.poll();
                try {
                    answer(ctx, next);
                } finally {
                    next.release();
                }
            }
        }

        private void answer(ChannelHandlerContext ctx, FullHttpRequest request) {
            requests.incrementAndGet();
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            String uri = request.uri();
            int query = uri.indexOf('?');
            String path = query < 0 ? uri : uri.substring(0, query);
            Dialect dialect = switch (path) {
                case "/v1/chat/completions" -> Dialect.OPENAI;
                case "/v1/messages" -> Dialect.ANTHROPIC;
                default -> null;
            };
            if (dialect == null || !request.method().equals(HttpMethod.POST) || !request.decoderResult().isSuccess()) {
                error(ctx, HttpResponseStatus.NOT_FOUND, "no such endpoint on the mock: " + request.method() + " " + path, keepAlive);
                return;
            }
            String bearer = request.headers().get(HttpHeaderNames.AUTHORIZATION);
            String xApiKey = request.headers().get("x-api-key");
            boolean keyOk = (bearer != null && bearer.length() == settings.requiredKey().length() + 7
                    && bearer.startsWith("Bearer ") && bearer.endsWith(settings.requiredKey()))
                    || settings.requiredKey().equals(xApiKey);
            if (!keyOk) {
                error(ctx, HttpResponseStatus.UNAUTHORIZED, "wrong provider key", keepAlive);
                return;
            }
            ByteBuf body = request.content();
            String model = BodyScan.stringField(body, "model", MAX_MODEL_BYTES);
            if (model == null) {
                error(ctx, HttpResponseStatus.BAD_REQUEST, "model is required", keepAlive);
                return;
            }
            int events = BodyScan.directive(body, "[sim:events=");
            if (events == BodyScan.ABSENT) {
                events = settings.defaultEvents();
            }
            int cap = BodyScan.intField(body, "max_completion_tokens");
            if (cap == BodyScan.ABSENT) {
                cap = BodyScan.intField(body, "max_tokens");
            }
            boolean truncated = cap != BodyScan.ABSENT && cap < events;
            int outputTokens = truncated ? cap : events;
            // A rough prompt size (a token is about 4 bytes of English); what matters is that it is
            // deterministic and below the prompt bound a metering proxy reserves (body bytes + 64).
            int promptTokens = Math.max(1, body.readableBytes() / 4);
            boolean streaming = BodyScan.booleanField(body, "stream");
            boolean includeUsage = streaming && dialect == Dialect.OPENAI && BodyScan.booleanField(body, "include_usage");
            Prepared prepared = responses.get(new Shape(dialect, model, outputTokens, truncated, promptTokens, streaming, includeUsage));
            String requestId = "req_mock_" + responseIds.incrementAndGet();
            if (!streaming) {
                FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                        Unpooled.wrappedBuffer(prepared.body()));
                response.headers()
                        .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                        .setInt(HttpHeaderNames.CONTENT_LENGTH, prepared.body().length)
                        .set(dialect == Dialect.OPENAI ? "x-request-id" : "request-id", requestId);
                send(ctx, response, keepAlive);
                return;
            }
            int delayMs = BodyScan.directive(body, "[sim:delay-ms=");
            int firstByteMs = BodyScan.directive(body, "[sim:first-byte-ms=");
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            head.headers()
                    .set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8")
                    .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_CACHE)
                    .set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED)
                    .set(dialect == Dialect.OPENAI ? "x-request-id" : "request-id", requestId);
            if (!keepAlive) {
                head.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            }
            stream = new Stream(ctx, prepared.events(), delayMs == BodyScan.ABSENT ? settings.defaultDelayMs() : delayMs, keepAlive);
            stream.start(head, firstByteMs == BodyScan.ABSENT ? 0 : firstByteMs);
        }

        private void error(ChannelHandlerContext ctx, HttpResponseStatus status, String message, boolean keepAlive) {
            byte[] body = ("{\"error\":{\"message\":\"" + message.replace("\"", "'") + "\",\"type\":\"invalid_request_error\"}}")
                    .getBytes(StandardCharsets.UTF_8);
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
            response.headers()
                    .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
            send(ctx, response, keepAlive);
        }

        private static void send(ChannelHandlerContext ctx, FullHttpResponse response, boolean keepAlive) {
            if (keepAlive) {
                ctx.writeAndFlush(response, ctx.voidPromise());
            } else {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            }
        }

        /** One stream's events, written on the connection's event loop. */
        private final class Stream {
            private final ChannelHandlerContext ctx;
            private final byte[][] events;
            private final int delayMs;
            private final boolean keepAlive;
            private int next;
            private boolean ended;
            private boolean awaitingWritability;
            private ScheduledFuture<?> timer;

            Stream(ChannelHandlerContext ctx, byte[][] events, int delayMs, boolean keepAlive) {
                this.ctx = ctx;
                this.events = events;
                this.delayMs = delayMs;
                this.keepAlive = keepAlive;
            }

            void start(HttpResponse head, int firstByteMs) {
                openStreams.incrementAndGet();
                // Not flushed alone: the head leaves with the first event.
                ctx.write(head, ctx.voidPromise());
                if (firstByteMs > 0) {
                    ctx.flush();
                    timer = ctx.executor().schedule(this::pump, firstByteMs, TimeUnit.MILLISECONDS);
                } else {
                    pump();
                }
            }

            void pump() {
                timer = null;
                int written = 0;
                while (!ended) {
                    if (!ctx.channel().isActive()) {
                        end();
                        return;
                    }
                    if (next == events.length) {
                        finish();
                        return;
                    }
                    if (!ctx.channel().isWritable()) {
                        // Backpressure: channelWritabilityChanged resumes.
                        awaitingWritability = true;
                        ctx.flush();
                        return;
                    }
                    ctx.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(events[next++])), ctx.voidPromise());
                    if (delayMs > 0 && next < events.length) {
                        timer = ctx.executor().schedule(this::pump, delayMs, TimeUnit.MILLISECONDS);
                        return;
                    }
                    if (++written == EVENTS_PER_TURN) {
                        ctx.executor().execute(this::pump);
                        return;
                    }
                }
            }

            private void finish() {
                if (keepAlive) {
                    ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT, ctx.voidPromise());
                } else {
                    ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(ChannelFutureListener.CLOSE);
                }
                end();
            }

            void end() {
                if (ended) {
                    return;
                }
                ended = true;
                if (timer != null) {
                    timer.cancel(false);
                    timer = null;
                }
                openStreams.decrementAndGet();
                streamDone(ctx);
            }
        }
    }
}
