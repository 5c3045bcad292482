package dev.tollgate.metering.stream;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * OpenAI chat completions and legacy completions streams: {@code data: {chunk}} events ending with
 * {@code data: [DONE]}. Generated text is in {@code choices[].delta} (chat) or {@code choices[].text}
 * (completions). With {@code stream_options.include_usage} the last chunk before {@code [DONE]} has
 * {@code "choices": []} and the usage; Tollgate always asks for it and drops it again for a client
 * that did not.
 */
final class OpenAiChatStreamMeter extends StreamMeter {
    private static final byte[] DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);

    private String id;
    private String model;
    private long created;
    private int highestChoiceIndex;

    OpenAiChatStreamMeter(EndpointFamily family, TokenCounter counter, boolean clientAskedForUsage) {
        super(family, counter, clientAskedForUsage);
    }

    @Override
    protected Verdict meter(SseEvent event) throws IOException {
        if (event.dataEquals(DONE)) {
            finished = true;
            return Verdict.FORWARD;
        }
        boolean sawChoice = false;
        boolean sawUsage = false;
        try (JsonParser p = parser(event)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return Verdict.FORWARD;
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                switch (name) {
                    case "id" -> id = id == null && value == JsonToken.VALUE_STRING ? p.getText() : id;
                    case "model" -> model = model == null && value == JsonToken.VALUE_STRING ? p.getText() : model;
                    case "created" -> created = value == JsonToken.VALUE_NUMBER_INT ? p.getLongValue() : created;
                    case "choices" -> {
                        if (value == JsonToken.START_ARRAY) {
                            while (p.nextToken() == JsonToken.START_OBJECT) {
                                sawChoice = true;
                                readChoice(p);
                            }
                        } else {
                            p.skipChildren();
                        }
                    }
                    case "usage" -> {
                        if (value == JsonToken.START_OBJECT) {
                            sawUsage = true;
                            usageFinal = true;
                            readUsage(p);
                        }
                    }
                    case "error" -> upstreamErrorMessage = errorMessage(p);
                    default -> p.skipChildren();
                }
            }
        }
        return sawUsage && !sawChoice && !clientAskedForUsage ? Verdict.DROP : Verdict.FORWARD;
    }

    private void readChoice(JsonParser p) throws IOException {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            if (name.equals("delta") || name.equals("text")) {
                countGenerated(p, name);
            } else if (name.equals("index") && value == JsonToken.VALUE_NUMBER_INT) {
                highestChoiceIndex = Math.max(highestChoiceIndex, Math.min(p.getIntValue(), 127));
            } else {
                p.skipChildren();
            }
        }
    }

    @Override
    public byte[] cutAtCapEvents(Usage billed) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try {
            out.writeBytes("data: ".getBytes(StandardCharsets.US_ASCII));
            try (JsonGenerator g = JSON.createGenerator(out)) {
                chunkHeader(g);
                g.writeArrayFieldStart("choices");
                for (int index = 0; index <= highestChoiceIndex; index++) {
                    g.writeStartObject();
                    g.writeNumberField("index", index);
                    if (family == EndpointFamily.CHAT_COMPLETIONS) {
                        g.writeObjectFieldStart("delta");
                        g.writeEndObject();
                    } else {
                        g.writeStringField("text", "");
                    }
                    g.writeNullField("logprobs");
                    g.writeStringField("finish_reason", "length");
                    g.writeEndObject();
                }
                g.writeEndArray();
                if (clientAskedForUsage) {
                    g.writeNullField("usage");
                }
                g.writeEndObject();
            }
            out.writeBytes("\n\n".getBytes(StandardCharsets.US_ASCII));
            if (clientAskedForUsage) {
                out.writeBytes("data: ".getBytes(StandardCharsets.US_ASCII));
                try (JsonGenerator g = JSON.createGenerator(out)) {
                    chunkHeader(g);
                    g.writeArrayFieldStart("choices");
                    g.writeEndArray();
                    g.writeObjectFieldStart("usage");
                    g.writeNumberField("prompt_tokens", billed.promptTokens());
                    g.writeNumberField("completion_tokens", billed.outputTokens());
                    g.writeNumberField("total_tokens", billed.promptTokens() + billed.outputTokens());
                    g.writeObjectFieldStart("prompt_tokens_details");
                    g.writeNumberField("cached_tokens", billed.cacheReadTokens());
                    g.writeEndObject();
                    g.writeEndObject();
                    g.writeEndObject();
                }
                out.writeBytes("\n\n".getBytes(StandardCharsets.US_ASCII));
            }
            out.writeBytes("data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new IllegalStateException("writing to memory cannot fail", e);
        }
        return out.toByteArray();
    }

    private void chunkHeader(JsonGenerator g) throws IOException {
        g.writeStartObject();
        g.writeStringField("id", id == null ? "chatcmpl-tollgate" : id);
        g.writeStringField("object", family == EndpointFamily.CHAT_COMPLETIONS ? "chat.completion.chunk" : "text_completion");
        g.writeNumberField("created", created);
        g.writeStringField("model", model == null ? "" : model);
    }
}
