package dev.tollgate.metering.stream;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * OpenAI Responses API streams: typed events ({@code event: response.output_text.delta}...) with a
 * {@code sequence_number}. Generated text arrives in the {@code delta} string of the
 * {@code *.delta} events; the usage arrives once, inside the response object of
 * {@code response.completed}, {@code response.incomplete} or {@code response.failed}.
 */
final class OpenAiResponsesStreamMeter extends StreamMeter {
    private static final String OUTPUT_TEXT_DELTA = "response.output_text.delta";
    private static final byte[] DELTA = name("delta");
    private static final byte[] SEQUENCE_NUMBER = name("sequence_number");
    private static final byte[] ITEM_ID = name("item_id");
    private static final byte[] TYPE = name("type");
    private static final byte[] RESPONSE = name("response");
    private static final byte[] ERROR = name("error");
    private static final byte[] CODE = name("code");
    private static final byte[] ITEM = name("item");
    private static final String OUTPUT_ITEM_DONE = "response.output_item.done";

    private ObjectNode createdResponse;
    private long lastSequenceNumber = -1;
    /** The sequence number before the last metered event: a cut holds that event back, so its number is reused. */
    private long sequenceNumberBeforeLastEvent = -1;
    /** The output text so far, so a cut stream's final response carries what the client was sent, as the provider's would. */
    private final StringBuilder outputText = new StringBuilder();
    private int outputTextLengthBeforeLastEvent;
    private String messageItemId;

    OpenAiResponsesStreamMeter(TokenCounter counter) {
        super(EndpointFamily.RESPONSES, counter, true);
    }

    @Override
    protected Verdict meter(SseEvent event) {
        if (json.next() != JsonScanner.START_OBJECT) {
            return Verdict.FORWARD;
        }
        String type = event.name();
        // An error event carries its code and message at the top level (some relays nest an error object).
        String errorCode = null;
        String errorMessage = null;
        ProviderError nestedError = null;
        sequenceNumberBeforeLastEvent = lastSequenceNumber;
        outputTextLengthBeforeLastEvent = outputText.length();
        while (json.next() == JsonScanner.FIELD_NAME) {
            if (json.nameEquals(DELTA)) {
                int value = json.next();
                // Audio deltas are base64 sound, not text; every other *.delta string is generated output.
                if (type != null && type.endsWith(".delta") && !type.startsWith("response.audio.")) {
                    if (value == JsonScanner.STRING && OUTPUT_TEXT_DELTA.equals(type)) {
                        String text = json.stringValue();
                        outputText.append(text);
                        outputTokensCounted += counter.count(text);
                    } else {
                        countGenerated(json);
                    }
                } else {
                    json.skipValue();
                }
            } else if (json.nameEquals(SEQUENCE_NUMBER)) {
                if (json.next() == JsonScanner.NUMBER) {
                    lastSequenceNumber = Math.max(lastSequenceNumber, json.longValue());
                }
            } else if (json.nameEquals(ITEM_ID)) {
                int value = json.next();
                if (messageItemId == null && value == JsonScanner.STRING && OUTPUT_TEXT_DELTA.equals(type)) {
                    messageItemId = json.stringValue();
                }
            } else if (json.nameEquals(TYPE)) {
                int value = json.next();
                if (type == null && value == JsonScanner.STRING) {
                    type = json.stringValue(); // only for a stream without event: lines
                }
            } else if (json.nameEquals(ITEM) && OUTPUT_ITEM_DONE.equals(type)) {
                json.next();
                readOutputItem();
            } else if (json.nameEquals(RESPONSE)) {
                json.next();
                readResponse(event, type);
            } else if (json.nameEquals(ERROR)) {
                json.next();
                nestedError = readProviderError("error");
            } else if (json.nameEquals(CODE)) {
                errorCode = json.next() == JsonScanner.STRING ? json.stringValue() : errorCode;
            } else if (json.nameEquals(MESSAGE)) {
                errorMessage = json.next() == JsonScanner.STRING ? json.stringValue() : errorMessage;
            } else {
                json.next();
                json.skipValue();
            }
        }
        if (type != null && TERMINAL_TYPES.contains(type)) {
            finished = true;
        }
        if (providerError == null && "error".equals(type)) {
            providerError = nestedError != null ? nestedError : new ProviderError(errorCode, errorMessage);
        } else if (providerError == null && "response.failed".equals(type)) {
            providerError = new ProviderError("response_failed", null); // failed without saying why
        }
        return Verdict.FORWARD;
    }

    /**
     * Counts a finished output item by its type: a server tool call ({@code web_search_call}...) is one billed call.
     * Counted here, once per item, and not from the terminal response's {@code output}, which lists the same items.
     */
    private void readOutputItem() {
        if (json.token() != JsonScanner.START_OBJECT) {
            json.skipValue();
            return;
        }
        while (json.next() == JsonScanner.FIELD_NAME) {
            if (json.nameEquals(TYPE)) {
                if (json.next() == JsonScanner.STRING) {
                    usage.outputItem(json.stringValue());
                } else {
                    json.skipValue();
                }
            } else {
                json.next();
                json.skipValue();
            }
        }
    }

    private void readResponse(SseEvent event, String type) {
        if (createdResponse == null && json.token() == JsonScanner.START_OBJECT && "response.created".equals(type)) {
            // Kept whole (once per stream) so a cut stream's final event can carry the provider's own response object.
            int start = json.position() - 1;
            json.skipValue();
            try {
                if (MAPPER.readTree(event.data(), start, json.position() - start) instanceof ObjectNode object) {
                    createdResponse = object;
                    if (object.get("service_tier") != null && object.get("service_tier").isTextual()) {
                        usage.serviceTier(object.get("service_tier").textValue()); // until the terminal response names the one that served
                    }
                }
            } catch (IOException e) {
                // not an object after all: the cut event is built without it
            }
            return;
        }
        boolean terminal = type != null && TERMINAL_TYPES.contains(type);
        if (json.token() != JsonScanner.START_OBJECT) {
            json.skipValue();
            return;
        }
        boolean sawUsage = false;
        while (json.next() == JsonScanner.FIELD_NAME) {
            if (json.nameEquals(USAGE)) {
                sawUsage |= json.next() == JsonScanner.START_OBJECT;
                readUsage();
            } else if (json.nameEquals(SERVICE_TIER)) {
                json.next();
                readServiceTier(); // the terminal response's is the tier that served it; response.created may say "auto"
            } else if (json.nameEquals(ERROR) && "response.failed".equals(type)) {
                json.next();
                ProviderError error = readProviderError("response_failed");
                if (providerError == null) {
                    providerError = error; // null when the response says "error": null
                }
            } else {
                json.next();
                json.skipValue();
            }
        }
        usageFinal |= sawUsage && terminal;
    }

    private static final java.util.Set<String> TERMINAL_TYPES = java.util.Set.of("response.completed", "response.incomplete", "response.failed");

    @Override
    public byte[] cutAtCapEvents(Usage billed) {
        ObjectNode response = createdResponse != null ? createdResponse.deepCopy() : MAPPER.createObjectNode();
        response.put("status", "incomplete");
        response.putObject("incomplete_details").put("reason", "max_output_tokens");
        ArrayNode output = response.putArray("output");
        if (outputTextLengthBeforeLastEvent > 0) {
            ObjectNode message = output.addObject();
            message.put("type", "message");
            message.put("id", messageItemId == null ? "msg_tollgate" : messageItemId);
            message.put("status", "incomplete");
            message.put("role", "assistant");
            ObjectNode text = message.putArray("content").addObject();
            text.put("type", "output_text");
            // The held-back event's text never reached the client, so it is not in the final response either.
            text.put("text", outputText.substring(0, outputTextLengthBeforeLastEvent));
            text.putArray("annotations");
        }
        ObjectNode usageNode = response.putObject("usage");
        usageNode.put("input_tokens", billed.promptTokens());
        ObjectNode inputDetails = usageNode.putObject("input_tokens_details");
        inputDetails.put("cached_tokens", billed.cacheReadTokens());
        inputDetails.put("cache_write_tokens", billed.cacheWriteTokens());
        usageNode.put("output_tokens", billed.outputTokens());
        usageNode.putObject("output_tokens_details").put("reasoning_tokens", billed.reasoningTokens());
        usageNode.put("total_tokens", billed.totalTokens());
        ObjectNode event = MAPPER.createObjectNode();
        event.put("type", "response.incomplete");
        event.put("sequence_number", sequenceNumberBeforeLastEvent + 1);
        event.set("response", response);
        ByteArrayOutputStream out = new ByteArrayOutputStream(512);
        try {
            out.writeBytes("event: response.incomplete\ndata: ".getBytes(StandardCharsets.US_ASCII));
            MAPPER.writeValue(out, event);
            out.writeBytes("\n\n".getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new IllegalStateException("writing to memory cannot fail", e);
        }
        return out.toByteArray();
    }
}
