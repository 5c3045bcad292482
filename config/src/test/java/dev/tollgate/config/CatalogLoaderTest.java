package dev.tollgate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Strict validation of a catalog file: every mistake is one problem line naming the file and the path. */
class CatalogLoaderTest {
    static final String HEADER = "currency: USD\nmicrosPerUnit: 1000000\nmodels:\n";

    /** A valid row; each {@code override} line replaces the field of the same name (or adds one). */
    static String row(String provider, String model, String... overrides) {
        String[][] fields = {
            {"provider", provider},
            {"model", model},
            {"endpoints", "[chat_completions, responses]"},
            {"encoding", "o200k_base"},
            {"contextWindowTokens", "128000"},
            {"maxOutputTokens", "16384"},
            {"inputMicrosPerMillionTokens", "150000"},
            {"cacheReadMicrosPerMillionTokens", "75000"},
            {"cacheWriteMicrosPerMillionTokens", "150000"},
            {"outputMicrosPerMillionTokens", "600000"},
            {"asOf", "2024-10-01"},
            {"source", "https://platform.openai.com/docs/pricing"},
        };
        StringBuilder out = new StringBuilder();
        java.util.Set<String> replaced = new java.util.HashSet<>();
        for (String[] field : fields) {
            String value = field[1];
            for (String override : overrides) {
                String name = override.substring(0, override.indexOf(':'));
                if (name.equals(field[0])) {
                    value = override.substring(override.indexOf(':') + 1).strip();
                    replaced.add(name);
                }
            }
            if (!value.equals("<absent>")) {
                out.append(out.isEmpty() ? "  - " : "    ").append(field[0]).append(": ").append(value).append('\n');
            }
        }
        for (String override : overrides) {
            String name = override.substring(0, override.indexOf(':'));
            if (!replaced.contains(name)) {
                out.append("    ").append(override).append('\n');
            }
        }
        return out.toString();
    }

    static PriceCatalog load(String yaml) {
        return CatalogLoader.load("prices.yaml", new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)));
    }

    static ConfigException loadFails(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> load(yaml));
        assertThat(e).as("expected a ConfigException for:\n" + yaml).isNotNull();
        return e;
    }

    @Test
    void validCatalogLoadsAsWritten() {
        PriceCatalog catalog = load(HEADER + row("openai", "gpt-4o-mini")
                + row("anthropic", "claude-haiku-4-5", "endpoints: [messages]", "encoding: cl100k_base",
                        "inputMicrosPerMillionTokens: 1000000", "cacheWriteMicrosPerMillionTokens: 1250000")
                + row("openai", "text-embedding-3-small", "endpoints: [embeddings]", "maxOutputTokens: 0",
                        "outputMicrosPerMillionTokens: 0", "contextWindowTokens: 8191"));
        assertThat(catalog.currency()).isEqualTo("USD");
        assertThat(catalog.microsPerUnit()).isEqualTo(1_000_000);
        assertThat(catalog.rows()).extracting(ModelRow::model).containsExactly("gpt-4o-mini", "claude-haiku-4-5", "text-embedding-3-small");
        ModelRow mini = catalog.find("openai", "gpt-4o-mini");
        assertThat(mini).isEqualTo(new ModelRow("openai", "gpt-4o-mini",
                java.util.Set.of(EndpointFamily.CHAT_COMPLETIONS, EndpointFamily.RESPONSES), "o200k_base", 128_000, 16_384,
                150_000, 75_000, 150_000, 600_000, LocalDate.of(2024, 10, 1), URI.create("https://platform.openai.com/docs/pricing")));
        ModelRow haiku = catalog.find("anthropic", "claude-haiku-4-5");
        assertThat(haiku.maxInputMicrosPerMillionTokens()).isEqualTo(1_250_000);
        assertThat(haiku.serves(EndpointFamily.MESSAGES)).isTrue();
        assertThat(haiku.serves(EndpointFamily.CHAT_COMPLETIONS)).isFalse();
    }

    static Stream<Arguments> singleMistakes() {
        return Stream.of(
                Arguments.of("negative price", HEADER + row("openai", "m", "outputMicrosPerMillionTokens: -1"),
                        "prices.yaml: models[0].outputMicrosPerMillionTokens: must not be negative, found -1"),
                Arguments.of("fractional price", HEADER + row("openai", "m", "inputMicrosPerMillionTokens: 0.15"),
                        "prices.yaml: models[0].inputMicrosPerMillionTokens: expected a whole number, found 0.15"),
                Arguments.of("price as text", HEADER + row("openai", "m", "inputMicrosPerMillionTokens: \"$0.15\""),
                        "prices.yaml: models[0].inputMicrosPerMillionTokens: expected a whole number"),
                Arguments.of("price too high to multiply safely", HEADER + row("openai", "m", "cacheReadMicrosPerMillionTokens: 10000000001"),
                        "prices.yaml: models[0].cacheReadMicrosPerMillionTokens: must be at most 10000000000"),
                Arguments.of("missing price", HEADER + row("openai", "m", "cacheWriteMicrosPerMillionTokens: <absent>"),
                        "prices.yaml: models[0].cacheWriteMicrosPerMillionTokens: missing"),
                Arguments.of("unknown row field", HEADER + row("openai", "m", "batchDiscount: 50"),
                        "prices.yaml: models[0].batchDiscount: unknown field"),
                Arguments.of("unknown top-level field", "vendor: acme\n" + HEADER + row("openai", "m"),
                        "prices.yaml: vendor: unknown field"),
                Arguments.of("duplicate row", HEADER + row("openai", "m") + row("openai", "other") + row("openai", "m"),
                        "prices.yaml: models[2]: duplicate model row (openai, m)"),
                Arguments.of("unknown endpoint", HEADER + row("openai", "m", "endpoints: [chat_completions, images]"),
                        "prices.yaml: models[0].endpoints[1]: expected one of"),
                Arguments.of("no endpoints", HEADER + row("openai", "m", "endpoints: []"),
                        "prices.yaml: models[0].endpoints: must not be empty"),
                Arguments.of("mixed protocols", HEADER + row("openai", "m", "endpoints: [chat_completions, messages]"),
                        "prices.yaml: models[0].endpoints: mixes OpenAI and Anthropic endpoint families"),
                Arguments.of("unknown encoding", HEADER + row("openai", "m", "encoding: o300k_base"),
                        "prices.yaml: models[0].encoding: expected one of"),
                Arguments.of("zero context window", HEADER + row("openai", "m", "contextWindowTokens: 0", "maxOutputTokens: 0", "endpoints: [embeddings]"),
                        "prices.yaml: models[0].contextWindowTokens: must be positive"),
                Arguments.of("context window too large", HEADER + row("openai", "m", "contextWindowTokens: 100000001"),
                        "prices.yaml: models[0].contextWindowTokens: must be at most 100000000"),
                Arguments.of("output cap above the window", HEADER + row("openai", "m", "maxOutputTokens: 200000"),
                        "prices.yaml: models[0].maxOutputTokens: must not exceed contextWindowTokens (128000)"),
                Arguments.of("chat model that cannot generate", HEADER + row("openai", "m", "maxOutputTokens: 0"),
                        "prices.yaml: models[0].maxOutputTokens: must be positive for a model serving"),
                Arguments.of("bad date", HEADER + row("openai", "m", "asOf: 2024-13-01"),
                        "prices.yaml: models[0].asOf: expected an ISO date"),
                Arguments.of("source not http", HEADER + row("openai", "m", "source: file:///etc/passwd"),
                        "prices.yaml: models[0].source: expected an absolute http(s) URL"),
                Arguments.of("empty model name", HEADER + row("openai", "m", "model: \"\""),
                        "prices.yaml: models[0].model: expected a non-empty string"),
                Arguments.of("row not a mapping", HEADER + "  - gpt-4o\n",
                        "prices.yaml: models[0]: expected a mapping, found \"gpt-4o\""),
                Arguments.of("models not a list", "currency: USD\nmicrosPerUnit: 1000000\nmodels: gpt-4o\n",
                        "prices.yaml: models: expected a list"),
                Arguments.of("no models", "currency: USD\nmicrosPerUnit: 1000000\nmodels: []\n",
                        "prices.yaml: models: must not be empty"),
                Arguments.of("zero micros per unit", "currency: USD\nmicrosPerUnit: 0\nmodels:\n" + row("openai", "m"),
                        "prices.yaml: microsPerUnit: must be positive"),
                Arguments.of("missing currency", "microsPerUnit: 1000000\nmodels:\n" + row("openai", "m"),
                        "prices.yaml: currency: missing"),
                Arguments.of("duplicate YAML key", HEADER + row("openai", "m") + "    provider: anthropic\n",
                        "prices.yaml: line "),
                Arguments.of("not a mapping at all", "- 1\n- 2\n",
                        "prices.yaml: expected a mapping"),
                Arguments.of("empty file", "",
                        "prices.yaml: the file is empty"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("singleMistakes")
    void eachMistakeIsExactlyOneProblemNamingFileAndPath(String what, String yaml, String expectedStart) {
        ConfigException e = loadFails(yaml);
        assertThat(e.problems()).as(what).hasSize(1);
        assertThat(e.problems().getFirst()).as(what).startsWith(expectedStart);
        assertThat(e.getMessage()).isEqualTo(e.problems().getFirst());
    }

    @Test
    void severalMistakesAreAllReportedAtOnce() {
        ConfigException e = loadFails("currency: USD\nmicrosPerUnit: 1000000\nextra: 1\nmodels:\n"
                + row("openai", "a", "inputMicrosPerMillionTokens: -5")
                + row("openai", "b", "colour: blue")
                + row("openai", "c")
                + row("openai", "c", "encoding: nope")
                + row("openai", "d")
                + row("openai", "d"));
        assertThat(e.problems()).containsExactly(
                "prices.yaml: models[0].inputMicrosPerMillionTokens: must not be negative, found -5",
                "prices.yaml: models[1].colour: unknown field (known fields: provider, model, endpoints, encoding, contextWindowTokens, "
                        + "maxOutputTokens, inputMicrosPerMillionTokens, cacheReadMicrosPerMillionTokens, cacheWriteMicrosPerMillionTokens, "
                        + "outputMicrosPerMillionTokens, asOf, source, tiers, timeWindows, retiredOn, serviceTiers, tokenClassMicrosPerMillionTokens, "
                        + "serverToolFees, requestFeeMicros, unitPricesMicros, effectiveFrom, effectiveUntil)",
                "prices.yaml: models[3].encoding: expected one of " + CatalogLoader.ENCODINGS + ", found \"nope\"",
                "prices.yaml: models[5]: duplicate model row (openai, d): models[4] [since always, until replaced) and models[5] [since always, "
                        + "until replaced) both have no effectiveFrom; only the first price set of a model may be in force since always",
                "prices.yaml: extra: unknown field (known fields: currency, microsPerUnit, models)");
    }

    private static String tier(long above, long price) {
        return "{abovePromptTokens: " + above + ", inputMicrosPerMillionTokens: " + price + ", cacheReadMicrosPerMillionTokens: " + price / 10
                + ", cacheWriteMicrosPerMillionTokens: " + price + ", outputMicrosPerMillionTokens: " + 4 * price + "}";
    }

    @Test
    void longPromptTiersLoadInOrderAndChangeTheVersion() {
        PriceCatalog flat = load(HEADER + row("openai", "gpt-long"));
        PriceCatalog tiered = load(HEADER + row("openai", "gpt-long", "tiers: [" + tier(64_000, 300_000) + ", " + tier(100_000, 450_000) + "]"));
        ModelRow row = tiered.find("openai", "gpt-long");
        assertThat(row.tiers()).containsExactly(new PriceTier(64_000, 300_000, 30_000, 300_000, 1_200_000),
                new PriceTier(100_000, 450_000, 45_000, 450_000, 1_800_000));
        assertThat(row.tierFor(64_000)).isNull();
        assertThat(row.tierFor(64_001).abovePromptTokens()).isEqualTo(64_000);
        assertThat(row.tierFor(127_999).abovePromptTokens()).isEqualTo(100_000);
        assertThat(tiered.version()).isNotEqualTo(flat.version());
        assertThat(load(HEADER + row("openai", "gpt-long", "tiers: []")).version()).as("no tiers: the version of a catalog before tiers")
                .isEqualTo(flat.version());
    }

    @Test
    void tiersOutOfOrderBeyondTheWindowOrIncompleteAreRefused() {
        ConfigException e = loadFails(HEADER
                + row("openai", "a", "tiers: [" + tier(100_000, 2) + ", " + tier(64_000, 3) + "]")
                + row("openai", "b", "tiers: [" + tier(128_000, 2) + "]")
                + row("openai", "c", "tiers: [{abovePromptTokens: 1000, inputMicrosPerMillionTokens: 5}]")
                + row("openai", "d", "tiers: [" + tier(0, 2) + "]")
                + row("openai", "e", "tiers: [{abovePromptTokens: 1000, inputMicrosPerMillionTokens: 5, cacheReadMicrosPerMillionTokens: 1,"
                        + " cacheWriteMicrosPerMillionTokens: 5, outputMicrosPerMillionTokens: 9, audioMicrosPerMillionTokens: 3}]")
                + row("openai", "f", "tiers: {abovePromptTokens: 1000}"));
        assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains("models[0].tiers[1].abovePromptTokens")
                        .contains("must be above the tier before it (100000)"))
                .anySatisfy(p -> assertThat(p).contains("models[1].tiers[0].abovePromptTokens").contains("must be below contextWindowTokens (128000)"))
                .anySatisfy(p -> assertThat(p).contains("models[2].tiers[0].outputMicrosPerMillionTokens"))
                .anySatisfy(p -> assertThat(p).contains("models[3].tiers[0].abovePromptTokens").contains("must be positive"))
                .anySatisfy(p -> assertThat(p).contains("models[4].tiers[0]").contains("audioMicrosPerMillionTokens"))
                .anySatisfy(p -> assertThat(p).contains("models[5].tiers").contains("expected a list"));
    }

    @Test
    void serviceTiersLoadAndChangeTheVersionOnlyWhenARowHasThem() {
        PriceCatalog catalog = load(HEADER + row("openai", "a", "serviceTiers: {flex: 50, priority: 200, scale_2: 1000}") + row("openai", "b"));
        ModelRow a = catalog.find("openai", "a");
        assertThat(a.serviceTiers()).containsOnly(java.util.Map.entry("flex", 50), java.util.Map.entry("priority", 200),
                java.util.Map.entry("scale_2", 1000));
        assertThat(a.servicePercent("flex")).isEqualTo(50);
        assertThat(a.servicePercent("default")).as("a tier the row does not name").isEqualTo(100);
        assertThat(a.servicePercent(null)).as("none reported").isEqualTo(100);
        assertThat(a.maxServicePercent()).isEqualTo(1000);
        assertThat(catalog.find("openai", "b").serviceTiers()).isEmpty();
        assertThat(catalog.find("openai", "b").maxServicePercent()).isEqualTo(100);

        String plain = load(HEADER + row("openai", "a") + row("openai", "b")).version();
        assertThat(load(HEADER + row("openai", "a", "serviceTiers: {}") + row("openai", "b")).version()).isEqualTo(plain);
        assertThat(catalog.version()).isNotEqualTo(plain);
        assertThat(load(HEADER + row("openai", "a", "serviceTiers: {priority: 200, flex: 50, scale_2: 1000}") + row("openai", "b")).version())
                .as("the order written does not matter").isEqualTo(catalog.version());
        assertThat(load(HEADER + row("openai", "a", "serviceTiers: {flex: 51, priority: 200, scale_2: 1000}") + row("openai", "b")).version())
                .isNotEqualTo(catalog.version());
    }

    @Test
    void serviceTiersWithBadNamesOrPercentsAreRefused() {
        ConfigException e = loadFails(HEADER
                + row("openai", "a", "serviceTiers: {Flex: 50}")
                + row("openai", "b", "serviceTiers: {\"pri ority\": 200, flex-1: 50}")
                + row("openai", "c", "serviceTiers: {flex: 0, priority: 1001, batch: -5}")
                + row("openai", "d", "serviceTiers: {flex: 50.5, priority: \"200\", batch: null}")
                + row("openai", "e", "serviceTiers: [flex]")
                + row("openai", "f", "serviceTier: {flex: 50}"));
        assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains("models[0].serviceTiers.Flex").contains("lower case letters"))
                .anySatisfy(p -> assertThat(p).contains("models[1].serviceTiers.pri ority").contains("lower case letters"))
                .anySatisfy(p -> assertThat(p).contains("models[1].serviceTiers.flex-1").contains("lower case letters"))
                .anySatisfy(p -> assertThat(p).contains("models[2].serviceTiers.flex").contains("between 1 and 1000, found 0"))
                .anySatisfy(p -> assertThat(p).contains("models[2].serviceTiers.priority").contains("between 1 and 1000, found 1001"))
                .anySatisfy(p -> assertThat(p).contains("models[2].serviceTiers.batch").contains("must not be negative"))
                .anySatisfy(p -> assertThat(p).contains("models[3].serviceTiers.flex").contains("whole number"))
                .anySatisfy(p -> assertThat(p).contains("models[3].serviceTiers.priority").contains("whole number"))
                .anySatisfy(p -> assertThat(p).contains("models[3].serviceTiers.batch").contains("missing"))
                .anySatisfy(p -> assertThat(p).contains("models[4].serviceTiers").contains("expected a mapping"))
                .anySatisfy(p -> assertThat(p).contains("models[5].serviceTier").contains("unknown field"));
        assertThat(e.problems()).hasSize(11);
    }

    @Test
    void timeWindowsLoadAndTheShippedDeepSeekRowsAreHalfPriceOffPeak() {
        PriceCatalog catalog = load(HEADER + row("deepseek", "dsk", "timeWindows: [{timeZone: Asia/Shanghai, days: [sat, sun], from: \"22:00\","
                + " until: \"06:00\", percent: 50}, {timeZone: Asia/Shanghai, from: \"12:00\", until: \"13:00\", percent: 200}]"));
        ModelRow row = catalog.find("deepseek", "dsk");
        assertThat(row.timeWindows()).hasSize(2);
        assertThat(row.timeWindows().get(1).days()).hasSize(7);
        assertThat(row.pricedAt(java.time.Instant.parse("2026-12-07T04:30:00Z").toEpochMilli()).outputMicrosPerMillionTokens())
                .as("Monday 12:30 in Shanghai: the surcharge").isEqualTo(1_200_000);

        PriceCatalog shipped = CatalogLoader.loadBuiltin();
        ModelRow flash = shipped.find("deepseek", "deepseek-flash");
        long weekdayPeak = java.time.Instant.parse("2026-12-07T02:00:00Z").toEpochMilli(); // Monday 02:00 UTC
        long weekdayOffPeak = java.time.Instant.parse("2026-12-07T10:00:00Z").toEpochMilli();
        long weekend = java.time.Instant.parse("2026-12-06T03:00:00Z").toEpochMilli(); // Sunday
        assertThat(flash.pricedAt(weekdayPeak).outputMicrosPerMillionTokens()).isEqualTo(1_200_000);
        assertThat(flash.pricedAt(weekdayOffPeak).outputMicrosPerMillionTokens()).isEqualTo(600_000);
        assertThat(flash.pricedAt(weekend).cacheReadMicrosPerMillionTokens()).isEqualTo(3_000);
        assertThat(flash.pricedAt(java.time.Instant.parse("2026-12-07T09:59:00Z").toEpochMilli())).as("the last peak minute").isSameAs(flash);
    }

    @Test
    void timeWindowsThatOverlapMixZonesOrWouldNeedRoundingAreRefused() {
        String window = "{timeZone: UTC, from: \"10:00\", until: \"12:00\", percent: 50}";
        ConfigException e = loadFails(HEADER
                + row("deepseek", "a", "timeWindows: [" + window + ", {timeZone: UTC, days: [mon], from: \"11:59\", until: \"13:00\", percent: 50}]")
                + row("deepseek", "b", "timeWindows: [" + window + ", {timeZone: Asia/Tokyo, from: \"01:00\", until: \"02:00\", percent: 50}]")
                + row("deepseek", "c", "inputMicrosPerMillionTokens: 150001", "timeWindows: [" + window + "]")
                + row("deepseek", "d", "timeWindows: [{timeZone: Mars/Olympus, from: \"25:00\", until: \"10:00\", percent: 0}]")
                + row("deepseek", "e", "timeWindows: [{timeZone: UTC, days: [monday], from: \"10:00\", until: \"10:00\", percent: 50}]"));
        assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains("models[0].timeWindows[1].from").contains("overlaps an earlier window")
                        .contains("mon 11:59"))
                .anySatisfy(p -> assertThat(p).contains("models[1].timeWindows[1].timeZone").contains("one time zone per row"))
                .anySatisfy(p -> assertThat(p).contains("models[2].timeWindows[0].percent").contains("50% of the price 150001"))
                .anySatisfy(p -> assertThat(p).contains("models[3].timeWindows[0].timeZone").contains("Mars/Olympus"))
                .anySatisfy(p -> assertThat(p).contains("models[3].timeWindows[0].from").contains("\"HH:MM\""))
                .anySatisfy(p -> assertThat(p).contains("models[3].timeWindows[0].percent"))
                .anySatisfy(p -> assertThat(p).contains("models[4].timeWindows[0].days").contains("monday"))
                .anySatisfy(p -> assertThat(p).contains("models[4].timeWindows[0].until").contains("must differ from from"));
    }

    @Test
    void rowsOfDifferentProvidersMayShareAModelName() {
        PriceCatalog catalog = load(HEADER + row("openai", "shared") + row("azure", "shared", "inputMicrosPerMillionTokens: 1"));
        assertThat(catalog.find("openai", "shared").inputMicrosPerMillionTokens()).isEqualTo(150_000);
        assertThat(catalog.find("azure", "shared").inputMicrosPerMillionTokens()).isEqualTo(1);
    }

    @Test
    void readingAMissingFileIsOneProblem(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        java.nio.file.Path missing = dir.resolve("nope.yaml");
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> CatalogLoader.load(missing));
        assertThat(e.problems()).singleElement().asString().startsWith(missing + ": cannot read");
    }

    /** gpt-4o-mini at its list price until a promotion on 2026-12-15 12:00 UTC halves its output until the year ends, then list again. */
    static final String PROMOTED = HEADER
            + row("openai", "m", "effectiveUntil: 2026-12-15T12:00:00Z")
            + row("openai", "m", "effectiveFrom: 2026-12-15T12:00:00Z", "effectiveUntil: 2027-01-01", "outputMicrosPerMillionTokens: 300000")
            + row("openai", "m", "effectiveFrom: 2027-01-01");

    private static long ms(String instant) {
        return java.time.Instant.parse(instant).toEpochMilli();
    }

    @Test
    void effectiveDatedRowsLoadAsDaysOrInstantsAndEachMomentFindsTheOneInForce() {
        PriceCatalog catalog = load(PROMOTED);
        assertThat(catalog.rows()).hasSize(3);
        java.util.List<ModelRow> versions = catalog.versions("openai", "m");
        assertThat(versions).extracting(ModelRow::effectiveFrom).containsExactly(null, java.time.Instant.parse("2026-12-15T12:00:00Z"),
                java.time.Instant.parse("2027-01-01T00:00:00Z"));
        assertThat(versions.get(1).effectiveUntil()).as("a day alone is its start, UTC").isEqualTo(java.time.Instant.parse("2027-01-01T00:00:00Z"));
        assertThat(versions).extracting(ModelRow::rowVersion).containsExactly("", "2026-12-15T12:00:00Z", "2027-01-01T00:00:00Z");
        long promotionFromMs = ms("2026-12-15T12:00:00Z");
        long promotionUntilMs = ms("2027-01-01T00:00:00Z");
        assertThat(catalog.find("openai", "m", promotionFromMs - 1)).isSameAs(versions.get(0));
        assertThat(catalog.find("openai", "m", promotionFromMs)).isSameAs(versions.get(1));
        assertThat(catalog.find("openai", "m", promotionUntilMs - 1)).isSameAs(versions.get(1));
        assertThat(catalog.find("openai", "m", promotionUntilMs)).isSameAs(versions.get(2));
        assertThat(catalog.find("openai", "m", Long.MIN_VALUE)).as("the first version is in force since always").isSameAs(versions.get(0));
        assertThat(catalog.find("openai", "other", promotionFromMs)).isNull();
        assertThat(catalog.version()).isNotEqualTo(load(HEADER + row("openai", "m")).version());
    }

    @Test
    void aModelWhosePricesBeginLaterOrEndedHasNoneOutsideThem() {
        PriceCatalog catalog = load(HEADER + row("openai", "m", "effectiveFrom: 2026-12-01", "effectiveUntil: 2026-12-08"));
        assertThat(catalog.find("openai", "m", ms("2026-12-01T00:00:00Z") - 1)).isNull();
        assertThat(catalog.find("openai", "m", ms("2026-12-01T00:00:00Z"))).isNotNull();
        assertThat(catalog.find("openai", "m", ms("2026-12-08T00:00:00Z") - 1)).isNotNull();
        assertThat(catalog.find("openai", "m", ms("2026-12-08T00:00:00Z"))).isNull();
    }

    @Test
    void overlappingPeriodsGapsTwoUndatedRowsAndEmptyPeriodsAreRefusedNamingBothRows() {
        ConfigException e = loadFails(HEADER
                + row("openai", "overlap", "effectiveUntil: 2026-12-20")
                + row("openai", "overlap", "effectiveFrom: 2026-12-15")
                + row("openai", "gap", "effectiveUntil: 2026-12-10")
                + row("openai", "gap", "effectiveFrom: 2026-12-11")
                + row("openai", "undated")
                + row("openai", "undated", "inputMicrosPerMillionTokens: 1")
                + row("openai", "same-start", "effectiveFrom: 2026-12-01")
                + row("openai", "same-start", "effectiveFrom: 2026-12-01T00:00:00Z")
                + row("openai", "backwards", "effectiveFrom: 2026-12-10", "effectiveUntil: 2026-12-10")
                + row("openai", "not-a-moment", "effectiveFrom: next tuesday"));
        assertThat(e.problems()).containsExactly(
                "prices.yaml: models[8].effectiveUntil: must be after effectiveFrom (2026-12-10T00:00:00Z): a price set in force for no time",
                "prices.yaml: models[9].effectiveFrom: expected a day like 2026-01-01 (00:00 UTC) or an instant like 2026-01-01T12:00:00Z, found \"next tuesday\"",
                "prices.yaml: models[1]: overlapping effective periods of (openai, overlap): models[0] [since always, 2026-12-20T00:00:00Z) and "
                        + "models[1] [2026-12-15T00:00:00Z, until replaced); a request must have exactly one price",
                "prices.yaml: models[3]: a gap in the effective periods of (openai, gap): models[2] [since always, 2026-12-10T00:00:00Z) and "
                        + "models[3] [2026-12-11T00:00:00Z, until replaced) leave 2026-12-10T00:00:00Z to 2026-12-11T00:00:00Z unpriced; "
                        + "end the earlier where the later begins",
                "prices.yaml: models[5]: duplicate model row (openai, undated): models[4] [since always, until replaced) and models[5] [since always, "
                        + "until replaced) both have no effectiveFrom; only the first price set of a model may be in force since always",
                "prices.yaml: models[7]: overlapping effective periods of (openai, same-start): models[6] [2026-12-01T00:00:00Z, until replaced) and "
                        + "models[7] [2026-12-01T00:00:00Z, until replaced); a request must have exactly one price");
    }
}
