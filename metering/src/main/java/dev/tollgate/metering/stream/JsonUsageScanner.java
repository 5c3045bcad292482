package dev.tollgate.metering.stream;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.async.ByteArrayFeeder;
import dev.tollgate.metering.TokenCounter;
import java.io.IOException;
import java.util.Set;

/**
 * Reads a non-streamed JSON response as its chunks pass through, without holding the body: a
 * non-blocking parser is fed each chunk and picks out the top-level {@code usage} object (and, as a
 * fallback for a provider that reports none, counts the generated text in the usual places).
 *
 * <p>Works for every surface: OpenAI chat, completions, embeddings and responses, and Anthropic
 * messages all report usage as a top-level {@code usage} object. The service tier that served the request is a
 * top-level {@code service_tier} (OpenAI) or {@code usage.service_tier} (Anthropic). OpenAI's server tool calls
 * are the Responses object's {@code output} items of type {@code web_search_call} and {@code file_search_call}.
 */
public final class JsonUsageScanner {
    /** Fields whose string values are generated text in a non-streamed response. */
    private static final Set<String> GENERATED_TEXT = Set.of("content", "text", "arguments", "refusal", "reasoning_content", "thinking");
    /**
     * Generated text kept uncounted, in chars, at most: the count is needed only when the provider
     * reported no usage, which it says at the end of the body, so the tokenizer runs only then. Past
     * this much text the rest is counted as it comes, so a long answer is not held whole.
     */
    static final int UNCOUNTED_TEXT_LIMIT_CHARS = 64 * 1024;

    private final TokenCounter counter;
    private final UsageFields usage = new UsageFields();
    private final JsonParser parser;
    private final ByteArrayFeeder feeder;
    private final String[] fieldAtDepth = new String[64];
    private int depth;
    private int usageDepth = -1;
    private long outputTokensCounted;
    /** Generated text not counted yet (see {@link #UNCOUNTED_TEXT_LIMIT_CHARS}). */
    private final java.util.ArrayList<String> uncountedText = new java.util.ArrayList<>(2);
    private int uncountedChars;
    private boolean broken;
    private boolean errorBody;
    /** The last token was a field's name: its value must come next. */
    private boolean afterFieldName;

    public JsonUsageScanner(TokenCounter counter) {
        this.counter = counter;
        try {
            this.parser = StreamMeter.JSON.createNonBlockingByteArrayParser();
        } catch (IOException e) {
            throw new IllegalStateException("cannot create a JSON parser", e);
        }
        this.feeder = (ByteArrayFeeder) parser.getNonBlockingInputFeeder();
    }

    /** Feeds the next piece of the body; the array may be reused by the caller once this returns. */
    public void feed(byte[] bytes, int offset, int length) {
        if (broken || length == 0) {
            return;
        }
        try {
            feeder.feedInput(bytes, offset, offset + length);
            drain();
        } catch (IOException | RuntimeException e) {
            // Not JSON after all (a provider's HTML error page, say): nothing more to learn from it.
            broken = true;
        }
    }

    public void end() {
        if (!broken) {
            feeder.endOfInput();
            try {
                drain();
            } catch (IOException | RuntimeException e) {
                broken = true;
            }
        }
    }

    public UsageFields usage() {
        return usage;
    }

    /**
     * True when the body's usage had a malformed count (see {@link UsageFields#reject}): that count
     * was treated as not reported. For the proxy to log or count.
     */
    public boolean usageMalformed() {
        return usage.malformed();
    }

    /**
     * True when the body is a provider's error object ({@code "error": {...}} at its top level: OpenAI's
     * and Anthropic's error shape, and a failed Responses object), whatever the status it came with.
     * A successful Responses object carries {@code "error": null}, which is not one.
     */
    public boolean errorBody() {
        return errorBody;
    }

    /** Generated text found in the body, counted with the model's encoding: the fallback when no usage is reported. */
    public long outputTokensCounted() {
        for (String text : uncountedText) {
            outputTokensCounted += counter.count(text);
        }
        uncountedText.clear();
        uncountedChars = 0;
        return outputTokensCounted;
    }

    private void drain() throws IOException {
        JsonToken token;
        while ((token = parser.nextToken()) != null && token != JsonToken.NOT_AVAILABLE) {
            boolean fieldName = token == JsonToken.FIELD_NAME;
            if (!fieldName && token != JsonToken.END_OBJECT && token != JsonToken.END_ARRAY) {
                afterFieldName = false; // a value (or a container) follows its name
            }
            switch (token) {
                case START_OBJECT, START_ARRAY -> {
                    String owner = usagePath(depth); // the field this container is the value of, inside usage
                    depth++;
                    if (depth < fieldAtDepth.length) {
                        fieldAtDepth[depth] = null;
                    }
                    if (depth == 2 && token == JsonToken.START_OBJECT && "error".equals(fieldAtDepth[1])) {
                        errorBody = true;
                    }
                    if (depth == 2 && usageDepth < 0 && "usage".equals(fieldAtDepth[1])) {
                        if (token == JsonToken.START_OBJECT) {
                            usageDepth = depth;
                        } else {
                            usage.rejectReport(); // "usage": [...] is no report
                        }
                    } else if (owner != null) {
                        usage.reject(owner); // a count given as a container
                    }
                }
                case END_OBJECT, END_ARRAY -> {
                    if (afterFieldName) {
                        // {"a": } is no JSON. Jackson's non-blocking parser refuses it when the bytes come together but
                        // has taken it when the close came in a later piece: refused here either way, so what the body
                        // says cannot depend on where the network cut it (found by the fuzzer, seed input cut-after-invalid-usage).
                        throw new IOException("a field without a value");
                    }
                    if (depth == usageDepth) {
                        usageDepth = Integer.MAX_VALUE; // the first top-level usage object is the one
                    }
                    depth--;
                }
                case FIELD_NAME -> {
                    afterFieldName = true;
                    if (depth < fieldAtDepth.length) {
                        fieldAtDepth[depth] = parser.currentName();
                    }
                }
                case VALUE_NUMBER_INT -> {
                    String path = usagePath(depth);
                    if (path != null) {
                        // A count beyond a long is not a count (getLongValue would throw on it).
                        usage.set(path, parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER ? -1 : parser.getLongValue());
                    } else if (isTopLevelUsage()) {
                        usage.rejectReport();
                    }
                }
                case VALUE_NUMBER_FLOAT, VALUE_TRUE, VALUE_FALSE -> {
                    String path = usagePath(depth);
                    if (path != null) {
                        usage.reject(path); // 24.5, 9.3e18, true: not a count
                    } else if (isTopLevelUsage()) {
                        usage.rejectReport();
                    }
                }
                case VALUE_STRING -> {
                    String path = usagePath(depth);
                    if (path != null && path.equals(StreamMeter.SERVICE_TIER_FIELD)) {
                        usage.serviceTier(parser.getText()); // Anthropic's usage.service_tier
                    } else if (path != null) {
                        usage.reject(path); // "24": a string is not a count
                    } else if (depth == 3 && "output".equals(fieldAtDepth[1]) && fieldAtDepth[2] == null && "type".equals(fieldAtDepth[3])) {
                        usage.outputItem(parser.getText()); // a Responses output item: a server tool call is one
                    } else if (depth == 1 && "service_tier".equals(fieldAtDepth[1])) {
                        usage.serviceTier(parser.getText()); // OpenAI's, on the completion or the response object
                    } else if (isTopLevelUsage()) {
                        usage.rejectReport();
                    } else if (depth >= 2 && depth < fieldAtDepth.length && fieldAtDepth[depth] != null
                            && GENERATED_TEXT.contains(fieldAtDepth[depth])) { // null: a string in an array, and Set.of refuses null
                        String text = parser.getText();
                        if (uncountedChars + text.length() <= UNCOUNTED_TEXT_LIMIT_CHARS) {
                            uncountedText.add(text);
                            uncountedChars += text.length();
                        } else {
                            outputTokensCounted += counter.count(text);
                        }
                    }
                }
                default -> {
                }
            }
        }
    }

    /** True when a scalar just read is the value of the body's first top-level {@code usage} field: no object, so no report. */
    private boolean isTopLevelUsage() {
        return depth == 1 && usageDepth < 0 && "usage".equals(fieldAtDepth[1]);
    }

    /**
     * The flattened usage path of the field last named at {@code atDepth} when that field is inside
     * the usage object (directly, or one details object deep); null elsewhere.
     */
    private String usagePath(int atDepth) {
        if (usageDepth <= 0 || usageDepth == Integer.MAX_VALUE || atDepth < usageDepth || atDepth > usageDepth + 1
                || atDepth >= fieldAtDepth.length || fieldAtDepth[atDepth] == null) {
            return null;
        }
        return atDepth == usageDepth ? fieldAtDepth[atDepth] : fieldAtDepth[usageDepth] + "." + fieldAtDepth[atDepth];
    }
}
