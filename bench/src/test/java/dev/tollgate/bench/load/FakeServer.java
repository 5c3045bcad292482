package dev.tollgate.bench.load;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A test server on one event loop that serves requests one after another, each taking
 * {@code serviceNs} (on a timer, never a sleep): a server that queues, as a stalled proxy does.
 * It records when each request arrived. {@link Behaviour} makes it answer badly on purpose.
 */
final class FakeServer implements AutoCloseable {

    enum Behaviour { GOOD_JSON, STATUS_500, CUT_JSON, SILENT }

    static final byte[] BODY = "{\"id\":\"x\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}".getBytes(StandardCharsets.US_ASCII);

    private final MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("fake-server", true),
            EpollIoHandler.newFactory());
    private final Channel server;
    private final long serviceNs;
    private final Behaviour behaviour;
    private final List<Long> arrivalsNs = new ArrayList<>();
    private long busyUntilNs;

    FakeServer(long serviceNs, Behaviour behaviour) throws InterruptedException {
        this.serviceNs = serviceNs;
        this.behaviour = behaviour;
        this.server = new ServerBootstrap()
                .group(group)
                .channel(EpollServerSocketChannel.class)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        channel.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 20), new Handler());
                    }
                })
                .bind("127.0.0.1", 0).sync().channel();
    }

    InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    synchronized List<Long> arrivalsNs() {
        return List.copyOf(arrivalsNs);
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private final class Handler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ((FullHttpRequest) msg).release();
            long now = System.nanoTime();
            synchronized (FakeServer.this) {
                arrivalsNs.add(now);
            }
            if (behaviour == Behaviour.SILENT) {
                return;
            }
            // One at a time: this request starts when the previous one is done.
            busyUntilNs = Math.max(now, busyUntilNs) + serviceNs;
            ctx.executor().schedule(() -> respond(ctx), busyUntilNs - now, TimeUnit.NANOSECONDS);
        }

        private void respond(ChannelHandlerContext ctx) {
            switch (behaviour) {
                case GOOD_JSON, STATUS_500 -> {
                    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                            behaviour == Behaviour.GOOD_JSON ? HttpResponseStatus.OK : HttpResponseStatus.INTERNAL_SERVER_ERROR,
                            Unpooled.wrappedBuffer(BODY));
                    response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                            .setInt(HttpHeaderNames.CONTENT_LENGTH, BODY.length);
                    ctx.writeAndFlush(response);
                }
                case CUT_JSON -> {
                    // Chunked, half the body, then the connection closes: a response that never ends.
                    HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                    head.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
                    ctx.write(head);
                    ByteBuf half = Unpooled.wrappedBuffer(BODY, 0, BODY.length / 2);
                    ctx.writeAndFlush(new DefaultHttpContent(half)).addListener(ChannelFutureListener.CLOSE);
                }
                case SILENT -> { }
            }
        }
    }
}
