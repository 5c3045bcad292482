package dev.tollgate.metering;

import java.util.Map;

/**
 * Tokens of one request, split into the kinds that have their own price. Each token is in exactly
 * one kind, so each is billed once:
 * <ul>
 *   <li>{@code inputTokens}: prompt tokens at the plain input price (cache reads and writes excluded);</li>
 *   <li>{@code cacheReadTokens}: prompt tokens served from the provider's prompt cache;</li>
 *   <li>{@code cacheWriteTokens}: prompt tokens written to the cache (Anthropic's cache creation);</li>
 *   <li>{@code outputTokens}: generated tokens, reasoning included.</li>
 * </ul>
 * {@code reasoningTokens} is informational unless a row prices it apart: those tokens are already inside
 * {@code outputTokens}. Likewise the modality and cache-lifetime counts are parts of a kind, as the providers report
 * them, never added to it: {@code cacheWrite1hTokens} of {@code cacheWriteTokens} (Anthropic's one-hour cache writes;
 * the rest are five-minute ones), {@code audioInputTokens} and {@code imageInputTokens} of {@code inputTokens},
 * {@code audioOutputTokens} and {@code imageOutputTokens} of {@code outputTokens}. A row that prices such a part apart
 * bills it at its own price and the rest of the kind at the kind's; a row that does not bills the whole kind at the
 * kind's price, so a part the provider did not report costs what it did before.
 *
 * <p>{@code serverToolCalls} counts calls of a provider's server tools by name ({@code web_search}, {@code web_fetch}),
 * each priced per call by the row; {@code units} counts what an endpoint priced per unit rather than per token
 * served (images by size and quality, seconds of audio or video), priced per unit by the row. Both are empty for a
 * request without them.
 *
 * <p>The providers count differently and the factories normalize: OpenAI's {@code prompt_tokens}
 * (and the Responses API's {@code input_tokens}) include the cached tokens, while Anthropic's
 * {@code input_tokens} exclude both cache reads and cache writes.
 */
public record Usage(long inputTokens, long cacheReadTokens, long cacheWriteTokens, long outputTokens, long reasoningTokens,
                    long cacheWrite1hTokens, long audioInputTokens, long imageInputTokens, long audioOutputTokens, long imageOutputTokens,
                    Map<String, Long> serverToolCalls, Map<String, Long> units) {
    public static final Usage ZERO = new Usage(0, 0, 0, 0, 0);
    /** At most this many server tools or units in one request's usage: more is no real request, and the journal bounds it. */
    public static final int MAX_COUNTED_NAMES = 8;

    public Usage {
        if (inputTokens < 0 || cacheReadTokens < 0 || cacheWriteTokens < 0 || outputTokens < 0 || reasoningTokens < 0
                || cacheWrite1hTokens < 0 || audioInputTokens < 0 || imageInputTokens < 0 || audioOutputTokens < 0 || imageOutputTokens < 0) {
            throw new IllegalArgumentException("negative token count");
        }
        if (cacheWrite1hTokens > cacheWriteTokens || saturatedSum(audioInputTokens, imageInputTokens) > inputTokens
                || saturatedSum(audioOutputTokens, imageOutputTokens) > outputTokens) {
            throw new IllegalArgumentException("a part of a kind of tokens is larger than the kind");
        }
        serverToolCalls = counts(serverToolCalls, "server tool");
        units = counts(units, "unit");
    }

    /** Tokens of the four priced kinds and reasoning, without parts priced apart, server tools or units. */
    public Usage(long inputTokens, long cacheReadTokens, long cacheWriteTokens, long outputTokens, long reasoningTokens) {
        this(inputTokens, cacheReadTokens, cacheWriteTokens, outputTokens, reasoningTokens, 0, 0, 0, 0, 0, Map.of(), Map.of());
    }

    private static Map<String, Long> counts(Map<String, Long> counts, String what) {
        if (counts.isEmpty()) {
            return Map.of();
        }
        if (counts.size() > MAX_COUNTED_NAMES) {
            throw new IllegalArgumentException("more than " + MAX_COUNTED_NAMES + " " + what + "s");
        }
        for (Map.Entry<String, Long> entry : counts.entrySet()) {
            if (!dev.tollgate.config.ModelRow.isCountedName(entry.getKey()) || entry.getValue() == null || entry.getValue() <= 0) {
                throw new IllegalArgumentException("a " + what + " count needs a name of [a-z0-9_.] and a positive count: " + entry);
            }
        }
        return Map.copyOf(counts);
    }

    /** True when some part is counted apart or some server tool or unit was used: what only a newer journal layout can hold. */
    public boolean hasParts() {
        return cacheWrite1hTokens != 0 || audioInputTokens != 0 || imageInputTokens != 0 || audioOutputTokens != 0 || imageOutputTokens != 0
                || !serverToolCalls.isEmpty() || !units.isEmpty();
    }

    /** This usage's kinds and reasoning alone, without the parts priced apart, server tools or units. */
    public Usage kinds() {
        return hasParts() ? new Usage(inputTokens, cacheReadTokens, cacheWriteTokens, outputTokens, reasoningTokens) : this;
    }

    /** This usage with the parts of its kinds, as a provider reported them; each clamped to what its kind holds. */
    public Usage withParts(long cacheWrite1h, long audioInput, long imageInput, long audioOutput, long imageOutput) {
        if ((cacheWrite1h | audioInput | imageInput | audioOutput | imageOutput) == 0 && cacheWrite1hTokens == 0 && audioInputTokens == 0
                && imageInputTokens == 0 && audioOutputTokens == 0 && imageOutputTokens == 0) {
            return this; // the common case: a report without parts, read per stream event
        }
        long cw1h = Math.min(Math.max(0, cacheWrite1h), cacheWriteTokens);
        long audioIn = Math.min(Math.max(0, audioInput), inputTokens);
        long imageIn = Math.min(Math.max(0, imageInput), inputTokens - audioIn);
        long audioOut = Math.min(Math.max(0, audioOutput), outputTokens);
        long imageOut = Math.min(Math.max(0, imageOutput), outputTokens - audioOut);
        return new Usage(inputTokens, cacheReadTokens, cacheWriteTokens, outputTokens, reasoningTokens, cw1h, audioIn, imageIn, audioOut, imageOut,
                serverToolCalls, units);
    }

    /** This usage with {@code serverToolCalls} as the calls of server tools. */
    public Usage withServerToolCalls(Map<String, Long> calls) {
        return new Usage(inputTokens, cacheReadTokens, cacheWriteTokens, outputTokens, reasoningTokens, cacheWrite1hTokens, audioInputTokens,
                imageInputTokens, audioOutputTokens, imageOutputTokens, calls, units);
    }

    /** This usage with {@code units} as the units used. */
    public Usage withUnits(Map<String, Long> counted) {
        return new Usage(inputTokens, cacheReadTokens, cacheWriteTokens, outputTokens, reasoningTokens, cacheWrite1hTokens, audioInputTokens,
                imageInputTokens, audioOutputTokens, imageOutputTokens, serverToolCalls, counted);
    }

    /**
     * From OpenAI-protocol fields. {@code totalTokens} (or -1 if absent) guards against providers that
     * leave thinking tokens out of {@code completion_tokens} but count them in the total (as Gemini's
     * OpenAI-compatible endpoint does): the output billed is never less than {@code total - prompt}.
     */
    public static Usage fromOpenAi(long promptTokens, long cachedTokens, long completionTokens, long totalTokens, long reasoningTokens) {
        long prompt = Math.max(0, promptTokens);
        long cached = Math.min(Math.max(0, cachedTokens), prompt);
        long output = Math.max(0, completionTokens);
        if (totalTokens > saturatedSum(prompt, output)) {
            output = totalTokens - prompt; // no overflow: total > prompt >= 0
        }
        return new Usage(prompt - cached, cached, 0, output, Math.max(0, reasoningTokens));
    }

    /** From Anthropic fields, where {@code input_tokens} already excludes cache reads and writes. */
    public static Usage fromAnthropic(long inputTokens, long cacheReadInputTokens, long cacheCreationInputTokens, long outputTokens) {
        return new Usage(Math.max(0, inputTokens), Math.max(0, cacheReadInputTokens), Math.max(0, cacheCreationInputTokens), Math.max(0, outputTokens), 0);
    }

    /** All prompt tokens, cached or not; saturates at {@code Long.MAX_VALUE} rather than overflow (the counts come from a provider). */
    public long promptTokens() {
        return saturatedSum(saturatedSum(inputTokens, cacheReadTokens), cacheWriteTokens);
    }

    /** Prompt and output tokens, as a provider's {@code total_tokens}; saturating like {@link #promptTokens}. */
    public long totalTokens() {
        return saturatedSum(promptTokens(), outputTokens);
    }

    /** {@code a + b} for non-negative counts, {@code Long.MAX_VALUE} where the sum would overflow. */
    public static long saturatedSum(long a, long b) {
        long sum = a + b;
        return sum < 0 ? Long.MAX_VALUE : sum;
    }
}
