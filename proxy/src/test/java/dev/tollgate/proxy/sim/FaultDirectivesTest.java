package dev.tollgate.proxy.sim;

import static dev.tollgate.proxy.sim.SimTestSupport.await;
import static dev.tollgate.proxy.sim.SimTestSupport.chat;
import static dev.tollgate.proxy.sim.SimTestSupport.messages;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The wire faults of {@link WireFaults} as a client of the simulator sees them: each one does on the wire
 * exactly what its directive says, so the fault tests through Tollgate inject what they claim to inject.
 */
class FaultDirectivesTest {

    private static final Map<String, String> OPENAI_AUTH = Map.of("Authorization", "Bearer k");
    private static final Map<String, String> ANTHROPIC_AUTH = Map.of("x-api-key", "k", "anthropic-version", "2023-06-01");
    /** Long enough for an answer that was going to come to come; the hang checks wait this long for nothing. */
    private static final int QUIET_MS = 300;

    private static SimulatedProvider sim;

    @BeforeAll
    static void start() {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
    }

    @AfterAll
    static void stop() {
        sim.close();
    }

    private static String chatStream(String prompt) {
        return chat("gpt-4o-mini", prompt).put("stream", true).toString();
    }

    @Test
    void hangBeforeHeadReadsTheRequestAndNeverAnswers() throws IOException {
        long received = sim.requestsReceived();
        try (RawHttp http = new RawHttp(sim.port())) {
            http.sendPost("/v1/chat/completions", OPENAI_AUTH, chatStream("[sim:events=3] [sim:hang=before-head]"));
            await("the request to arrive", () -> sim.requestsReceived() == received + 1);
            http.socket().setSoTimeout(QUIET_MS);
            assertThatThrownBy(http::readHead).isInstanceOf(SocketTimeoutException.class);
        }
        try (RawHttp http = new RawHttp(sim.port())) {
            http.sendPost("/v1/chat/completions", OPENAI_AUTH, chat("gpt-4o-mini", "[sim:hang=before-head]").toString());
            await("the request to arrive", () -> sim.requestsReceived() == received + 2);
            http.socket().setSoTimeout(QUIET_MS);
            assertThatThrownBy(http::readHead).as("a JSON answer hangs too").isInstanceOf(SocketTimeoutException.class);
        }
    }

    @Test
    void hangAfterStopsWritingButKeepsTheConnectionOpenUntilThePeerLeaves() throws IOException {
        long cancelled = sim.streamsCancelledByPeer();
        try (RawHttp http = new RawHttp(sim.port())) {
            http.sendPost("/v1/chat/completions", OPENAI_AUTH, chatStream("[sim:events=10] [sim:hang-after=2]"));
            assertThat(http.readHead().status()).isEqualTo(200);
            List<String> chunks = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                chunks.add(http.readChunk());
            }
            assertThat(chunks.get(1)).contains("\"content\":\"");
            assertThat(chunks.get(2)).contains("\"content\":\"");
            http.socket().setSoTimeout(QUIET_MS);
            assertThatThrownBy(http::readChunk).as("nothing after the second delta").isInstanceOf(SocketTimeoutException.class);
            assertThat(sim.openStreams()).isEqualTo(1);
        }
        await("the hung stream to end when its peer left", () -> sim.openStreams() == 0);
        assertThat(sim.streamsCancelledByPeer()).isEqualTo(cancelled + 1);
    }

    @Test
    void resetAfterEndsTheConnectionWithAResetNotAFinish() throws IOException {
        try (RawHttp http = new RawHttp(sim.port())) {
            http.sendPost("/v1/chat/completions", OPENAI_AUTH, chatStream("[sim:events=10] [sim:reset-after=2]"));
            assertThatThrownBy(() -> {
                http.readHead();
                while (http.readChunk() != null) {
                    // read until the reset
                }
            }).isInstanceOf(SocketException.class).hasMessageContaining("reset");
            assertThat(http.sawLastChunk()).isFalse();
        }
        try (RawHttp http = new RawHttp(sim.port())) {
            http.sendPost("/v1/messages", ANTHROPIC_AUTH, messages("claude-haiku-4-5", "[sim:reset-after=0]", 64).toString());
            assertThatThrownBy(http::readHead).as("a JSON answer is replaced by the reset")
                    .isInstanceOf(SocketException.class).hasMessageContaining("reset");
        }
    }

    @Test
    void truncateEventCutsTheNthEventInHalfAndCloses() throws IOException {
        try (RawHttp http = new RawHttp(sim.port())) {
            // Events: role chunk (1), deltas (2..6), finish chunk (7), [DONE] (8).
            http.sendPost("/v1/chat/completions", OPENAI_AUTH, chatStream("[sim:events=5] [sim:truncate-event=4]"));
            RawHttp.Response response = http.readChunked();
            assertThat(response.terminated()).isFalse();
            assertThat(response.chunks()).hasSize(4);
            assertThat(response.chunks().subList(0, 3)).allSatisfy(chunk -> assertThat(chunk).endsWith("\n\n"));
            String cut = response.chunks().get(3);
            assertThat(cut).startsWith("data: {").doesNotContain("\n\n");
        }
    }

    @Test
    void malformedEventLosesItsClosingBraceAndTheStreamGoesOn() throws IOException {
        try (RawHttp http = new RawHttp(sim.port())) {
            http.sendPost("/v1/messages", ANTHROPIC_AUTH,
                    messages("claude-haiku-4-5", "[sim:events=3] [sim:malformed-event=4]", 64).put("stream", true).toString());
            RawHttp.Response response = http.readChunked();
            assertThat(response.terminated()).isTrue();
            List<SimTestSupport.SseEvent> events = SimTestSupport.parseSse(response.body());
            // message_start, content_block_start, ping, delta (4: malformed), delta, delta, block stop, message_delta, message_stop.
            assertThat(events).hasSize(9);
            for (int i = 0; i < events.size(); i++) {
                String data = events.get(i).data();
                if (i == 3) {
                    assertThat(data).as("event 4").startsWith("{\"type\":\"content_block_delta\"");
                    assertThatThrownBy(() -> SimTestSupport.JSON.readTree(data)).as("event 4 does not parse").isInstanceOf(IOException.class);
                    assertThat(SimTestSupport.JSON.readTree(data + "}").path("delta").path("type").asText())
                            .as("only the closing brace is gone").isEqualTo("text_delta");
                } else {
                    assertThat(SimTestSupport.JSON.readTree(data).isObject()).as("event " + (i + 1)).isTrue();
                }
            }
        }
    }

    @Test
    void errorBodyIsATwoHundredCarryingTheProvidersErrorObject() throws IOException {
        try (RawHttp http = new RawHttp(sim.port())) {
            http.sendPost("/v1/chat/completions", OPENAI_AUTH, chatStream("[sim:events=3] [sim:error-body]"));
            RawHttp.Response head = http.readHead();
            assertThat(head.status()).isEqualTo(200);
            assertThat(head.headers().get("content-type")).startsWith("application/json");
            JsonNode body = SimTestSupport.JSON.readTree(http.readBody(Integer.parseInt(head.headers().get("content-length"))));
            assertThat(body.path("error").path("type").asText()).isEqualTo("server_error");
            assertThat(body.has("usage")).isFalse();
        }
        try (RawHttp http = new RawHttp(sim.port())) {
            http.sendPost("/v1/messages", ANTHROPIC_AUTH, messages("claude-haiku-4-5", "[sim:error-body]", 64).toString());
            RawHttp.Response head = http.readHead();
            assertThat(head.status()).isEqualTo(200);
            JsonNode body = SimTestSupport.JSON.readTree(http.readBody(Integer.parseInt(head.headers().get("content-length"))));
            assertThat(body.path("type").asText()).isEqualTo("error");
            assertThat(body.path("error").path("type").asText()).isEqualTo("api_error");
        }
    }

    @Test
    void requestIdFaultsPutHostileOrLongBytesInTheHeader() throws IOException {
        byte[] hostile = requestIdHeaderBytes("/v1/chat/completions", OPENAI_AUTH, "x-request-id",
                chat("gpt-4o-mini", "[sim:request-id=hostile]").toString());
        byte[] eAcute = "\u00e9".getBytes(StandardCharsets.UTF_8);
        assertThat(new String(hostile, 0, 4, StandardCharsets.US_ASCII)).isEqualTo("req_");
        assertThat(hostile.length).as("129 two-byte characters: 258 bytes of them, past the journal's 256").isGreaterThan(4 + 258);
        for (int i = 0; i < 129; i++) {
            assertThat(Arrays.copyOfRange(hostile, 4 + 2 * i, 6 + 2 * i)).isEqualTo(eAcute);
        }
        assertThat(Arrays.copyOfRange(hostile, 4 + 258, hostile.length)).as("not UTF-8, quote, backslash")
                .containsExactly(0xff, 0xfe, 0x80, '"', '\\', '<', '%');
        byte[] invalid = requestIdHeaderBytes("/v1/chat/completions", OPENAI_AUTH, "x-request-id",
                chat("gpt-4o-mini", "[sim:request-id=invalid]").toString());
        assertThat(Arrays.copyOfRange(invalid, 0, 6)).as("control bytes HTTP forbids").containsExactly('r', 'e', 'q', '_', 0x01, 0x7f);

        byte[] longId = requestIdHeaderBytes("/v1/messages", ANTHROPIC_AUTH, "request-id",
                messages("claude-haiku-4-5", "[sim:request-id=long]", 64).toString());
        assertThat(new String(longId, StandardCharsets.UTF_8)).isEqualTo("req_" + "\u00e9".repeat(2_000));
    }

    @Test
    void usageMissingDropsTheOutputCountAndRepeatedWritesItTwice() throws IOException {
        JsonNode missing = SimTestSupport.parse(SimTestSupport.send(SimTestSupport.openAi(sim, "/chat/completions",
                chat("gpt-4o-mini", "[sim:events=7] [sim:usage=missing]"))).body());
        assertThat(missing.path("usage").has("prompt_tokens")).isTrue();
        assertThat(missing.path("usage").has("completion_tokens")).isFalse();

        String repeated = SimTestSupport.send(SimTestSupport.anthropic(sim, "/messages",
                messages("claude-haiku-4-5", "[sim:events=7] [sim:usage=repeated]", 64))).body();
        assertThat(repeated).contains("\"output_tokens\":7,\"output_tokens\":7");
    }

    /** Sends one request and returns the raw bytes of one response header's value, as they came off the wire. */
    private static byte[] requestIdHeaderBytes(String path, Map<String, String> auth, String header, String body) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", sim.port())) {
            socket.setSoTimeout(20_000);
            StringBuilder head = new StringBuilder("POST ").append(path).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
            auth.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            head.append("Content-Type: application/json\r\nContent-Length: ").append(bytes.length).append("\r\n\r\n");
            OutputStream out = socket.getOutputStream();
            out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
            out.write(bytes);
            out.flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            byte[] prefix = (header + ": ").getBytes(StandardCharsets.US_ASCII);
            int b;
            while ((b = in.read()) != -1) {
                if (b != '\n') {
                    line.write(b);
                    continue;
                }
                byte[] raw = line.toByteArray();
                line.reset();
                int length = raw.length > 0 && raw[raw.length - 1] == '\r' ? raw.length - 1 : raw.length;
                if (length == 0) {
                    break;
                }
                if (length >= prefix.length && new String(raw, 0, prefix.length, StandardCharsets.ISO_8859_1)
                        .equalsIgnoreCase(new String(prefix, StandardCharsets.ISO_8859_1))) {
                    return Arrays.copyOfRange(raw, prefix.length, length);
                }
            }
            throw new AssertionError("no " + header + " header in the response head");
        }
    }
}
