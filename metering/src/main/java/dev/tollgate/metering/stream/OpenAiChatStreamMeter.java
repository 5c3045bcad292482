package dev.tollgate.metering.stream;

import com.fasterxml.jackson.core.JsonGenerator;
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
 * that did not. Every chunk names the {@code service_tier} that serves the request.
 */
final class OpenAiChatStreamMeter extends StreamMeter {
    private static final byte[] DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] CHOICES = name("choices");
    private static final byte[] ID = name("id");
    private static final byte[] MODEL = name("model");
    private static final byte[] CREATED = name("created");
    private static final byte[] ERROR = name("error");
    private static final byte[] DELTA = name("delta");
    private static final byte[] TEXT = name("text");
    private static final byte[] INDEX = name("index");

    private String id;
    private String model;
    private long created;
    private int highestChoiceIndex;

    OpenAiChatStreamMeter(EndpointFamily family, TokenCounter counter, boolean clientAskedForUsage) {
        super(family, counter, clientAskedForUsage);
    }

    @Override
    protected Verdict meter(SseEvent event) {
        if (event.dataEquals(DONE)) {
            finished = true;
            return Verdict.FORWARD;
        }
        if (json.next() != JsonScanner.START_OBJECT) {
            return Verdict.FORWARD;
        }
        boolean sawChoice = false;
        boolean sawUsage = false;
        while (json.next() == JsonScanner.FIELD_NAME) {
            if (json.nameEquals(CHOICES)) {
                if (json.next() == JsonScanner.START_ARRAY) {
                    while (json.next() == JsonScanner.START_OBJECT) {
                        sawChoice = true;
                        readChoice();
                    }
                } else {
                    json.skipValue();
                }
            } else if (json.nameEquals(USAGE)) {
                if (json.next() == JsonScanner.START_OBJECT) {
                    // A usage chunk with a count that is not a number is malformed: forwarded as it came.
                    sawUsage = readUsage();
                    usageFinal = true;
                }
            } else if (id == null && json.nameEquals(ID)) {
                id = json.next() == JsonScanner.STRING ? json.stringValue() : null;
            } else if (model == null && json.nameEquals(MODEL)) {
                model = json.next() == JsonScanner.STRING ? json.stringValue() : null;
            } else if (created == 0 && json.nameEquals(CREATED)) {
                created = json.next() == JsonScanner.NUMBER ? json.longValue() : 0;
            } else if (json.nameEquals(SERVICE_TIER)) {
                json.next();
                readServiceTier();
            } else if (json.nameEquals(ERROR)) {
                json.next();
                ProviderError error = readProviderError("error");
                if (providerError == null) {
                    providerError = error; // the first error is the one that ended the stream
                }
            } else {
                json.next();
                json.skipValue();
            }
        }
        return sawUsage && !sawChoice && !clientAskedForUsage ? Verdict.DROP : Verdict.FORWARD;
    }

    @Override
    protected boolean isSentinel(SseEvent event) {
        return event.dataEquals(DONE);
    }

    private void readChoice() {
        while (json.next() == JsonScanner.FIELD_NAME) {
            if (json.nameEquals(DELTA) || json.nameEquals(TEXT)) {
                json.next();
                countGenerated(json);
            } else if (json.nameEquals(INDEX)) {
                if (json.next() == JsonScanner.NUMBER) {
                    highestChoiceIndex = (int) Math.max(highestChoiceIndex, Math.min(json.longValue(), 127));
                }
            } else {
                json.next();
                json.skipValue();
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
                    g.writeNumberField("total_tokens", billed.totalTokens());
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
