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

    /**
     * claude-sonnet-4-5 as shipped: $3 in, $0.30 cache read, $3.75 cache write, $15 out; prompts above 200,000 tokens all
     * at $6, $0.60, $7.50 and $22.50.
     */
    public static ModelRow claudeSonnetTiered() {
        return new ModelRow("anthropic", "claude-sonnet-4-5", Set.of(EndpointFamily.MESSAGES), "cl100k_base", 1_000_000, 64_000,
                3_000_000, 300_000, 3_750_000, 15_000_000, LocalDate.of(2025, 9, 29), URI.create("https://example.com/pricing"),
                java.util.List.of(new dev.tollgate.config.PriceTier(200_000, 6_000_000, 600_000, 7_500_000, 22_500_000)));
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
