package dev.tollgate.metering.stream;

import com.fasterxml.jackson.core.JsonGenerator;
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
    private static final byte[] DELTA = name("delta");
    private static final byte[] INDEX = name("index");
    private static final byte[] TYPE = name("type");
    private static final byte[] CONTENT_BLOCK = name("content_block");
    private static final byte[] ERROR = name("error");
    private static final byte[] TOOL_RESULT_SUFFIX = name("_tool_result");

    private int openBlockIndex = -1;
    /** A second scanner over a content block, which is read twice. */
    private final JsonScanner block = new JsonScanner();
    private byte[] currentData;

    AnthropicStreamMeter(TokenCounter counter) {
        super(EndpointFamily.MESSAGES, counter, true);
    }

    @Override
    protected Verdict meter(SseEvent event) {
        currentData = event.data();
        if (json.next() != JsonScanner.START_OBJECT) {
            return Verdict.FORWARD;
        }
        String type = event.name();
        int index = -1;
        while (json.next() == JsonScanner.FIELD_NAME) {
            if (json.nameEquals(DELTA)) {
                json.next();
                if ("content_block_delta".equals(type)) {
                    countGenerated(json);
                } else {
                    json.skipValue();
                }
            } else if (json.nameEquals(INDEX)) {
                index = json.next() == JsonScanner.NUMBER ? (int) Math.min(json.longValue(), Integer.MAX_VALUE) : index;
            } else if (json.nameEquals(TYPE)) {
                int value = json.next();
                if (type == null && value == JsonScanner.STRING) {
                    type = json.stringValue(); // only for a stream without event: lines
                }
            } else if (json.nameEquals(USAGE)) {
                boolean delta = "message_delta".equals(type);
                if (delta && !usageFinal) {
                    // message_start's output_tokens is a placeholder: only message_delta's own count may bill the output.
                    usage.forget("output_tokens");
                }
                boolean object = json.next() == JsonScanner.START_OBJECT;
                readUsage();
                usageFinal |= delta && object;
            } else if (json.nameEquals(MESSAGE)) {
                json.next();
                readUsageInside();
            } else if (json.nameEquals(CONTENT_BLOCK)) {
                json.next();
                countBlockStart();
            } else if (json.nameEquals(ERROR)) {
                json.next();
                ProviderError error = readProviderError("error");
                if (providerError == null) {
                    providerError = error;
                }
            } else {
                json.next();
                json.skipValue();
            }
        }
        if ("content_block_start".equals(type)) {
            openBlockIndex = index;
        } else if ("content_block_stop".equals(type)) {
            openBlockIndex = -1;
        } else if ("message_stop".equals(type)) {
            finished = true;
        } else if ("error".equals(type) && providerError == null) {
            providerError = new ProviderError("error", null); // an error event without its error object is still one
        }
        return Verdict.FORWARD;
    }

    /**
     * A block's opening event. A server tool's result block ({@code web_search_tool_result},
     * {@code web_fetch_tool_result}, {@code code_execution_tool_result}...) carries what the tool
     * returned, often kilobytes of encrypted content, which the model reads as input: it is not
     * generated output. So the block is looked at twice: once for its type, then, if it was
     * generated, to count its text.
     */
    private void countBlockStart() {
        if (json.token() != JsonScanner.START_OBJECT) {
            countGenerated(json);
            return;
        }
        int start = json.position() - 1;
        json.skipValue();
        int end = json.position();
        block.reset(currentData, start, end - start);
        block.next();
        boolean toolResult = false;
        while (block.next() == JsonScanner.FIELD_NAME) {
            boolean isType = block.nameEquals(TYPE);
            int value = block.next();
            if (isType && value == JsonScanner.STRING) {
                toolResult = block.stringEndsWith(TOOL_RESULT_SUFFIX);
            } else {
                block.skipValue();
            }
        }
        if (!toolResult) {
            block.reset(currentData, start, end - start);
            block.next();
            countGenerated(block);
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
