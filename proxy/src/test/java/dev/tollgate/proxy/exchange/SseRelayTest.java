package dev.tollgate.proxy.exchange;

import dev.tollgate.proxy.TestGateways;
import dev.tollgate.proxy.listener.SurfaceRouter;
import dev.tollgate.proxy.listener.Authenticator;
import dev.tollgate.proxy.listener.AdmissionHandler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.Limits;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
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
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The SSE relay alone: an admitted exchange on an EmbeddedChannel is fed a recorded upstream stream
 * split at random byte boundaries, and what reaches the client is checked event for event.
 */
class SseRelayTest {
    private static final String CHUNK = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\","
            + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},\"finish_reason\":null}],\"usage\":null}%s%s";
    private static final String USAGE = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\","
            + "\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":%d,\"total_tokens\":%d}}%s%s";

    private final TestGateways test = new TestGateways("http://127.0.0.1:9/v1", 1_000_000, Limits.defaults());

    private Exchange admittedExchange(EmbeddedChannel channel, String body) {
        Exchange[] captured = new Exchange[1];
        channel.pipeline().addLast(new SurfaceRouter(test.gateway), new Authenticator(test.gateway), new AdmissionHandler(test.gateway),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        captured[0] = (Exchange) msg;
                        captured[0].forward(ExchangeHarness.NO_UPSTREAM);
                    }
                });
        FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/v1/chat/completions",
                Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        request.headers().set(HttpHeaderNames.AUTHORIZATION, "Bearer " + test.key);
        HttpUtil.setContentLength(request, request.content().readableBytes());
        channel.writeInbound(request);
        test.runJournalAcknowledgements(channel);
        return captured[0];
    }

    /** A recorded stream of {@code words} content events, with the usage chunk, in the given line ending. */
    private static String upstreamStream(String[] words, String newline) {
        StringBuilder stream = new StringBuilder();
        for (String word : words) {
            stream.append(String.format(CHUNK, word, newline, newline));
        }
        stream.append(String.format(USAGE, words.length, words.length + 11, newline, newline));
        stream.append("data: [DONE]").append(newline).append(newline);
        return stream.toString();
    }

    private String relay(Exchange exchange, EmbeddedChannel channel, byte[] upstream, SplittableRandom random) {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        HttpUtil.setTransferEncodingChunked(head, true);
        exchange.onUpstream(head);
        int position = 0;
        while (position < upstream.length) {
            int length = Math.min(upstream.length - position, 1 + random.nextInt(40));
            exchange.onUpstream(new DefaultHttpContent(Unpooled.copiedBuffer(upstream, position, length)));
            position += length;
        }
        exchange.onUpstream(new DefaultLastHttpContent());
        test.runJournalAcknowledgements(channel); // the terminal event and the end wait for the debit's record
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        HttpResponse clientHead = channel.readOutbound();
        assertThat(clientHead.status().code()).isEqualTo(200);
        assertThat(HttpUtil.isTransferEncodingChunked(clientHead)).isTrue();
        Object message;
        boolean ended = false;
        while ((message = channel.readOutbound()) != null) {
            if (message instanceof HttpContent content) {
                ByteBuf bytes = content.content();
                byte[] copy = new byte[bytes.readableBytes()];
                bytes.getBytes(bytes.readerIndex(), copy);
                received.writeBytes(copy);
                ended |= message instanceof LastHttpContent;
                content.release();
            }
        }
        assertThat(ended).isTrue();
        return received.toString(StandardCharsets.UTF_8);
    }

    @Test
    void forwardsEveryEventIntactAtAnySplitAndHidesTheUsageChunkItAskedFor() {
        long seed = Long.getLong("tollgate.seed", 20261127L);
        System.out.println("SseRelayTest seed=" + seed);
        SplittableRandom random = new SplittableRandom(seed);
        String[] words = {" alpha", " beta", " gamma", " delta", " river", " stone"};
        for (String newline : new String[] {"\n", "\r\n", "\r"}) {
            for (int round = 0; round < 50; round++) {
                EmbeddedChannel channel = new EmbeddedChannel();
                Exchange exchange = admittedExchange(channel,
                        "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
                String upstream = upstreamStream(words, newline);
                String received = relay(exchange, channel, upstream.getBytes(StandardCharsets.UTF_8), random);
                String usageEvent = String.format(USAGE, words.length, words.length + 11, newline, newline);
                assertThat(received).isEqualTo(upstream.replace(usageEvent, ""));
                assertThat(channel.finishAndReleaseAll()).isFalse();
            }
        }
        assertThat(test.outcomes).hasSize(150).allSatisfy(outcome -> {
            assertThat(outcome.usageReportedByProvider()).isTrue();
            assertThat(outcome.usage().outputTokens()).isEqualTo(words.length);
            assertThat(outcome.usage().inputTokens()).isEqualTo(11);
        });
        assertThat(test.reserved()).isZero();
        assertThat(test.conservationError()).isZero();
        assertThat(test.replayJournal().account(TestGateways.ACCOUNT).availableMicros()).as("the journal agrees").isEqualTo(test.available());
    }

    @org.junit.jupiter.api.AfterEach
    void closeJournal() {
        test.close();
    }

    @Test
    void keepsTheUsageChunkForAClientThatAskedForIt() {
        EmbeddedChannel channel = new EmbeddedChannel();
        Exchange exchange = admittedExchange(channel, "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        String upstream = upstreamStream(new String[] {" alpha"}, "\n");
        assertThat(relay(exchange, channel, upstream.getBytes(StandardCharsets.UTF_8), new SplittableRandom(1))).isEqualTo(upstream);
        assertThat(channel.finishAndReleaseAll()).isFalse();
    }
}
