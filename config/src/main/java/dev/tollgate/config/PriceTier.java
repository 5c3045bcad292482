package dev.tollgate.config;

/**
 * The prices of a model for a prompt longer than {@code abovePromptTokens}: a provider that reprices long prompts
 * bills the <b>whole</b> request at them (OpenAI above 272K tokens, Gemini Pro and Claude Sonnet above 200K), not only
 * the tokens past the threshold. The prompt counted against the threshold is all of it: plain input, cache reads and
 * cache writes. Prices are micro-units per million tokens, as a row's own.
 */
public record PriceTier(
        long abovePromptTokens,
        long inputMicrosPerMillionTokens,
        long cacheReadMicrosPerMillionTokens,
        long cacheWriteMicrosPerMillionTokens,
        long outputMicrosPerMillionTokens) {

    /** The most one prompt token can cost at this tier. */
    public long maxInputMicrosPerMillionTokens() {
        return Math.max(inputMicrosPerMillionTokens, Math.max(cacheReadMicrosPerMillionTokens, cacheWriteMicrosPerMillionTokens));
    }
}
