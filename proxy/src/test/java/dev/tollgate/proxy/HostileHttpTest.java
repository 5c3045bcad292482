package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile HTTP, byte for byte over a raw socket: each request gets a clear 4xx in the provider's error shape,
 * nothing is reserved or charged, and the proxy goes on serving (the next ordinary request succeeds).
 */
class HostileHttpTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String KEY = "%KEY%";
    private static ProxyStack stack;
    private static int cases;

    @BeforeAll
    static void start() throws Exception {
        stack = new ProxyStack(50_000_000, dev.tollgate.config.Limits.defaults(), SimulatedProvider.Settings.defaults());
    }

    @AfterAll
    static void stop() {
        ReliabilityLog.row("hostile-http", "hostile HTTP", "request smuggling (CL+TE, conflicting lengths), obs-fold, oversized "
                        + "headers and bodies, invalid UTF-8, JSON 100,000 deep, bad max_tokens, model not a string, duplicate keys, "
                        + "header injection through forwarded values (bare CR, NUL, encoded CRLF)",
                "a provider-shaped 4xx; nothing reserved or charged; the proxy still serves", cases, 0, ReliabilityLog.proxyTest("HostileHttpTest"));
        stack.close();
    }

    static Stream<Arguments> hostileRequests() {
        String chat = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        String auth = "authorization: Bearer " + KEY + "\r\ncontent-type: application/json\r\n";
        String deep = "{\"model\":\"gpt-4o-mini\",\"messages\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}";
        return Stream.of(
                Arguments.of("content-length and transfer-encoding", post(auth + "content-length: " + chat.length()
                        + "\r\ntransfer-encoding: chunked\r\n", chat), 400),
                Arguments.of("two different content-lengths", post(auth + "content-length: " + chat.length() + "\r\ncontent-length: 5\r\n", chat), 400),
                Arguments.of("obs-fold continuation line", post(auth + "x-folded: a\r\n  b\r\ncontent-length: " + chat.length() + "\r\n", chat), 400),
                Arguments.of("header over the limit", post(auth + "x-big: " + "a".repeat(70_000) + "\r\ncontent-length: " + chat.length() + "\r\n", chat), 431),
                Arguments.of("declared body over the limit", "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n" + auth
                        + "content-length: 999999999999\r\n\r\n", 413),
                Arguments.of("declared body over the limit, expecting 100-continue", "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n" + auth
                        + "expect: 100-continue\r\ncontent-length: 999999999\r\n\r\n", 413),
                Arguments.of("invalid UTF-8", postBytes(auth, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"\u00ff\u00fe\"}]}"), 400),
                Arguments.of("JSON nested 100,000 deep", post(auth + "content-length: " + deep.length() + "\r\n", deep), 400),
                Arguments.of("max_tokens negative", body(auth, "{\"model\":\"gpt-4o-mini\",\"max_tokens\":-5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), 400),
                Arguments.of("max_tokens huge", body(auth, "{\"model\":\"gpt-4o-mini\",\"max_tokens\":1e30,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), 400),
                Arguments.of("max_tokens not a number", body(auth, "{\"model\":\"gpt-4o-mini\",\"max_tokens\":\"12\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), 400),
                Arguments.of("model not a string", body(auth, "{\"model\":[\"gpt-4o-mini\"],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), 400),
                Arguments.of("duplicate model key", body(auth, "{\"model\":\"gpt-4o-mini\",\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), 400),
                Arguments.of("not HTTP at all", "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003garbage\r\n\r\n", 400));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hostileRequests")
    void eachGetsAProviderShaped4xxAndNothingIsReserved(String name, String request, int expectedStatus) throws Exception {
        long available = stack.test.available();
        int outcomesBefore = stack.test.outcomes.size();
        String answer = exchange(request.replace(KEY, stack.test.key));
        cases++;
        assertThat(answer).as(name).startsWith("HTTP/1.1 " + expectedStatus + " ");
        String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
        if (body.contains("\r\n") && !body.startsWith("{")) {
            body = body.substring(body.indexOf("\r\n") + 2); // one chunk
        }
        JsonNode error = JSON.readTree(body.strip());
        assertThat(error.at("/error/message").asText()).as(name + ": a message that says what is wrong").isNotBlank();
        assertThat(error.at("/error/type").asText()).as(name).isNotBlank();
        assertThat(stack.test.reserved()).isZero();
        assertThat(stack.test.available()).as(name + ": nothing charged").isEqualTo(available);
        assertThat(stack.test.outcomes).hasSize(outcomesBefore);
        assertThat(stack.postOpenAi("/v1/chat/completions", "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
                .statusCode()).as("still serving after " + name).isEqualTo(200);
        stack.awaitOutcomes(outcomesBefore + 1);
    }

    /**
     * Client header values are forwarded to the provider (minus credentials and hop-by-hop ones): a value carrying a
     * bare CR, a NUL or an encoded CRLF must never become a header of its own upstream, nor reach the provider raw.
     */
    @ParameterizedTest(name = "forwarded header value with {0}")
    @MethodSource("injections")
    void aForwardedHeaderValueCannotInjectAHeaderUpstream(String name, String header) throws Exception {
        long available = stack.test.available();
        int outcomesBefore = stack.test.outcomes.size();
        long upstreamBefore = stack.sim.requestsReceived();
        String chat = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        String answer = exchange(post("authorization: Bearer " + stack.test.key + "\r\ncontent-type: application/json\r\n" + header
                + "\r\ncontent-length: " + chat.length() + "\r\n", chat));
        cases++;
        if (answer.startsWith("HTTP/1.1 400 ")) {
            assertThat(stack.sim.requestsReceived()).as(name + ": refused, nothing sent upstream").isEqualTo(upstreamBefore);
            assertThat(stack.test.available()).isEqualTo(available);
            assertThat(stack.test.outcomes).hasSize(outcomesBefore);
            return;
        }
        assertThat(answer).as(name).startsWith("HTTP/1.1 200 ");
        stack.awaitOutcomes(outcomesBefore + 1);
        List<dev.tollgate.proxy.sim.RecordedRequest> seen = stack.sim.recentRequests();
        dev.tollgate.proxy.sim.RecordedRequest upstream = seen.get(seen.size() - 1);
        assertThat(upstream.headers()).as(name + ": no header of the client's making upstream").doesNotContainKey("x-injected");
        upstream.headers().forEach((headerName, values) -> assertThat(values).allSatisfy(value ->
                assertThat(value).as(name + ": " + headerName).doesNotContain("\r", "\n", "\u0000")));
        assertThat(answer.toLowerCase(java.util.Locale.ROOT)).as(name + ": nor back to the client").doesNotContain("\r\nx-injected:");
    }

    static Stream<Arguments> injections() {
        return Stream.of(
                Arguments.of("a bare CR", "x-trace: a\rx-injected: cr"),
                Arguments.of("a NUL", "x-trace: a\u0000x-injected: nul"),
                Arguments.of("an encoded CRLF", "x-trace: a%0d%0ax-injected: encoded"),
                Arguments.of("a CR in the name", "x-trace\rx-injected: name"));
    }

    private static String post(String headers, String body) {
        return "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n" + headers + "\r\n" + body;
    }

    private static String body(String auth, String json) {
        return post(auth + "content-length: " + json.getBytes(StandardCharsets.UTF_8).length + "\r\n", json);
    }

    /** A body whose chars U+0080..U+00FF are sent as single raw bytes: invalid UTF-8. */
    private static String postBytes(String auth, String latin1Json) {
        return post(auth + "content-length: " + latin1Json.length() + "\r\n", latin1Json);
    }

    /** Sends the request's chars as ISO-8859-1 bytes (so each char is one byte) and reads until the proxy closes or goes quiet. */
    private static String exchange(String request) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", stack.server.port())) {
            socket.setSoTimeout(3_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[8192];
            try {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    received.write(buffer, 0, n);
                    String text = received.toString(StandardCharsets.UTF_8);
                    int headEnd = text.indexOf("\r\n\r\n");
                    if (headEnd > 0 && complete(text, headEnd)) {
                        break;
                    }
                }
            } catch (SocketTimeoutException | java.net.SocketException end) {
                // kept open or reset after the answer: what arrived is the answer
            }
            return received.toString(StandardCharsets.UTF_8);
        }
    }

    private static boolean complete(String text, int headEnd) {
        String head = text.substring(0, headEnd).toLowerCase(java.util.Locale.ROOT);
        int at = head.indexOf("content-length: ");
        if (at >= 0) {
            int end = head.indexOf("\r\n", at);
            long length = Long.parseLong(head.substring(at + 16, end < 0 ? head.length() : end).strip());
            return text.length() - headEnd - 4 >= length;
        }
        return text.endsWith("0\r\n\r\n");
    }
}
