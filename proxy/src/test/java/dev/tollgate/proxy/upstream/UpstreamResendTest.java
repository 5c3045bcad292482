package dev.tollgate.proxy.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.Limits;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.proxy.Endpoint;
import dev.tollgate.proxy.Outcome;
import dev.tollgate.proxy.TestGateways;
import dev.tollgate.proxy.Transport;
import dev.tollgate.proxy.listener.TollgateServer;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A request that may have reached the provider is never sent again (the provider may have billed it);
 * only a pooled connection found closed before any byte of the request left allows one resend.
 */
class UpstreamResendTest {
    private static final String CHAT = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    private static final String ANSWER = "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":\"stop\"}],"
            + "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}";

    @Test
    void theResendRuleNeedsAReusedConnectionThatRefusedTheWriteBeforeAnyByte() {
        ProviderConfig provider = new ProviderConfig("openai", Protocol.OPENAI, URI.create("http://127.0.0.1:9/v1"), null, null, null);
        EmbeddedChannel first = new EmbeddedChannel();
        UpstreamCall call = UpstreamRequests.call(provider, Endpoint.CHAT_COMPLETIONS, "/v1/chat/completions", new DefaultHttpHeaders(),
                Unpooled.copiedBuffer(CHAT, StandardCharsets.UTF_8));
        call.attach(first, true);
        assertThat(call.mayResendAfterLosing(first)).as("written: the provider may have it").isFalse();
        call.writeFailed(new IOException("Connection reset by peer"));
        assertThat(call.mayResendAfterLosing(first)).as("failed while writing: bytes may have left").isFalse();
        call.writeFailed(new ClosedChannelException());
        assertThat(call.mayResendAfterLosing(first)).as("refused before writing").isTrue();
        assertThat(call.mayResendAfterLosing(new EmbeddedChannel())).as("another connection's loss").isFalse();

        EmbeddedChannel second = new EmbeddedChannel();
        call.attach(second, false);
        call.writeFailed(new ClosedChannelException());
        assertThat(call.mayResendAfterLosing(second)).as("only one resend, and only of a pooled connection").isFalse();

        UpstreamCall fresh = UpstreamRequests.call(provider, Endpoint.CHAT_COMPLETIONS, "/v1/chat/completions", new DefaultHttpHeaders(),
                Unpooled.copiedBuffer(CHAT, StandardCharsets.UTF_8));
        fresh.attach(first, false);
        fresh.writeFailed(new ClosedChannelException());
        assertThat(fresh.mayResendAfterLosing(first)).as("a fresh connection that failed is a failure").isFalse();
        call.dispose();
        fresh.dispose();
    }

    @Test
    void aPooledConnectionLostAfterTheRequestWasWrittenIsNotSentAgain() throws Exception {
        AtomicInteger requestsReceived = new AtomicInteger();
        try (ServerSocket provider = new ServerSocket(0)) {
            Thread server = Thread.ofPlatform().daemon().start(() -> serve(provider, requestsReceived));
            try (TestGateways test = new TestGateways("http://127.0.0.1:" + provider.getLocalPort() + "/v1", 1_000_000, Limits.defaults());
                 TollgateServer tollgate = TollgateServer.start(test.gateway, new ListenerConfig("127.0.0.1", 0), 1, Transport.nio())) {
                HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + tollgate.port() + "/v1/chat/completions"))
                        .header("authorization", "Bearer " + test.key).header("content-type", "application/json")
                        .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(CHAT)).build();
                HttpResponse<String> first = http.send(request, HttpResponse.BodyHandlers.ofString());
                assertThat(first.statusCode()).isEqualTo(200);
                HttpResponse<String> second = http.send(request, HttpResponse.BodyHandlers.ofString());
                assertThat(second.statusCode()).as("the provider read it and hung up: a gateway error, not a second send").isEqualTo(502);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (test.outcomes.size() < 2 && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                assertThat(test.outcomes).extracting(Outcome::status).containsExactly(Outcome.SETTLED, Outcome.RELEASED);
                assertThat(test.reserved()).isZero();
                assertThat(test.conservationError()).isZero();
            }
            server.join(TimeUnit.SECONDS.toMillis(20));
            assertThat(requestsReceived).as("each request reached the provider once").hasValue(2);
        }
    }

    /** Answers the first request on a kept-alive connection, reads the second whole, then closes without answering. */
    private static void serve(ServerSocket provider, AtomicInteger requestsReceived) {
        try (Socket socket = provider.accept()) {
            InputStream in = new BufferedInputStream(socket.getInputStream());
            OutputStream out = socket.getOutputStream();
            readRequest(in);
            requestsReceived.incrementAndGet();
            byte[] body = ANSWER.getBytes(StandardCharsets.UTF_8);
            out.write(("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: " + body.length
                    + "\r\nconnection: keep-alive\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            if (readRequest(in)) {
                requestsReceived.incrementAndGet();
            }
            socket.setSoLinger(true, 0); // a reset: the provider vanished after reading it
            try (Socket resendWouldLandHere = acceptWithin(provider)) {
                if (resendWouldLandHere != null && readRequest(new BufferedInputStream(resendWouldLandHere.getInputStream()))) {
                    requestsReceived.incrementAndGet();
                }
            }
        } catch (IOException e) {
            // the test's assertions say what went wrong
        }
    }

    private static Socket acceptWithin(ServerSocket provider) throws IOException {
        provider.setSoTimeout(2_000); // a resend would come at once; the test asserts there was none
        try {
            return provider.accept();
        } catch (java.net.SocketTimeoutException none) {
            return null;
        }
    }

    /** Reads one request head and its content-length body; false at end of stream. */
    private static boolean readRequest(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        int b;
        while (matched < 4 && (b = in.read()) != -1) {
            head.write(b);
            matched = (b == '\r' && matched % 2 == 0) || (b == '\n' && matched % 2 == 1) ? matched + 1 : 0;
        }
        if (matched < 4) {
            return false;
        }
        int length = 0;
        for (String line : head.toString(StandardCharsets.US_ASCII).split("\r\n")) {
            if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).strip());
            }
        }
        return in.readNBytes(length).length == length;
    }
}
