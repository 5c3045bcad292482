package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufOutputStream;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** JSON and SSE writing straight into Netty buffers: no intermediate strings on the hot path. */
final class Json {

    /** Strict about trailing garbage after the body, as the providers are. */
    static final ObjectMapper MAPPER = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final JsonFactory FACTORY = MAPPER.getFactory();

    /** Writes one JSON value. */
    @FunctionalInterface
    interface Body {
        void write(JsonGenerator g) throws IOException;
    }

    private Json() {
    }

    static void write(ByteBuf out, Body body) {
        try (JsonGenerator g = FACTORY.createGenerator((OutputStream) new ByteBufOutputStream(out))) {
            body.write(g);
        } catch (IOException e) {
            // Writing into a heap or direct ByteBuf does not fail; this is a bug in a Body.
            throw new UncheckedIOException(e);
        }
    }

    /**
     * One server-sent event: an optional {@code event:} line, one {@code data:} line and the blank
     * line that ends the event. Jackson never writes a raw newline inside a JSON value, so one
     * {@code data:} line always holds the whole payload.
     */
    static void sse(ByteBuf out, String eventName, Body body) {
        if (eventName != null) {
            out.writeCharSequence("event: ", StandardCharsets.US_ASCII);
            out.writeCharSequence(eventName, StandardCharsets.US_ASCII);
            out.writeByte('\n');
        }
        out.writeCharSequence("data: ", StandardCharsets.US_ASCII);
        write(out, body);
        out.writeCharSequence("\n\n", StandardCharsets.US_ASCII);
    }

    /** The data-only event OpenAI ends its chat and completions streams with. */
    static void sseDone(ByteBuf out) {
        out.writeCharSequence("data: [DONE]\n\n", StandardCharsets.US_ASCII);
    }

    // Small readers for request bodies: absent, null and wrongly typed all read as "not given".

    static String text(JsonNode node, String field) {
        JsonNode value = node.get(field);
        return value != null && value.isTextual() ? value.textValue() : null;
    }

    static boolean flag(JsonNode node, String field) {
        JsonNode value = node.get(field);
        return value != null && value.isBoolean() && value.booleanValue();
    }

    /** A non-negative integer field, or {@link Directives#ABSENT}. */
    static int count(JsonNode node, String field) {
        JsonNode value = node.get(field);
        if (value == null || !value.isIntegralNumber() || value.longValue() < 0) {
            return Directives.ABSENT;
        }
        return (int) Math.min(Integer.MAX_VALUE, value.longValue());
    }
}
