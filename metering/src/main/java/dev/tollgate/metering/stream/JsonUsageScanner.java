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
 * messages all report usage as a top-level {@code usage} object.
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
            switch (token) {
                case START_OBJECT, START_ARRAY -> {
                    depth++;
                    if (depth < fieldAtDepth.length) {
                        fieldAtDepth[depth] = null;
                    }
                    if (depth == 2 && usageDepth < 0 && "usage".equals(fieldAtDepth[1]) && token == JsonToken.START_OBJECT) {
                        usageDepth = depth;
                    }
                }
                case END_OBJECT, END_ARRAY -> {
                    if (depth == usageDepth) {
                        usageDepth = Integer.MAX_VALUE; // the first top-level usage object is the one
                    }
                    depth--;
                }
                case FIELD_NAME -> {
                    if (depth < fieldAtDepth.length) {
                        fieldAtDepth[depth] = parser.currentName();
                    }
                }
                case VALUE_NUMBER_INT -> {
                    if (usageDepth > 0 && usageDepth != Integer.MAX_VALUE && depth >= usageDepth && depth <= usageDepth + 1) {
                        String name = depth == usageDepth ? fieldAtDepth[depth] : fieldAtDepth[usageDepth] + "." + fieldAtDepth[depth];
                        usage.set(name, parser.getLongValue());
                    }
                }
                case VALUE_STRING -> {
                    if (depth >= 2 && depth < fieldAtDepth.length && GENERATED_TEXT.contains(fieldAtDepth[depth])) {
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
}
