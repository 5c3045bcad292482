package dev.tollgate.metering.stream;

import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.Usage;
import java.util.Arrays;

/**
 * The numeric fields of a provider's {@code usage} object as they arrive, before they are
 * normalized into a {@link Usage}. Later values replace earlier ones, which is what Anthropic's
 * cumulative {@code message_delta} usage needs.
 */
public final class UsageFields {
    /** The flattened names recognized, each with its slot. */
    enum Field {
        PROMPT_TOKENS("prompt_tokens"),
        COMPLETION_TOKENS("completion_tokens"),
        TOTAL_TOKENS("total_tokens"),
        PROMPT_CACHED_TOKENS("prompt_tokens_details.cached_tokens"),
        COMPLETION_REASONING_TOKENS("completion_tokens_details.reasoning_tokens"),
        PROMPT_CACHE_HIT_TOKENS("prompt_cache_hit_tokens"),
        INPUT_TOKENS("input_tokens"),
        OUTPUT_TOKENS("output_tokens"),
        INPUT_CACHED_TOKENS("input_tokens_details.cached_tokens"),
        OUTPUT_REASONING_TOKENS("output_tokens_details.reasoning_tokens"),
        CACHE_READ_INPUT_TOKENS("cache_read_input_tokens"),
        CACHE_CREATION_INPUT_TOKENS("cache_creation_input_tokens"),
        /** Anthropic: the one-hour part of the cache writes (the five-minute part is {@code ephemeral_5m_input_tokens}, the rest). */
        CACHE_CREATION_1H_INPUT_TOKENS("cache_creation.ephemeral_1h_input_tokens"),
        PROMPT_AUDIO_TOKENS("prompt_tokens_details.audio_tokens"),
        PROMPT_IMAGE_TOKENS("prompt_tokens_details.image_tokens"),
        COMPLETION_AUDIO_TOKENS("completion_tokens_details.audio_tokens"),
        INPUT_AUDIO_TOKENS("input_tokens_details.audio_tokens"),
        INPUT_IMAGE_TOKENS("input_tokens_details.image_tokens"),
        OUTPUT_IMAGE_TOKENS("output_tokens_details.image_tokens"),
        /** Anthropic's {@code server_tool_use}: calls of its server tools, each billed per call where the row charges for it. */
        WEB_SEARCH_REQUESTS("server_tool_use.web_search_requests"),
        WEB_FETCH_REQUESTS("server_tool_use.web_fetch_requests");

        final String path;

        Field(String path) {
            this.path = path;
        }

        /** {@code values()} copies its array on every call; this lookup runs for every usage field read. */
        private static final Field[] ALL = values();

        static Field of(String path) {
            for (Field field : ALL) {
                if (field.path.equals(path)) {
                    return field;
                }
            }
            return null;
        }
    }

    private final long[] values = new long[Field.ALL.length];
    /** The service tier the response says served it, null until it says one; a name, never a count, so beside the counts. */
    private String serviceTier;
    private boolean any;
    private int malformedCount;
    /** OpenAI Responses: server tool calls counted from the response's output items, which say what ran (usage does not). */
    private long webSearchCalls;
    private long fileSearchCalls;

    public UsageFields() {
        Arrays.fill(values, -1);
    }

    /**
     * Records one field by its flattened path (for example {@code prompt_tokens_details.cached_tokens});
     * unknown paths are ignored. A negative value is a malformed report: see {@link #reject}.
     */
    public void set(String path, long value) {
        if (value < 0) {
            reject(path);
            return;
        }
        Field field = Field.of(path);
        if (field != null) {
            values[field.ordinal()] = value;
            any = true;
        }
    }

    /**
     * Records that a known field came with something other than a non-negative whole number that
     * fits a long (a negative, a fraction, an exponent, a string, a number beyond a long, a
     * container). The provider's counts are untrusted, so the field counts as not reported, even if
     * an earlier event reported it (Anthropic's {@code message_start} placeholder must not stand in
     * for a malformed {@code message_delta} count): the caller falls back to its own count. Unknown
     * paths are ignored, as in {@link #set}.
     */
    public void reject(String path) {
        Field field = Field.of(path);
        if (field != null) {
            values[field.ordinal()] = -1;
            malformedCount++;
        }
    }

    /** Records a usage report that is not an object at all ({@code "usage": "24"}): malformed, no field reported by it. */
    public void rejectReport() {
        malformedCount++;
    }

    /** Forgets a field without counting it malformed: for a value known to be a placeholder. */
    void forget(String path) {
        Field field = Field.of(path);
        if (field != null) {
            values[field.ordinal()] = -1;
        }
    }

    /**
     * The service tier the provider reports having served the request at ({@code default}, {@code flex},
     * {@code priority}, {@code standard}...), or null when it reported none; the last report wins.
     */
    public String serviceTier() {
        return serviceTier;
    }

    void serviceTier(String name) {
        serviceTier = name;
    }

    /**
     * Counts one output item of a Responses object by its {@code type}: a {@code web_search_call} or
     * {@code file_search_call} is one call of that server tool (OpenAI reports them there, not in usage).
     * Other items are ignored.
     */
    public void outputItem(String type) {
        if ("web_search_call".equals(type)) {
            webSearchCalls++;
        } else if ("file_search_call".equals(type)) {
            fileSearchCalls++;
        }
    }

    /** True when some field was reported with a well-formed count. */
    public boolean any() {
        return any;
    }

    /**
     * How many malformed counts the provider reported: known fields (see {@link #reject}), each then
     * counted as not reported, and usage reports that were not objects (see {@link #rejectReport}).
     */
    public int malformedCount() {
        return malformedCount;
    }

    /** True when the provider's usage report had at least one malformed count. */
    public boolean malformed() {
        return malformedCount > 0;
    }

    long get(Field field) {
        return values[field.ordinal()];
    }

    private long getOrZero(Field field) {
        return Math.max(0, values[field.ordinal()]);
    }

    /** True when the fields hold the prompt and output counts that a complete usage object of this family carries. */
    public boolean complete(EndpointFamily family) {
        return switch (family) {
            case CHAT_COMPLETIONS, COMPLETIONS -> get(Field.PROMPT_TOKENS) >= 0 && get(Field.COMPLETION_TOKENS) >= 0;
            case EMBEDDINGS -> get(Field.PROMPT_TOKENS) >= 0;
            case RESPONSES, MESSAGES -> get(Field.INPUT_TOKENS) >= 0 && get(Field.OUTPUT_TOKENS) >= 0;
        };
    }

    /** True when the prompt side is known (Anthropic reports it in message_start, before any output). */
    public boolean promptKnown(EndpointFamily family) {
        return switch (family) {
            case CHAT_COMPLETIONS, COMPLETIONS, EMBEDDINGS -> get(Field.PROMPT_TOKENS) >= 0;
            case RESPONSES, MESSAGES -> get(Field.INPUT_TOKENS) >= 0;
        };
    }

    /** The output tokens reported so far, or -1. */
    public long outputTokens(EndpointFamily family) {
        return switch (family) {
            case CHAT_COMPLETIONS, COMPLETIONS -> get(Field.COMPLETION_TOKENS);
            case EMBEDDINGS -> 0;
            case RESPONSES, MESSAGES -> get(Field.OUTPUT_TOKENS);
        };
    }

    /**
     * The normalized usage, with {@code promptTokensIfUnknown} standing in for an unreported prompt
     * and {@code outputTokensAtLeast} as a floor on the output (the inline count, for streams cut short).
     */
    public Usage toUsage(EndpointFamily family, long promptTokensIfUnknown, long outputTokensAtLeast) {
        Usage kinds = kinds(family, promptTokensIfUnknown, outputTokensAtLeast);
        Usage usage = kinds.withParts(getOrZero(Field.CACHE_CREATION_1H_INPUT_TOKENS),
                Usage.saturatedSum(getOrZero(Field.PROMPT_AUDIO_TOKENS), getOrZero(Field.INPUT_AUDIO_TOKENS)), // a surface reports one of each pair
                Usage.saturatedSum(getOrZero(Field.PROMPT_IMAGE_TOKENS), getOrZero(Field.INPUT_IMAGE_TOKENS)),
                getOrZero(Field.COMPLETION_AUDIO_TOKENS), getOrZero(Field.OUTPUT_IMAGE_TOKENS));
        // A surface reports its calls one way: Anthropic in usage.server_tool_use, OpenAI as output items.
        long webSearches = Usage.saturatedSum(getOrZero(Field.WEB_SEARCH_REQUESTS), webSearchCalls);
        long webFetches = getOrZero(Field.WEB_FETCH_REQUESTS);
        if (webSearches == 0 && webFetches == 0 && fileSearchCalls == 0) {
            return usage;
        }
        java.util.Map<String, Long> calls = new java.util.HashMap<>(4);
        if (webSearches > 0) {
            calls.put("web_search", webSearches);
        }
        if (webFetches > 0) {
            calls.put("web_fetch", webFetches);
        }
        if (fileSearchCalls > 0) {
            calls.put("file_search", fileSearchCalls);
        }
        return usage.withServerToolCalls(calls);
    }

    private Usage kinds(EndpointFamily family, long promptTokensIfUnknown, long outputTokensAtLeast) {
        boolean promptKnown = promptKnown(family);
        long output = Math.max(outputTokens(family), outputTokensAtLeast);
        return switch (family) {
            case CHAT_COMPLETIONS, COMPLETIONS, EMBEDDINGS -> {
                long cached = get(Field.PROMPT_CACHED_TOKENS) >= 0 ? get(Field.PROMPT_CACHED_TOKENS) : getOrZero(Field.PROMPT_CACHE_HIT_TOKENS);
                long prompt = promptKnown ? get(Field.PROMPT_TOKENS) : promptTokensIfUnknown;
                long total = promptKnown ? get(Field.TOTAL_TOKENS) : -1;
                yield family == EndpointFamily.EMBEDDINGS
                        ? Usage.fromOpenAi(prompt, cached, 0, -1, 0)
                        : Usage.fromOpenAi(prompt, cached, output, total, getOrZero(Field.COMPLETION_REASONING_TOKENS));
            }
            case RESPONSES -> {
                long prompt = promptKnown ? get(Field.INPUT_TOKENS) : promptTokensIfUnknown;
                long total = promptKnown ? get(Field.TOTAL_TOKENS) : -1;
                yield Usage.fromOpenAi(prompt, getOrZero(Field.INPUT_CACHED_TOKENS), output, total, getOrZero(Field.OUTPUT_REASONING_TOKENS));
            }
            case MESSAGES -> Usage.fromAnthropic(promptKnown ? get(Field.INPUT_TOKENS) : promptTokensIfUnknown,
                    getOrZero(Field.CACHE_READ_INPUT_TOKENS), getOrZero(Field.CACHE_CREATION_INPUT_TOKENS), output);
        };
    }
}
