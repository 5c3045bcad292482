package dev.tollgate.metering.stream;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Anthropic Messages streams: {@code message_start} carries the prompt usage (input, cache read,
 * cache creation) before any output; {@code content_block_delta} events carry the generated text,
 * thinking or tool input; {@code message_delta} carries the cumulative usage (the latest value of
 * each field wins); {@code message_stop} ends the stream.
 */
final class AnthropicStreamMeter extends StreamMeter {
    private int openBlockIndex = -1;

    AnthropicStreamMeter(TokenCounter counter) {
        super(EndpointFamily.MESSAGES, counter, true);
    }

    @Override
    protected Verdict meter(SseEvent event) throws IOException {
        try (JsonParser p = parser(event)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return Verdict.FORWARD;
            }
            String type = event.name();
            int index = -1;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                switch (name) {
                    case "type" -> type = type == null && value == JsonToken.VALUE_STRING ? p.getText() : type;
                    case "index" -> index = value == JsonToken.VALUE_NUMBER_INT ? p.getIntValue() : index;
                    case "message" -> readUsageInside(p);
                    case "delta" -> {
                        if ("content_block_delta".equals(type)) {
                            countGenerated(p, name);
                        } else {
                            p.skipChildren();
                        }
                    }
                    case "content_block" -> countBlockStart(p);
                    case "usage" -> {
                        readUsage(p);
                        // Only message_delta's usage is the final count; message_start's output_tokens is a placeholder.
                        usageFinal |= "message_delta".equals(type);
                    }
                    case "error" -> upstreamErrorMessage = errorMessage(p);
                    default -> p.skipChildren();
                }
            }
            if ("content_block_start".equals(type)) {
                openBlockIndex = index;
            } else if ("content_block_stop".equals(type)) {
                openBlockIndex = -1;
            } else if ("message_stop".equals(type)) {
                finished = true;
            }
        }
        return Verdict.FORWARD;
    }

    /**
     * A block's opening event. A server tool's result block ({@code web_search_tool_result},
     * {@code web_fetch_tool_result}, {@code code_execution_tool_result}...) carries what the tool
     * returned, often kilobytes of encrypted content, which the model reads as input: it is not
     * generated output. Block starts are a few per message, so reading one as a tree costs little.
     */
    private void countBlockStart(JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            countGenerated(p, "content_block");
            return;
        }
        JsonNode block = MAPPER.readTree(p);
        if (block.path("type").asText("").endsWith("_tool_result")) {
            return;
        }
        try (JsonParser tokens = MAPPER.treeAsTokens(block)) {
            tokens.nextToken();
            countGenerated(tokens, "content_block");
        }
    }

    @Override
    public byte[] cutAtCapEvents(Usage billed) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try {
            if (openBlockIndex >= 0) {
                event(out, "content_block_stop", g -> g.writeNumberField("index", openBlockIndex));
            }
            event(out, "message_delta", g -> {
                g.writeObjectFieldStart("delta");
                g.writeStringField("stop_reason", "max_tokens");
                g.writeNullField("stop_sequence");
                g.writeEndObject();
                g.writeObjectFieldStart("usage");
                g.writeNumberField("input_tokens", billed.inputTokens());
                g.writeNumberField("cache_creation_input_tokens", billed.cacheWriteTokens());
                g.writeNumberField("cache_read_input_tokens", billed.cacheReadTokens());
                g.writeNumberField("output_tokens", billed.outputTokens());
                g.writeEndObject();
            });
            event(out, "message_stop", g -> { });
        } catch (IOException e) {
            throw new IllegalStateException("writing to memory cannot fail", e);
        }
        return out.toByteArray();
    }

    private interface Body {
        void write(JsonGenerator g) throws IOException;
    }

    private static void event(ByteArrayOutputStream out, String type, Body body) throws IOException {
        out.writeBytes(("event: " + type + "\ndata: ").getBytes(StandardCharsets.US_ASCII));
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("type", type);
            body.write(g);
            g.writeEndObject();
        }
        out.writeBytes("\n\n".getBytes(StandardCharsets.US_ASCII));
    }
}
