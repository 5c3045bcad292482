package dev.tollgate.proxy.exchange;

import dev.tollgate.proxy.TestGateways;
import dev.tollgate.proxy.listener.AdmissionHandler;
import dev.tollgate.proxy.listener.Authenticator;
import dev.tollgate.proxy.listener.SurfaceRouter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * An exchange admitted by the real listener handlers on an EmbeddedChannel, driven by hand-made upstream
 * responses: the exchange's state machine and relays alone, without sockets.
 */
final class ExchangeHarness {
    /** An upstream side that sends nothing: the test plays the provider by calling {@link Exchange#onUpstream}. */
    static final Exchange.UpstreamLink NO_UPSTREAM = new Exchange.UpstreamLink() {
        @Override
        public void send(Exchange exchange) {
        }

        @Override
        public void done(Exchange exchange, Channel channel, boolean reusable) {
            channel.close();
        }
    };

    private ExchangeHarness() {
    }

    /** Admits {@code body} on {@code path} and forwards it to nobody; null if admission answered it. */
    static Exchange admitted(TestGateways test, EmbeddedChannel channel, String path, String body, String... headers) {
        Exchange[] captured = new Exchange[1];
        channel.pipeline().addLast(new SurfaceRouter(test.gateway), new Authenticator(test.gateway), new AdmissionHandler(test.gateway),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        captured[0] = (Exchange) msg;
                        captured[0].forward(NO_UPSTREAM);
                    }
                });
        FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, path,
                Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        request.headers().set(HttpHeaderNames.AUTHORIZATION, "Bearer " + test.key);
        for (int i = 0; i + 1 < headers.length; i += 2) {
            request.headers().set(headers[i], headers[i + 1]);
        }
        HttpUtil.setContentLength(request, request.content().readableBytes());
        channel.writeInbound(request);
        test.runJournalAcknowledgements(channel);
        return captured[0];
    }

    static HttpResponse head(String contentType, String... headers) {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        HttpUtil.setTransferEncodingChunked(head, true);
        for (int i = 0; i + 1 < headers.length; i += 2) {
            head.headers().set(headers[i], headers[i + 1]);
        }
        return head;
    }

    static HttpObject content(String text) {
        return new DefaultHttpContent(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
    }

    static HttpObject last() {
        return new DefaultLastHttpContent();
    }

    /** What the client received. */
    record Received(HttpResponse head, String body, boolean ended) {
    }

    static Received received(EmbeddedChannel channel) {
        HttpResponse head = null;
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        boolean ended = false;
        Object message;
        while ((message = channel.readOutbound()) != null) {
            if (message instanceof HttpResponse response) {
                head = response;
            }
            if (message instanceof HttpContent content) {
                ByteBuf bytes = content.content();
                byte[] copy = new byte[bytes.readableBytes()];
                bytes.getBytes(bytes.readerIndex(), copy);
                body.writeBytes(copy);
                ended |= message instanceof LastHttpContent;
                content.release();
            } else if (message instanceof ByteBuf bytes) {
                bytes.release();
            }
        }
        return new Received(head, body.toString(StandardCharsets.UTF_8), ended);
    }
}
