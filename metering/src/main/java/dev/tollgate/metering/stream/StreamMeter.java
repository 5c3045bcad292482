package dev.tollgate.metering.stream;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Meters one streamed response event by event, inline, as the proxy relays it: counts the output
 * tokens as they are generated (the cap guard and the fallback when no usage arrives), picks up the
 * provider's own usage fields, and says whether an event goes to the client.
 *
 * <p>Events are read with {@link JsonScanner}, which allocates nothing but the Strings it hands the
 * tokenizer: the metering of a stream costs little beyond the tokenizer itself. One meter per
 * response, used on that response's event loop only.
 */
public abstract class StreamMeter {
    private static final Logger LOG = LoggerFactory.getLogger(StreamMeter.class);
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
    private static final byte[][] NOT_GENERATED = names("role", "type", "id", "index", "signature", "obfuscation",
            "finish_reason", "stop_reason", "item_id", "logprobs");
    static final byte[] USAGE = name("usage");
    static final String SERVICE_TIER_FIELD = "service_tier";
    static final byte[] SERVICE_TIER = name(SERVICE_TIER_FIELD);
    static final byte[] MESSAGE = name("message");
    static final byte[] ERROR_TYPE = name("type");
    static final byte[] ERROR_CODE = name("code");

    protected final EndpointFamily family;
    protected final TokenCounter counter;
    protected final boolean clientAskedForUsage;
    protected final UsageFields usage = new UsageFields();
    protected final JsonScanner json = new JsonScanner();
    protected long outputTokensCounted;
    protected boolean finished;
    /** The provider sent the usage it reports at the end of a stream (not just Anthropic's opening placeholder). */
    protected boolean usageFinal;
    protected ProviderError providerError;
    private long eventsMetered;
    private long malformedEvents;
    private long meterFaults;

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

    static byte[] name(String name) {
        return name.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[][] names(String... names) {
        byte[][] bytes = new byte[names.length][];
        for (int i = 0; i < names.length; i++) {
            bytes[i] = name(names[i]);
        }
        return bytes;
    }

    /**
     * Meters one event. An event whose data is not one well-formed JSON object is still forwarded
     * (it is the provider's to send, and the client's to judge), metered as far as it could be read,
     * and counted in {@link #malformedEvents()}; the first one of a stream is logged, without its content.
     */
    public final Verdict onEvent(SseEvent event) {
        if (!event.hasData()) {
            return Verdict.FORWARD;
        }
        eventsMetered++;
        json.reset(event.data(), event.dataOffset(), event.dataLength());
        try {
            Verdict verdict = meter(event);
            if (!isSentinel(event) && !json.wholeObject()) {
                malformed("not one well-formed JSON object");
            }
            return verdict;
        } catch (RuntimeException e) {
            // A fault of the meter's own, met on provider bytes: the stream goes on unmetered by this event.
            // The exception's message may quote those bytes, so only its type is logged.
            meterFaults++;
            malformed("metering failed: " + e.getClass().getName());
            return Verdict.FORWARD;
        }
    }

    /** True for data that is a protocol sentinel, not JSON ({@code [DONE]}). */
    protected boolean isSentinel(SseEvent event) {
        return false;
    }

    private void malformed(String reason) {
        if (malformedEvents++ == 0) {
            LOG.warn("malformed event #{} in a {} stream ({}); it was forwarded, metered as far as it could be read;"
                    + " later ones in this stream are counted, not logged", eventsMetered, family, reason);
        }
    }

    /** Meters one event whose data {@link #json} is positioned before. */
    protected abstract Verdict meter(SseEvent event);

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
     * True when the provider reported a malformed count (negative, fractional, a string, beyond a
     * long...): that count was treated as not reported, so the stream is billed on Tollgate's own
     * count for it. For the proxy to log or count; {@link UsageFields#malformedCount()} says how many.
     */
    public boolean usageMalformed() {
        return usage.malformed();
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

    /**
     * The error the provider reported mid-stream (an error event, or a Responses {@code response.failed}),
     * or null. A stream with one did not complete, even if it {@link #finished() finished}.
     */
    public ProviderError providerError() {
        return providerError;
    }

    /** True when the stream ended with its terminal event and the provider reported no error in it. */
    public boolean completed() {
        return finished && providerError == null;
    }

    /** Events on which the meter itself failed (an exception of its own, counted among the malformed): a bug to fix. */
    public long meterFaults() {
        return meterFaults;
    }

    /** Events whose data was not one well-formed JSON object (or that the meter could not read), forwarded as they came. */
    public long malformedEvents() {
        return malformedEvents;
    }

    /** True when the field name {@code scanner} stands on is structure inside generated content, not generated text. */
    private static boolean isStructure(JsonScanner scanner) {
        for (byte[] name : NOT_GENERATED) {
            if (scanner.nameEquals(name)) {
                return true;
            }
        }
        return false;
    }

    /** Counts the generated text in the value the scanner stands on: a string, or every string inside a container. */
    protected final void countGenerated(JsonScanner scanner) {
        int token = scanner.token();
        if (token == JsonScanner.STRING) {
            outputTokensCounted += counter.count(scanner.stringValue());
            return;
        }
        if (token != JsonScanner.START_OBJECT && token != JsonScanner.START_ARRAY) {
            return;
        }
        int outside = scanner.depth() - 1;
        boolean structure = false;
        while (scanner.depth() > outside) {
            int next = scanner.next();
            if (next == JsonScanner.ERROR || next == JsonScanner.END) {
                return;
            }
            if (next == JsonScanner.FIELD_NAME) {
                structure = isStructure(scanner);
            } else if (next == JsonScanner.STRING && !structure) {
                outputTokensCounted += counter.count(scanner.stringValue());
            }
        }
    }

    /**
     * Reads a usage object (the scanner stands on its START_OBJECT) into {@link #usage}, one level of
     * details deep. Returns false if a known count in it is not a non-negative whole number that fits
     * a long (a malformed report: that field counts as not reported, see {@link UsageFields#reject}).
     */
    protected final boolean readUsage() {
        return readUsage(json, usage);
    }

    static boolean readUsage(JsonScanner scanner, UsageFields into) {
        if (scanner.token() != JsonScanner.START_OBJECT) {
            if (!scanner.isNull()) {
                into.rejectReport();
            }
            scanner.skipValue();
            return false;
        }
        int malformedBefore = into.malformedCount();
        while (scanner.next() == JsonScanner.FIELD_NAME) {
            // Field names are Strings here: a usage object comes once or twice per stream, not per event.
            String name = scanner.stringValue();
            int value = scanner.next();
            if (value == JsonScanner.START_OBJECT) {
                into.reject(name); // a count given as an object (a details object is not a known count)
                while (scanner.next() == JsonScanner.FIELD_NAME) {
                    String inner = scanner.stringValue();
                    readCount(scanner, scanner.next(), into, name + "." + inner);
                }
            } else {
                readCount(scanner, value, into, name);
            }
        }
        return into.malformedCount() == malformedBefore;
    }

    /** One usage field's value, of token type {@code value}: a count, null (not reported), or anything else (malformed). */
    private static void readCount(JsonScanner scanner, int value, UsageFields into, String path) {
        if (value == JsonScanner.STRING && path.equals(SERVICE_TIER_FIELD)) {
            into.serviceTier(scanner.stringValue()); // Anthropic's usage.service_tier
        } else if (value == JsonScanner.NUMBER) {
            into.set(path, scanner.longValue()); // -1 for a number that is not a count: rejected
        } else if (!scanner.isNull()) {
            into.reject(path);
            scanner.skipValue();
        }
    }

    /**
     * Reads an object (the scanner stands on its START_OBJECT) whose {@code usage} field goes into
     * {@link #usage}, skipping the rest; returns true if it had a usage object.
     */
    protected final boolean readUsageInside() {
        if (json.token() != JsonScanner.START_OBJECT) {
            json.skipValue();
            return false;
        }
        boolean found = false;
        while (json.next() == JsonScanner.FIELD_NAME) {
            boolean isUsage = json.nameEquals(USAGE);
            int value = json.next();
            if (isUsage) {
                readUsage();
                found |= value == JsonScanner.START_OBJECT;
            } else {
                json.skipValue();
            }
        }
        return found;
    }

    /**
     * Reads a top-level {@code service_tier} the scanner stands on into {@link #usage}. OpenAI repeats it in every chunk;
     * the String is made only when it differs from the one already held, so an unchanged tier costs a byte compare.
     */
    protected final void readServiceTier() {
        if (json.token() != JsonScanner.STRING) {
            json.skipValue();
            return;
        }
        if (serviceTierBytes == null || !json.nameEquals(serviceTierBytes)) {
            String tier = json.stringValue();
            usage.serviceTier(tier);
            serviceTierBytes = tier.getBytes(StandardCharsets.UTF_8);
        }
    }

    private byte[] serviceTierBytes;

    /**
     * Reads a provider error the scanner stands on: an object with {@code type} or {@code code} and
     * {@code message} (the shape of every provider's error object), or a bare string message. Null for
     * {@code null} (no error), and {@code fallbackType} where the provider named no type.
     */
    protected final ProviderError readProviderError(String fallbackType) {
        int token = json.token();
        if (token == JsonScanner.STRING) {
            return new ProviderError(fallbackType, json.stringValue());
        }
        if (token != JsonScanner.START_OBJECT) {
            boolean none = json.isNull();
            json.skipValue();
            return none ? null : new ProviderError(fallbackType, null);
        }
        String type = null;
        String code = null;
        String message = null;
        while (json.next() == JsonScanner.FIELD_NAME) {
            boolean isType = json.nameEquals(ERROR_TYPE);
            boolean isCode = json.nameEquals(ERROR_CODE);
            boolean isMessage = json.nameEquals(MESSAGE);
            if (json.next() == JsonScanner.STRING && (isType || isCode || isMessage)) {
                String value = json.stringValue();
                if (isType) {
                    type = value;
                } else if (isCode) {
                    code = value;
                } else {
                    message = value;
                }
            } else {
                json.skipValue();
            }
        }
        return new ProviderError(type != null ? type : code != null ? code : fallbackType, message);
    }
}
