package dev.tollgate.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The shipped catalog: it loads with no problems and every row is priced the way the file's header promises. */
class BuiltinCatalogTest {
    private static PriceCatalog catalog;

    @BeforeAll
    static void load() {
        catalog = CatalogLoader.loadBuiltin();
    }

    @Test
    void packagedResourceIsTheOperatorsFile() throws IOException {
        // Surefire runs in the module directory, where operators edit config/pricing.yaml.
        byte[] onDisk = Files.readAllBytes(Path.of("pricing.yaml"));
        try (InputStream in = CatalogLoader.class.getResourceAsStream(CatalogLoader.BUILTIN_RESOURCE)) {
            assertThat(in).as("the catalog is packaged at " + CatalogLoader.BUILTIN_RESOURCE).isNotNull();
            assertThat(in.readAllBytes()).isEqualTo(onDisk);
        }
    }

    @Test
    void loadsWithItsHeader() {
        assertThat(catalog.currency()).isEqualTo("USD");
        assertThat(catalog.microsPerUnit()).isEqualTo(1_000_000L);
        assertThat(catalog.rows()).hasSizeGreaterThan(20);
    }

    @Test
    void everyProviderOfTheFileIsPresent() {
        Set<String> providers = new HashSet<>();
        catalog.rows().forEach(row -> providers.add(row.provider()));
        assertThat(providers).containsExactlyInAnyOrder("openai", "anthropic", "google", "deepseek");
    }

    @Test
    void openAisToolRowsChargeWebAndFileSearchCallsAtItsPublishedFees() {
        // $10 per 1,000 web search calls and $2.50 per 1,000 file search calls, the same on every model that has the tools.
        for (String model : new String[] {"gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-5.1", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano",
                "gpt-4o", "gpt-4o-mini", "o3", "o4-mini"}) {
            ModelRow row = catalog.find("openai", model);
            assertThat(row.serverToolFees()).as(model).containsOnlyKeys("web_search", "file_search");
            assertThat(row.serverToolFees().get("web_search").microsPerCall()).as(model).isEqualTo(10_000);
            assertThat(row.serverToolFees().get("file_search").microsPerCall()).as(model).isEqualTo(2_500);
        }
        assertThat(catalog.find("openai", "text-embedding-3-small").serverToolFees()).as("embeddings run no tools").isEmpty();
    }

    @Test
    void noDuplicateRowsAndEveryRowIsFoundByItsKeyWhenInForce() {
        Set<String> keys = new HashSet<>();
        for (ModelRow row : catalog.rows()) {
            // A model may have several price sets, one per effective period: the key is (provider, model, row version).
            assertThat(keys.add(row.provider() + "\u0000" + row.model() + "\u0000" + row.rowVersion()))
                    .as("duplicate row %s/%s %s", row.provider(), row.model(), row.rowVersion()).isTrue();
            long inForceMs = row.effectiveFrom() != null ? row.effectiveFrom().toEpochMilli()
                    : row.effectiveUntil() != null ? row.effectiveUntil().toEpochMilli() - 1 : System.currentTimeMillis();
            assertThat(catalog.find(row.provider(), row.model(), inForceMs)).isSameAs(row);
        }
        // gemini-3.8-flash's promotion ends on 2027-01-01 by itself: the last instant of 2026 is at the promotion's price.
        long newYearMs = java.time.Instant.parse("2027-01-01T00:00:00Z").toEpochMilli();
        assertThat(catalog.find("google", "gemini-3.8-flash", newYearMs - 1).inputMicrosPerMillionTokens()).isEqualTo(750_000);
        assertThat(catalog.find("google", "gemini-3.8-flash", newYearMs).inputMicrosPerMillionTokens()).isEqualTo(1_500_000);
        assertThat(catalog.find("openai", "no-such-model")).isNull();
        assertThat(catalog.find("anthropic", "gpt-4o")).as("rows are keyed by provider too").isNull();
    }

    @Test
    void everyRowHasPositiveInputPricesAndSaneLimits() {
        for (ModelRow row : catalog.rows()) {
            String what = row.provider() + "/" + row.model();
            assertThat(row.inputMicrosPerMillionTokens()).as(what + " input").isPositive();
            assertThat(row.cacheReadMicrosPerMillionTokens()).as(what + " cacheRead").isPositive();
            assertThat(row.cacheWriteMicrosPerMillionTokens()).as(what + " cacheWrite").isPositive();
            assertThat(row.cacheReadMicrosPerMillionTokens()).as(what + " a cache hit is never dearer than plain input")
                    .isLessThanOrEqualTo(row.inputMicrosPerMillionTokens());
            assertThat(row.cacheWriteMicrosPerMillionTokens()).as(what + " a cache write is never cheaper than plain input")
                    .isGreaterThanOrEqualTo(row.inputMicrosPerMillionTokens());
            assertThat(row.contextWindowTokens()).as(what + " context window").isPositive()
                    .isLessThanOrEqualTo(ModelRow.MAX_CONTEXT_WINDOW_TOKENS);
            assertThat(row.maxOutputTokens()).as(what + " max output").isLessThanOrEqualTo(row.contextWindowTokens());
            // The dearest prompt token: a cache write, or for Anthropic a one-hour one at twice the input price.
            assertThat(row.maxInputMicrosPerMillionTokens()).isEqualTo(row.provider().equals("anthropic")
                    ? 2 * row.inputMicrosPerMillionTokens() : row.cacheWriteMicrosPerMillionTokens());
            assertThat(row.maxInputMicrosPerMillionTokens(row.contextWindowTokens(), false)).as(what + " without one-hour writes")
                    .isEqualTo(row.tiers().isEmpty() ? row.cacheWriteMicrosPerMillionTokens()
                            : row.tiers().getLast().cacheWriteMicrosPerMillionTokens());
            assertThat(CatalogLoader.ENCODINGS).contains(row.encoding());
            assertThat(row.source().getScheme()).isEqualTo("https");
            assertThat(row.asOf()).isNotNull();
            assertThat(row.endpoints()).isNotEmpty();
        }
    }

    @Test
    void generatingRowsHavePositiveOutputPriceAndCap() {
        for (ModelRow row : catalog.rows()) {
            if (!row.serves(EndpointFamily.EMBEDDINGS)) {
                assertThat(row.outputMicrosPerMillionTokens()).as(row.model() + " output").isPositive();
                assertThat(row.maxOutputTokens()).as(row.model() + " maxOutputTokens").isPositive();
                assertThat(row.outputMicrosPerMillionTokens()).as(row.model() + " output dearer than input")
                        .isGreaterThan(row.inputMicrosPerMillionTokens());
            }
        }
    }

    @Test
    void embeddingsRowsServeOnlyEmbeddingsAndGenerateNothing() {
        int embeddingRows = 0;
        for (ModelRow row : catalog.rows()) {
            if (row.serves(EndpointFamily.EMBEDDINGS)) {
                embeddingRows++;
                assertThat(row.endpoints()).as(row.model()).containsExactly(EndpointFamily.EMBEDDINGS);
                assertThat(row.outputMicrosPerMillionTokens()).as(row.model()).isZero();
                assertThat(row.maxOutputTokens()).as(row.model()).isZero();
                // The header's rule: embedding rows with no cached price carry cacheRead = cacheWrite = input.
                assertThat(row.cacheReadMicrosPerMillionTokens()).isEqualTo(row.inputMicrosPerMillionTokens());
                assertThat(row.cacheWriteMicrosPerMillionTokens()).isEqualTo(row.inputMicrosPerMillionTokens());
            }
        }
        assertThat(embeddingRows).isEqualTo(2);
    }

    @Test
    void eachRowSpeaksTheProtocolOfItsProvider() {
        for (ModelRow row : catalog.rows()) {
            Protocol expected = row.provider().equals("anthropic") ? Protocol.ANTHROPIC : Protocol.OPENAI;
            for (EndpointFamily family : row.endpoints()) {
                assertThat(family.protocol()).as(row.model() + " serves " + family).isEqualTo(expected);
            }
            if (expected == Protocol.ANTHROPIC) {
                assertThat(row.endpoints()).containsExactly(EndpointFamily.MESSAGES);
            }
        }
    }

    @Test
    void anthropicCacheWritesAreTheFiveMinutePriceOfOneAndAQuarterInput() {
        for (ModelRow row : catalog.rows()) {
            if (row.provider().equals("anthropic")) {
                assertThat(row.cacheWriteMicrosPerMillionTokens() * 4).as(row.model())
                        .isEqualTo(row.inputMicrosPerMillionTokens() * 5);
            }
        }
    }

    @Test
    void pricesSpotChecked() {
        ModelRow mini = catalog.find("openai", "gpt-4o-mini");
        assertThat(mini.inputMicrosPerMillionTokens()).isEqualTo(150_000);
        assertThat(mini.cacheReadMicrosPerMillionTokens()).isEqualTo(75_000);
        assertThat(mini.outputMicrosPerMillionTokens()).isEqualTo(600_000);
        assertThat(mini.contextWindowTokens()).isEqualTo(128_000);
        assertThat(mini.maxOutputTokens()).isEqualTo(16_384);
        assertThat(mini.encoding()).isEqualTo("o200k_base");
        assertThat(mini.endpoints()).containsExactlyInAnyOrder(EndpointFamily.CHAT_COMPLETIONS, EndpointFamily.RESPONSES);

        ModelRow instruct = catalog.find("openai", "gpt-3.5-turbo-instruct");
        assertThat(instruct.endpoints()).containsExactly(EndpointFamily.COMPLETIONS);

        ModelRow haiku = catalog.find("anthropic", "claude-haiku-4-5");
        assertThat(haiku.inputMicrosPerMillionTokens()).isEqualTo(1_000_000);
        assertThat(haiku.cacheWriteMicrosPerMillionTokens()).isEqualTo(1_250_000);
        assertThat(haiku.cacheReadMicrosPerMillionTokens()).isEqualTo(100_000);
        assertThat(haiku.outputMicrosPerMillionTokens()).isEqualTo(5_000_000);
    }
}
