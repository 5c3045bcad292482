package dev.tollgate.config;

/**
 * The prices of a model for a prompt longer than {@code abovePromptTokens}: a provider that reprices long prompts
 * bills the <b>whole</b> request at them (OpenAI above 272K tokens, Gemini Pro and Claude Sonnet above 200K), not only
 * the tokens past the threshold. The prompt counted against the threshold is all of it: plain input, cache reads and
 * cache writes. Prices are micro-units per million tokens, as a row's own. {@code tokenClassPrices} reprice the token
 * classes the row prices apart (the catalog requires a tier to name each of them, so no class keeps a short-prompt
 * price in a long-prompt request by omission).
 */
public record PriceTier(
        long abovePromptTokens,
        long inputMicrosPerMillionTokens,
        long cacheReadMicrosPerMillionTokens,
        long cacheWriteMicrosPerMillionTokens,
        long outputMicrosPerMillionTokens,
        java.util.Map<TokenClass, Long> tokenClassPrices) {

    public PriceTier {
        tokenClassPrices = java.util.Map.copyOf(tokenClassPrices);
    }

    /** A tier of the four kinds' prices only. */
    public PriceTier(long abovePromptTokens, long inputMicrosPerMillionTokens, long cacheReadMicrosPerMillionTokens,
                     long cacheWriteMicrosPerMillionTokens, long outputMicrosPerMillionTokens) {
        this(abovePromptTokens, inputMicrosPerMillionTokens, cacheReadMicrosPerMillionTokens, cacheWriteMicrosPerMillionTokens,
                outputMicrosPerMillionTokens, java.util.Map.of());
    }

    /** The most one output token can cost at this tier: its output price or that of a class part of the output. */
    public long maxOutputMicrosPerMillionTokens() {
        return ModelRow.maxOutput(outputMicrosPerMillionTokens, tokenClassPrices);
    }
}
