package dev.tollgate.metering.stream;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;
import java.io.IOException;
import java.util.Set;

/**
 * Meters one streamed response event by event, inline, as the proxy relays it: counts the output
 * tokens as they are generated (the cap guard and the fallback when no usage arrives), picks up the
 * provider's own usage fields, and says whether an event goes to the client.
 *
 * <p>One meter per response, used on that response's event loop only.
 */
public abstract class StreamMeter {
    /** What the proxy does with an event. */
    public enum Verdict {
        FORWARD,
        /** The usage-only chunk Tollgate asked for on behalf of a client that did not. */
        DROP
    }

    static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build())
            .build();
    static final ObjectMapper MAPPER = new ObjectMapper(JSON);
    /** String fields inside generated content that are structure, not generated text. */
    private static final Set<String> NOT_GENERATED = Set.of("role", "type", "id", "index", "signature", "obfuscation",
            "finish_reason", "stop_reason", "item_id", "logprobs");

    protected final EndpointFamily family;
    protected final TokenCounter counter;
    protected final boolean clientAskedForUsage;
    protected final UsageFields usage = new UsageFields();
    protected long outputTokensCounted;
    protected boolean finished;
    /** The provider sent the usage it reports at the end of a stream (not just Anthropic's opening placeholder). */
    protected boolean usageFinal;
    protected String upstreamErrorMessage;

    protected StreamMeter(EndpointFamily family, TokenCounter counter, boolean clientAskedForUsage) {
        this.family = family;
        this.counter = counter;
        this.clientAskedForUsage = clientAskedForUsage;
    }

    public static StreamMeter forFamily(EndpointFamily family, TokenCounter counter, boolean clientAskedForUsage) {
        return switch (family) {
            case CHAT_COMPLETIONS, COMPLETIONS -> new OpenAiChatStreamMeter(family, counter, clientAskedForUsage);
            case RESPONSES -> new OpenAiResponsesStreamMeter(counter);
            case MESSAGES -> new AnthropicStreamMeter(counter);
            case EMBEDDINGS -> throw new IllegalArgumentException("embeddings are not streamed");
        };
    }

    /** Meters one event; a malformed event is forwarded unmetered rather than breaking the stream. */
    public final Verdict onEvent(SseEvent event) {
        if (!event.hasData()) {
            return Verdict.FORWARD;
        }
        try {
            return meter(event);
        } catch (IOException | RuntimeException e) {
            return Verdict.FORWARD;
        }
    }

    protected abstract Verdict meter(SseEvent event) throws IOException;

    /**
     * Events that end the stream cleanly as the provider ends a stream that reached its output cap
     * ({@code length} / {@code max_tokens} / {@code incomplete}), for when Tollgate must cut it at its reservation.
     */
    public abstract byte[] cutAtCapEvents(Usage billed);

    /** Output tokens counted inline so far, over all choices. */
    public long outputTokensCounted() {
        return outputTokensCounted;
    }

    /** The provider's usage fields seen so far. */
    public UsageFields usage() {
        return usage;
    }

    /**
     * True once the provider sent the usage that ends a stream: OpenAI's usage chunk, the usage of
     * Responses' final event, Anthropic's {@code message_delta}. Before that, the usage fields hold at
     * most the prompt side (Anthropic's {@code message_start} also carries a placeholder output count),
     * so a stream that ends early is billed for its inline output count instead.
     */
    public boolean usageFinal() {
        return usageFinal;
    }

    /** True once the stream's terminal event arrived ({@code [DONE]}, {@code message_stop}, {@code response.completed}...). */
    public boolean finished() {
        return finished;
    }

    /** The message of an error event the provider sent mid-stream, or null. */
    public String upstreamErrorMessage() {
        return upstreamErrorMessage;
    }

    protected final JsonParser parser(SseEvent event) throws IOException {
        return JSON.createParser(event.data(), event.dataOffset(), event.dataLength());
    }

    /** Counts the generated text in the value the parser stands on (a string, or every string inside a container). */
    protected final void countGenerated(JsonParser p, String fieldName) throws IOException {
        JsonToken token = p.currentToken();
        if (token == JsonToken.VALUE_STRING) {
            if (fieldName == null || !NOT_GENERATED.contains(fieldName)) {
                outputTokensCounted += counter.count(p.getText());
            }
            return;
        }
        if (token != JsonToken.START_OBJECT && token != JsonToken.START_ARRAY) {
            return;
        }
        String field = fieldName;
        int depth = 0;
        do {
            token = p.currentToken();
            if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
                depth++;
            } else if (token == JsonToken.END_OBJECT || token == JsonToken.END_ARRAY) {
                depth--;
            } else if (token == JsonToken.FIELD_NAME) {
                field = p.currentName();
            } else if (token == JsonToken.VALUE_STRING && (field == null || !NOT_GENERATED.contains(field))) {
                outputTokensCounted += counter.count(p.getText());
            }
            if (depth > 0) {
                p.nextToken();
            }
        } while (depth > 0);
    }

    /** Reads a usage object (the parser stands on its START_OBJECT) into {@link #usage}, one level of details deep. */
    protected final void readUsage(JsonParser p) throws IOException {
        readUsage(p, usage);
    }

    /**
     * Reads an object (the parser stands on its START_OBJECT) whose {@code usage} field goes into
     * {@link #usage}, skipping the rest; returns true if it had a usage object.
     */
    protected final boolean readUsageInside(JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            p.skipChildren();
            return false;
        }
        boolean found = false;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            if (name.equals("usage") && value == JsonToken.START_OBJECT) {
                readUsage(p);
                found = true;
            } else {
                p.skipChildren();
            }
        }
        return found;
    }

    static void readUsage(JsonParser p, UsageFields into) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            p.skipChildren();
            return;
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            if (value == JsonToken.VALUE_NUMBER_INT) {
                into.set(name, p.getLongValue());
            } else if (value == JsonToken.START_OBJECT) {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String inner = p.currentName();
                    if (p.nextToken() == JsonToken.VALUE_NUMBER_INT) {
                        into.set(name + "." + inner, p.getLongValue());
                    } else {
                        p.skipChildren();
                    }
                }
            } else {
                p.skipChildren();
            }
        }
    }

    /** The text of a provider error object ({@code {"message": ...}}) the parser stands on, or a default. */
    protected static String errorMessage(JsonParser p) throws IOException {
        String message = "upstream error";
        if (p.currentToken() == JsonToken.START_OBJECT) {
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                if (name.equals("message") && p.currentToken() == JsonToken.VALUE_STRING) {
                    message = p.getText();
                } else {
                    p.skipChildren();
                }
            }
        } else if (p.currentToken() == JsonToken.VALUE_STRING) {
            message = p.getText();
        }
        return message;
    }
}
