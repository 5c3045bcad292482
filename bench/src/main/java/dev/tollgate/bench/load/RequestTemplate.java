package dev.tollgate.bench.load;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * One kind of request the generator sends, encoded once as the exact HTTP/1.1 bytes and written as a
 * duplicate of an unreleasable direct buffer each time ({@link #wire()}): the generator spends nothing
 * per request on encoding, and the bytes go to the socket without a copy.
 *
 * @param name           for reports, e.g. {@code openai-stream}
 * @param stream         whether the answer is an SSE stream
 * @param expectedEvents SSE events a complete answer has (0 for JSON)
 */
public record RequestTemplate(String name, Surface surface, boolean stream, int expectedEvents, ByteBuf bytes) {

    public enum Surface { OPENAI, ANTHROPIC }

    /** The request's bytes, to write once: a duplicate with its own indexes, whose release does nothing. */
    public ByteBuf wire() {
        return bytes.duplicate();
    }

    public static final String OPENAI_MODEL = "gpt-4o-mini";
    public static final String ANTHROPIC_MODEL = "claude-haiku-4-5";

    /**
     * A small chat request: a one-line prompt, {@code max_tokens} 64, {@code [sim:events=N]} output tokens
     * and optionally {@code [sim:delay-ms=D]} between stream events. OpenAI streams ask for
     * {@code stream_options.include_usage}, so the answer has the same events whether or not a metering
     * proxy is in the path (a metering proxy asks for it upstream anyway).
     *
     * @param hostHeader the {@code Host} header, e.g. {@code 127.0.0.1:8080}
     * @param key        the key presented: the provider's (direct, nginx) or Tollgate's
     */
    public static RequestTemplate chat(Surface surface, boolean stream, int events, int delayMs, String hostHeader, String key) {
        if (events < 0 || events > 64) {
            throw new IllegalArgumentException("events must be 0..64 (max_tokens is 64): " + events);
        }
        String prompt = "Say something short. [sim:events=" + events + "]" + (delayMs > 0 ? " [sim:delay-ms=" + delayMs + "]" : "");
        String body;
        String path;
        String auth;
        int expectedEvents;
        if (surface == Surface.OPENAI) {
            path = "/v1/chat/completions";
            body = "{\"model\":\"" + OPENAI_MODEL + "\"," + (stream ? "\"stream\":true,\"stream_options\":{\"include_usage\":true}," : "")
                    + "\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}";
            auth = "Authorization: Bearer " + key + "\r\n";
            // role, one per token, finish, usage, [DONE]
            expectedEvents = stream ? events + 4 : 0;
        } else {
            path = "/v1/messages";
            body = "{\"model\":\"" + ANTHROPIC_MODEL + "\"," + (stream ? "\"stream\":true," : "")
                    + "\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}";
            auth = "x-api-key: " + key + "\r\nanthropic-version: 2023-06-01\r\n";
            // message_start, content_block_start, ping, one per token, content_block_stop, message_delta, message_stop
            expectedEvents = stream ? events + 6 : 0;
        }
        byte[] bodyBytes = body.getBytes(StandardCharsets.UTF_8);
        String head = "POST " + path + " HTTP/1.1\r\n"
                + "Host: " + hostHeader + "\r\n"
                + "Content-Type: application/json\r\n"
                + (stream ? "Accept: text/event-stream\r\n" : "Accept: application/json\r\n")
                + auth
                + "Content-Length: " + bodyBytes.length + "\r\n"
                + "\r\n";
        byte[] headBytes = head.getBytes(StandardCharsets.US_ASCII);
        // A JDK direct buffer wrapped, not one from Netty's allocator: it lives as long as the template,
        // is never released, and so must not be tracked by the leak detector.
        ByteBuffer direct = ByteBuffer.allocateDirect(headBytes.length + bodyBytes.length);
        direct.put(headBytes).put(bodyBytes).flip();
        ByteBuf bytes = Unpooled.wrappedBuffer(direct);
        String name = (surface == Surface.OPENAI ? "openai" : "anthropic") + (stream ? "-stream" : "-json");
        return new RequestTemplate(name, surface, stream, expectedEvents, Unpooled.unreleasableBuffer(bytes));
    }
}
