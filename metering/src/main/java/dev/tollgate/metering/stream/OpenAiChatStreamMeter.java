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
 *
 * <p>OpenAI-compatible servers differ. vLLM with {@code stream_options.continuous_usage_stats} puts a
 * running usage in every chunk (cumulative, so the last one counts: never summed), and DeepSeek or
 * Mistral put the final usage in the last chunk beside its choices. A usage beside choices may be
 * such a running count (and with several choices, one choice's), so it is the usage that ends the
 * stream only once {@code [DONE]} came; until then a stream cut short is billed with the inline
 * count as a floor. vLLM before 0.10 reports an error as a chunk of its own flat shape,
 * {@code {"object":"error","message":...,"type":...,"code":400}}, which is read as the provider's error.
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
    private static final byte[] OBJECT = name("object");

    private String id;
    private String model;
    private long created;
    private int highestChoiceIndex;
    /** A usage object came in some chunk; it is final once [DONE] confirms nothing followed it. */
    private boolean usageSeen;

    OpenAiChatStreamMeter(EndpointFamily family, TokenCounter counter, boolean clientAskedForUsage) {
        super(family, counter, clientAskedForUsage);
    }

    @Override
    protected Verdict meter(SseEvent event) {
        if (event.dataEquals(DONE)) {
            finished = true;
            usageFinal |= usageSeen;
            return Verdict.FORWARD;
        }
        if (json.next() != JsonScanner.START_OBJECT) {
            return Verdict.FORWARD;
        }
        boolean sawChoice = false;
        boolean sawUsage = false;
        boolean sawUsageObject = false;
        boolean errorObject = false;
        String errorType = null;
        String errorMessage = null;
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
                    sawUsageObject = true;
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
            } else if (json.nameEquals(OBJECT)) {
                if (json.next() == JsonScanner.STRING) {
                    errorObject = json.nameEquals(ERROR);
                } else {
                    json.skipValue();
                }
            } else if (json.nameEquals(ERROR_TYPE) || json.nameEquals(MESSAGE)) {
                // Top level only in vLLM's flat error chunk: an ordinary chunk has neither, so this costs it nothing.
                boolean isType = json.nameEquals(ERROR_TYPE);
                if (json.next() == JsonScanner.STRING) {
                    if (isType) {
                        errorType = json.stringValue();
                    } else {
                        errorMessage = json.stringValue();
                    }
                } else {
                    json.skipValue();
                }
            } else {
                json.next();
                json.skipValue();
            }
        }
        if (errorObject && providerError == null) {
            providerError = new ProviderError(errorType != null ? errorType : "error", errorMessage);
        }
        if (sawUsageObject) {
            usageSeen = true;
            usageFinal |= !sawChoice; // OpenAI's and vLLM's usage-only chunk: nothing is generated after it
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
