package dev.tollgate.metering;

/**
 * Tokens of one request, split into the kinds that have their own price. Each token is in exactly
 * one kind, so each is billed once:
 * <ul>
 *   <li>{@code inputTokens}: prompt tokens at the plain input price (cache reads and writes excluded);</li>
 *   <li>{@code cacheReadTokens}: prompt tokens served from the provider's prompt cache;</li>
 *   <li>{@code cacheWriteTokens}: prompt tokens written to the cache (Anthropic's cache creation);</li>
 *   <li>{@code outputTokens}: generated tokens, reasoning included.</li>
 * </ul>
 * {@code reasoningTokens} is informational: those tokens are already inside {@code outputTokens}.
 *
 * <p>The providers count differently and the factories normalize: OpenAI's {@code prompt_tokens}
 * (and the Responses API's {@code input_tokens}) include the cached tokens, while Anthropic's
 * {@code input_tokens} exclude both cache reads and cache writes.
 */
public record Usage(long inputTokens, long cacheReadTokens, long cacheWriteTokens, long outputTokens, long reasoningTokens) {
    public static final Usage ZERO = new Usage(0, 0, 0, 0, 0);

    public Usage {
        if (inputTokens < 0 || cacheReadTokens < 0 || cacheWriteTokens < 0 || outputTokens < 0 || reasoningTokens < 0) {
            throw new IllegalArgumentException("negative token count");
        }
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
