package dev.tollgate.metering;

import dev.tollgate.config.EndpointFamily;
import dev.tollgate.config.ModelRow;
import java.net.URI;
import java.time.LocalDate;
import java.util.Set;

/** Catalog rows for tests, priced like the shipped ones they are named after. */
public final class TestRows {
    private TestRows() {
    }

    public static ModelRow row(String provider, String model, Set<EndpointFamily> endpoints, String encoding, long contextWindow,
                               long maxOutput, long input, long cacheRead, long cacheWrite, long output) {
        return new ModelRow(provider, model, endpoints, encoding, contextWindow, maxOutput, input, cacheRead, cacheWrite, output,
                LocalDate.of(2025, 1, 1), URI.create("https://example.com/pricing"));
    }

    /** gpt-4o-mini: $0.15 in, $0.075 cached, $0.60 out per million tokens. */
    public static ModelRow gpt4oMini() {
        return row("openai", "gpt-4o-mini", Set.of(EndpointFamily.CHAT_COMPLETIONS, EndpointFamily.RESPONSES), "o200k_base",
                128_000, 16_384, 150_000, 75_000, 150_000, 600_000);
    }

    /** claude-haiku-4-5: $1 in, $0.10 cache read, $1.25 cache write, $5 out. */
    public static ModelRow claudeHaiku() {
        return row("anthropic", "claude-haiku-4-5", Set.of(EndpointFamily.MESSAGES), "cl100k_base",
                200_000, 64_000, 1_000_000, 100_000, 1_250_000, 5_000_000);
    }

    public static ModelRow instruct() {
        return row("openai", "gpt-3.5-turbo-instruct", Set.of(EndpointFamily.COMPLETIONS), "cl100k_base",
                4_096, 4_096, 1_500_000, 1_500_000, 1_500_000, 2_000_000);
    }

    public static ModelRow embeddingSmall() {
        return row("openai", "text-embedding-3-small", Set.of(EndpointFamily.EMBEDDINGS), "cl100k_base",
                8_191, 0, 20_000, 20_000, 20_000, 0);
    }
}
