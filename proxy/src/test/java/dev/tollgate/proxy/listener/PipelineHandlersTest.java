package dev.tollgate.proxy.listener;

import dev.tollgate.proxy.TestGateways;
import dev.tollgate.proxy.Endpoint;
import dev.tollgate.proxy.Headers;
import dev.tollgate.proxy.exchange.Exchange;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.Limits;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Each inbound handler of the client pipeline alone, in an EmbeddedChannel (leak detection is paranoid in tests). */
class PipelineHandlersTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final TestGateways test = new TestGateways("http://127.0.0.1:9/v1", 1_000_000, Limits.defaults());
    private final List<Exchange> forwarded = new ArrayList<>();
    private EmbeddedChannel channel;

    /** Collects what a handler passes on; {@link #noLeaks} completes it so the request is released. */
    private final class Capture extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Exchange exchange = (Exchange) msg;
            forwarded.add(exchange);
        }
    }

    private final List<TestGateways> others = new ArrayList<>();

    private TestGateways closeLater(TestGateways gateways) {
        others.add(gateways);
        return gateways;
    }

    @AfterEach
    void noLeaks() {
        for (Exchange exchange : forwarded) {
            exchange.clientGone(); // releases what it holds and completes, writing nothing
        }
        if (channel != null) {
            assertThat(channel.finishAndReleaseAll()).as("nothing left unread or unreleased").isFalse();
        }
        assertThat(test.conservationError()).isZero();
        test.close();
        others.forEach(TestGateways::close);
    }

    /** Writes a request and lets the journal acknowledge its reservation, after which admission forwards it. */
    private void admit(EmbeddedChannel target, TestGateways gateways, FullHttpRequest request) {
        target.writeInbound(request);
        gateways.runJournalAcknowledgements(target);
    }

    private static FullHttpRequest post(String uri, String body, String... headers) {
        FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, uri,
                Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        request.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        HttpUtil.setContentLength(request, request.content().readableBytes());
        for (int i = 0; i < headers.length; i += 2) {
            request.headers().set(headers[i], headers[i + 1]);
        }
        return request;
    }

    private JsonNode readError(int expectedStatus) throws Exception {
        FullHttpResponse response = channel.readOutbound();
        try {
            assertThat(response.status().code()).isEqualTo(expectedStatus);
            assertThat(response.headers().get(Headers.TOLLGATE_REQUEST_ID)).startsWith("tg_req_");
            return JSON.readTree(response.content().toString(StandardCharsets.UTF_8));
        } finally {
            response.release();
        }
    }

    @Test
    void routerOpensAnExchangeForAKnownEndpoint() {
        channel = new EmbeddedChannel(new SurfaceRouter(test.gateway), new Capture());
        channel.writeInbound(post("/v1/messages?beta=true", "{}"));
        assertThat(forwarded).hasSize(1);
        assertThat(forwarded.get(0).endpoint()).isEqualTo(Endpoint.MESSAGES);
    }

    /** Counts the reads that get past the gate to the socket. */
    private static final class ReadsReachingTheSocket extends io.netty.channel.ChannelOutboundHandlerAdapter {
        int reads;

        @Override
        public void read(ChannelHandlerContext ctx) {
            reads++;
            ctx.read();
        }
    }

    @Test
    void routerHoldsAPipelinedRequestAndStopsReadingUntilTheExchangeInFlightIsOver() {
        ReadsReachingTheSocket socket = new ReadsReachingTheSocket();
        channel = new EmbeddedChannel(socket, new ReadGate(), new SurfaceRouter(test.gateway), new Capture());
        assertThat(channel.config().isAutoRead()).isTrue();
        channel.writeInbound(post("/v1/messages", "{}"));
        channel.writeInbound(post("/v1/chat/completions", "{}"));
        channel.writeInbound(post("/v1/embeddings", "{}"));
        assertThat(forwarded).extracting(Exchange::endpoint).containsExactly(Endpoint.MESSAGES);
        assertThat(channel.config().isAutoRead()).as("no more reading while requests wait").isFalse();
        int readsBefore = socket.reads;
        channel.read(); // as the HTTP decoder and the aggregator do when a read ends inside a message
        channel.read();
        assertThat(socket.reads).as("reads asked for while paused stop at the gate").isEqualTo(readsBefore);

        forwarded.getLast().clientGone();
        assertThat(forwarded).as("the next request waits for a task of its own").hasSize(1);
        channel.runPendingTasks();
        assertThat(forwarded).extracting(Exchange::endpoint).containsExactly(Endpoint.MESSAGES, Endpoint.CHAT_COMPLETIONS);
        assertThat(channel.config().isAutoRead()).isFalse();

        forwarded.getLast().clientGone();
        channel.runPendingTasks();
        assertThat(forwarded).extracting(Exchange::endpoint)
                .containsExactly(Endpoint.MESSAGES, Endpoint.CHAT_COMPLETIONS, Endpoint.EMBEDDINGS);
        assertThat(socket.reads).isEqualTo(readsBefore);
        forwarded.getLast().clientGone();
        assertThat(channel.config().isAutoRead()).as("reading resumes once nothing waits").isTrue();
        assertThat(socket.reads).as("and reads reach the socket again").isGreaterThan(readsBefore);
    }

    @Test
    void routerReleasesPipelinedRequestsWhenTheConnectionCloses() {
        channel = new EmbeddedChannel(new SurfaceRouter(test.gateway), new Capture());
        channel.writeInbound(post("/v1/messages", "{}"));
        FullHttpRequest waiting = post("/v1/chat/completions", "{}");
        channel.writeInbound(waiting);
        channel.close();
        assertThat(waiting.refCnt()).isZero();
    }

    @Test
    void routerAnswersUnknownPathsAndWrongMethodsInTheSurfaceShape() throws Exception {
        channel = new EmbeddedChannel(new SurfaceRouter(test.gateway), new Capture());
        channel.writeInbound(post("/v1/images/generations", "{}"));
        JsonNode openAi = readError(404);
        assertThat(openAi.at("/error/type").asText()).isEqualTo("invalid_request_error");
        assertThat(openAi.at("/error/message").asText()).contains("/v1/images/generations");

        channel.writeInbound(post("/v1/nope", "{}", "anthropic-version", "2023-06-01"));
        JsonNode anthropic = readError(404);
        assertThat(anthropic.get("type").asText()).isEqualTo("error");
        assertThat(anthropic.at("/error/type").asText()).isEqualTo("not_found_error");

        channel.writeInbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/v1/chat/completions"));
        assertThat(readError(405).at("/error/code").asText()).isEqualTo("method_not_allowed");
        assertThat(forwarded).isEmpty();
    }

    @Test
    void authenticatorAcceptsBearerAndXApiKeyAndRejectsOthersWithoutEchoingTheKey() throws Exception {
        channel = new EmbeddedChannel(new SurfaceRouter(test.gateway), new Authenticator(test.gateway), new Capture());
        channel.writeInbound(post("/v1/chat/completions", "{}", "authorization", "Bearer " + test.key));
        forwarded.getLast().clientGone(); // the connection's next request is served once this one is over
        channel.writeInbound(post("/v1/messages", "{}", "x-api-key", test.key));
        forwarded.getLast().clientGone();
        assertThat(forwarded).hasSize(2);
        assertThat(forwarded).allSatisfy(exchange -> assertThat(exchange.key().accountId()).isEqualTo(TestGateways.ACCOUNT));

        String wrongKey = "tg-not-a-real-key-but-long-enough-to-be-secret";
        channel.writeInbound(post("/v1/chat/completions", "{}", "authorization", "Bearer " + wrongKey));
        JsonNode openAi = readError(401);
        assertThat(openAi.at("/error/code").asText()).isEqualTo("invalid_api_key");
        assertThat(openAi.toString()).doesNotContain(wrongKey);

        channel.writeInbound(post("/v1/messages", "{}"));
        JsonNode anthropic = readError(401);
        assertThat(anthropic.at("/error/type").asText()).isEqualTo("authentication_error");
        assertThat(forwarded).hasSize(2);
    }

    @Test
    void admissionReservesTheWorstCaseAndForwardsTheUpstreamRequest() {
        channel = new EmbeddedChannel(new SurfaceRouter(test.gateway), new Authenticator(test.gateway),
                new AdmissionHandler(test.gateway), new Capture());
        String body = "{\"model\":\"gpt-4o-mini\",\"max_tokens\":100,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        admit(channel, test, post("/v1/chat/completions", body, "authorization", "Bearer " + test.key, "openai-organization", "org-x"));
        assertThat(forwarded).hasSize(1);
        Exchange exchange = forwarded.get(0);
        assertThat(exchange.reservation().heldMicros()).isEqualTo(exchange.plan().worstCaseMicros());
        assertThat(test.reserved()).isEqualTo(exchange.plan().worstCaseMicros());
        assertThat(exchange.upstream().headers().get(HttpHeaderNames.AUTHORIZATION)).isEqualTo("Bearer sk-provider-test-key"); // never the client's
        assertThat(exchange.upstream().headers().get("openai-organization")).isNull();
        assertThat(exchange.upstream().body().toString(StandardCharsets.UTF_8)).contains("\"include_usage\":true").contains("\"max_tokens\":100");
        assertThat(exchange.request()).as("the client's request is released once the upstream body exists").isNull();
    }

    @Test
    void admissionRefusesBadInputBeforeReservingAnything() throws Exception {
        channel = new EmbeddedChannel(new SurfaceRouter(test.gateway), new Authenticator(test.gateway),
                new AdmissionHandler(test.gateway), new Capture());
        String auth = "Bearer " + test.key;
        channel.writeInbound(post("/v1/chat/completions", "{not json", "authorization", auth));
        assertThat(readError(400).at("/error/type").asText()).isEqualTo("invalid_request_error");
        channel.writeInbound(post("/v1/chat/completions", "{\"model\":\"gpt-unknown\",\"messages\":[]}", "authorization", auth));
        assertThat(readError(404).at("/error/code").asText()).isEqualTo("model_not_found");
        channel.writeInbound(post("/v1/embeddings", "{\"model\":\"gpt-4o-mini\",\"input\":\"x\"}", "authorization", auth));
        assertThat(readError(404).at("/error/code").asText()).isEqualTo("model_not_supported");
        channel.writeInbound(post("/v1/messages", "{\"model\":\"claude-haiku-4-5\",\"messages\":[]}", "x-api-key", test.key));
        assertThat(readError(400).at("/error/message").asText()).contains("max_tokens");
        assertThat(forwarded).isEmpty();
        assertThat(test.reserved()).isZero();
        assertThat(test.available()).isEqualTo(1_000_000);
    }

    @Test
    void admissionRefusesWhatTheBalanceCannotCoverInEachSurfaceShape() throws Exception {
        TestGateways poor = closeLater(new TestGateways("http://127.0.0.1:9/v1", 1, Limits.defaults()));
        channel = new EmbeddedChannel(new SurfaceRouter(poor.gateway), new Authenticator(poor.gateway),
                new AdmissionHandler(poor.gateway), new Capture());
        channel.writeInbound(post("/v1/chat/completions", "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "authorization", "Bearer " + poor.key));
        FullHttpResponse openAi = channel.readOutbound();
        assertThat(openAi.status().code()).isEqualTo(429);
        assertThat(openAi.headers().get("x-should-retry")).isEqualTo("false");
        assertThat(JSON.readTree(openAi.content().toString(StandardCharsets.UTF_8)).at("/error/code").asText()).isEqualTo("insufficient_quota");
        openAi.release();
        channel.writeInbound(post("/v1/messages", "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[]}", "x-api-key", poor.key));
        JsonNode anthropic = readError(400);
        assertThat(anthropic.at("/error/type").asText()).isEqualTo("invalid_request_error");
        assertThat(anthropic.at("/error/message").asText()).contains("balance is too low");
        assertThat(forwarded).isEmpty();
        assertThat(poor.available()).isEqualTo(1);
    }

    @Test
    void admissionLowersTheOutputCapToWhatThePartialReservationAffords() {
        // gpt-4o-mini: $0.15 in / $0.60 out per million. Affords the prompt bound and ~1,000 output tokens, not 16,384.
        TestGateways tight = closeLater(new TestGateways("http://127.0.0.1:9/v1", 700, Limits.defaults()));
        channel = new EmbeddedChannel(new SurfaceRouter(tight.gateway), new Authenticator(tight.gateway),
                new AdmissionHandler(tight.gateway), new Capture());
        admit(channel, tight, post("/v1/chat/completions", "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "authorization", "Bearer " + tight.key));
        assertThat(forwarded).hasSize(1);
        Exchange exchange = forwarded.get(0);
        assertThat(exchange.reservation().heldMicros()).isEqualTo(700);
        long promptWorst = exchange.plan().promptWorstMicros();
        long expectedCap = (700 - promptWorst) * 1_000_000 / 600_000;
        assertThat(exchange.upstream().body().toString(StandardCharsets.UTF_8)).contains("\"max_completion_tokens\":" + expectedCap);
        assertThat(tight.available()).isZero();
    }

    @Test
    void bodyLimitAnswers413InTheSurfaceShapeAndCloses() throws Exception {
        channel = new EmbeddedChannel(new BodyLimitAggregator(1024), new SurfaceRouter(test.gateway), new Capture());
        HttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/v1/messages");
        HttpUtil.setContentLength(head, 4096);
        channel.writeInbound(head); // a declared length over the limit is refused before its body is read
        JsonNode anthropic = readError(413);
        assertThat(anthropic.at("/error/type").asText()).isEqualTo("request_too_large");
        assertThat(channel.isOpen()).isFalse();
        assertThat(forwarded).isEmpty();
    }

    @Test
    void headersNeverForwardClientCredentialsOrHopByHopHeaders() {
        io.netty.handler.codec.http.HttpHeaders from = new io.netty.handler.codec.http.DefaultHttpHeaders()
                .add("Authorization", "Bearer tg-secret").add("x-api-key", "tg-secret").add("Cookie", "a=b")
                .add("Connection", "keep-alive, x-custom-hop").add("x-custom-hop", "1").add("Transfer-Encoding", "chunked")
                .add("anthropic-version", "2023-06-01").add("anthropic-beta", "tools").add("User-Agent", "sdk/1")
                .add("OpenAI-Organization", "org-1").add("Accept-Encoding", "gzip");
        io.netty.handler.codec.http.HttpHeaders to = new io.netty.handler.codec.http.DefaultHttpHeaders();
        Headers.copyRequestHeaders(from, to);
        assertThat(to.names()).containsExactlyInAnyOrder("anthropic-version", "anthropic-beta", "user-agent");
    }
}
