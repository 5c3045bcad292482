package dev.tollgate.config;

import static dev.tollgate.config.CatalogLoaderTest.HEADER;
import static dev.tollgate.config.CatalogLoaderTest.load;
import static dev.tollgate.config.CatalogLoaderTest.loadFails;
import static dev.tollgate.config.CatalogLoaderTest.row;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The catalog's token classes, server tool fees, per-request fees and unit prices: read as written, validated strictly. */
class TokenClassCatalogTest {
    private static final String CLASSES = "tokenClassMicrosPerMillionTokens: {cache_write_1h: 300000, audio_input: 4000000, reasoning: 900000}";

    @Test
    void tokenClassesFeesAndUnitPricesLoadAndChangeTheVersion() {
        PriceCatalog plain = load(HEADER + row("openai", "a"));
        PriceCatalog priced = load(HEADER + row("openai", "a", CLASSES,
                "serverToolFees: {web_search: {microsPerCall: 10000, maxCallsPerRequest: 20}}", "requestFeeMicros: 250",
                "unitPricesMicros: {image.1024x1024.high: 167000, audio_second: 100}"));
        ModelRow row = priced.find("openai", "a");
        assertThat(row.tokenClassPrices()).containsOnly(Map.entry(TokenClass.CACHE_WRITE_1H, 300_000L), Map.entry(TokenClass.AUDIO_INPUT, 4_000_000L),
                Map.entry(TokenClass.REASONING, 900_000L));
        assertThat(row.priceOf(TokenClass.AUDIO_INPUT, null)).isEqualTo(4_000_000);
        assertThat(row.priceOf(TokenClass.IMAGE_INPUT, null)).as("not named: its kind's price").isEqualTo(150_000);
        assertThat(row.priceOf(TokenClass.AUDIO_OUTPUT, null)).isEqualTo(600_000);
        assertThat(row.priceOf(TokenClass.CACHE_WRITE_1H, null)).isEqualTo(300_000);
        assertThat(row.maxInputMicrosPerMillionTokens()).as("the audio input is the dearest prompt token").isEqualTo(4_000_000);
        assertThat(row.maxOutputMicrosPerMillionTokens()).as("reasoning dearer than output").isEqualTo(900_000);
        assertThat(row.serverToolFees()).containsOnly(Map.entry("web_search", new ServerToolFee(10_000, 20)));
        assertThat(row.requestFeeMicros()).isEqualTo(250);
        assertThat(row.unitPrices()).containsOnly(Map.entry("image.1024x1024.high", 167_000L), Map.entry("audio_second", 100L));
        assertThat(priced.version()).isNotEqualTo(plain.version());
        assertThat(load(HEADER + row("openai", "a", "tokenClassMicrosPerMillionTokens: {}", "serverToolFees: {}", "unitPricesMicros: {}",
                "requestFeeMicros: 0")).version()).as("none of them: the version of a catalog before they existed").isEqualTo(plain.version());
        assertThat(load(HEADER + row("openai", "a", "tokenClassMicrosPerMillionTokens: {cache_write_1h: 300001, audio_input: 4000000, reasoning: 900000}",
                "serverToolFees: {web_search: {microsPerCall: 10000, maxCallsPerRequest: 20}}", "requestFeeMicros: 250",
                "unitPricesMicros: {image.1024x1024.high: 167000, audio_second: 100}")).version()).isNotEqualTo(priced.version());
    }

    @Test
    void aTierRepricesTheClassesOfItsRow() {
        PriceCatalog catalog = load(HEADER + row("anthropic", "claude", "endpoints: [messages]", "contextWindowTokens: 1000000",
                "tokenClassMicrosPerMillionTokens: {cache_write_1h: 6000000}",
                "tiers: [{abovePromptTokens: 200000, inputMicrosPerMillionTokens: 6000000, cacheReadMicrosPerMillionTokens: 600000,"
                        + " cacheWriteMicrosPerMillionTokens: 7500000, outputMicrosPerMillionTokens: 22500000,"
                        + " tokenClassMicrosPerMillionTokens: {cache_write_1h: 12000000}}]"));
        ModelRow row = catalog.find("anthropic", "claude");
        PriceTier tier = row.tierFor(200_001);
        assertThat(row.priceOf(TokenClass.CACHE_WRITE_1H, tier)).isEqualTo(12_000_000);
        assertThat(row.priceOf(TokenClass.CACHE_WRITE_1H, null)).isEqualTo(6_000_000);
        assertThat(row.maxInputMicrosPerMillionTokens(1_000_000)).as("a long prompt can reach the tier's one-hour write").isEqualTo(12_000_000);
        assertThat(row.maxInputMicrosPerMillionTokens(200_000)).isEqualTo(6_000_000);
    }

    @Test
    void unknownClassesTiersMissingAClassAndBadFeesAreRefused() {
        ConfigException e = loadFails(HEADER
                + row("openai", "a", "tokenClassMicrosPerMillionTokens: {video_input: 5, audio_in: 3, input: 1}")
                + row("openai", "b", "tokenClassMicrosPerMillionTokens: {audio_input: -1, image_output: 10000000001}")
                + row("openai", "c", "tokenClassMicrosPerMillionTokens: {audio_input: 3000000}",
                        "tiers: [{abovePromptTokens: 1000, inputMicrosPerMillionTokens: 5, cacheReadMicrosPerMillionTokens: 1,"
                                + " cacheWriteMicrosPerMillionTokens: 5, outputMicrosPerMillionTokens: 9}]")
                + row("openai", "d", "serverToolFees: {web_search: {microsPerCall: 10000}, Web-Fetch: {microsPerCall: 1, maxCallsPerRequest: 1}}")
                + row("openai", "e", "serverToolFees: {web_search: {microsPerCall: 10000001, maxCallsPerRequest: 0, perCall: 3}}")
                + row("openai", "f", "requestFeeMicros: -3", "unitPricesMicros: {Image Big: 3, audio_second: 1.5}"));
        assertThat(e.problems())
                .anySatisfy(p -> assertThat(p).contains("models[0].tokenClassMicrosPerMillionTokens.video_input").contains("unknown token class")
                        .contains("cache_write_1h"))
                .anySatisfy(p -> assertThat(p).contains("models[0].tokenClassMicrosPerMillionTokens.audio_in").contains("unknown token class"))
                .anySatisfy(p -> assertThat(p).contains("models[0].tokenClassMicrosPerMillionTokens.input").contains("fields of their own"))
                .anySatisfy(p -> assertThat(p).contains("models[1].tokenClassMicrosPerMillionTokens.audio_input").contains("must not be negative"))
                .anySatisfy(p -> assertThat(p).contains("models[1].tokenClassMicrosPerMillionTokens.image_output").contains("at most"))
                .anySatisfy(p -> assertThat(p).contains("models[2].tiers[0].tokenClassMicrosPerMillionTokens").contains("[audio_input]"))
                .anySatisfy(p -> assertThat(p).contains("models[3].serverToolFees.web_search.maxCallsPerRequest").contains("missing"))
                .anySatisfy(p -> assertThat(p).contains("models[3].serverToolFees.Web-Fetch").contains("server tool's name"))
                .anySatisfy(p -> assertThat(p).contains("models[4].serverToolFees.web_search.microsPerCall").contains("at most"))
                .anySatisfy(p -> assertThat(p).contains("models[4].serverToolFees.web_search.maxCallsPerRequest").contains("1..10000"))
                .anySatisfy(p -> assertThat(p).contains("models[4].serverToolFees.web_search.perCall").contains("unknown field"))
                .anySatisfy(p -> assertThat(p).contains("models[5].requestFeeMicros").contains("must not be negative"))
                .anySatisfy(p -> assertThat(p).contains("models[5].unitPricesMicros.Image Big").contains("unit's name"))
                .anySatisfy(p -> assertThat(p).contains("models[5].unitPricesMicros.audio_second").contains("whole number"));
        assertThat(e.problems()).hasSize(14);
    }

    @Test
    void aTimeWindowScalesTheClassesAndRefusesOneThatWouldNeedRounding() {
        String window = "timeWindows: [{timeZone: UTC, from: \"00:00\", until: \"24:00\", percent: 50}]";
        ModelRow row = load(HEADER + row("deepseek", "d", "tokenClassMicrosPerMillionTokens: {reasoning: 800000}", "requestFeeMicros: 7", window))
                .find("deepseek", "d");
        ModelRow offPeak = row.pricedAt(0);
        assertThat(offPeak.priceOf(TokenClass.REASONING, null)).isEqualTo(400_000);
        assertThat(offPeak.requestFeeMicros()).as("a fee is not a token price").isEqualTo(7);
        ConfigException e = loadFails(HEADER + row("deepseek", "d", "tokenClassMicrosPerMillionTokens: {reasoning: 800001}", window));
        assertThat(e.problems()).singleElement().satisfies(p -> assertThat(p).contains("timeWindows[0].percent").contains("800001"));
    }
}
