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
        long cached = Math.min(Math.max(0, cachedTokens), Math.max(0, promptTokens));
        long output = Math.max(0, completionTokens);
        if (totalTokens > promptTokens + output) {
            output = totalTokens - promptTokens;
        }
        return new Usage(Math.max(0, promptTokens) - cached, cached, 0, output, Math.max(0, reasoningTokens));
    }

    /** From Anthropic fields, where {@code input_tokens} already excludes cache reads and writes. */
    public static Usage fromAnthropic(long inputTokens, long cacheReadInputTokens, long cacheCreationInputTokens, long outputTokens) {
        return new Usage(Math.max(0, inputTokens), Math.max(0, cacheReadInputTokens), Math.max(0, cacheCreationInputTokens), Math.max(0, outputTokens), 0);
    }

    public long promptTokens() {
        return inputTokens + cacheReadTokens + cacheWriteTokens;
    }
}
