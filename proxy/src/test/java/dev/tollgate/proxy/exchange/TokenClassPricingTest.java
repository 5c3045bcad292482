package dev.tollgate.proxy.exchange;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.proxy.admin.AdminTestNode;
import dev.tollgate.proxy.admin.AdminTestNode.Billed;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Token classes priced apart, server tool fees and per-request fees through the proxy: the simulated provider reports
 * the parts in the real wire fields (Anthropic's {@code cache_creation.ephemeral_1h_input_tokens} and
 * {@code server_tool_use.web_search_requests}, OpenAI's {@code prompt_tokens_details.audio_tokens} and
 * {@code completion_tokens_details.audio_tokens}, the Responses API's {@code web_search_call} output items), and each request is billed to the micro-unit against a hand-computed
 * cost, JSON and streamed; the reservation covers the fees the request can incur, and re-rating reproduces every debit.
 */
class TokenClassPricingTest {
    /**
     * claude-x: $1 in, $0.10 cache read, $1.25 five-minute write, $2 one-hour write, $5 out; web search $10 per 1,000.
     * gpt-x: $0.15 in, $0.075 cached, $0.60 out, audio $10 in and $20 out; a fee of 100 micros a request; web search
     * $10 and file search $2.50 per 1,000 calls.
     */
    private static final String CATALOG = """
            currency: USD
            microsPerUnit: 1000000
            models:
              - provider: anthropic
                model: claude-x
                endpoints: [messages]
                encoding: cl100k_base
                contextWindowTokens: 200000
                maxOutputTokens: 8192
                inputMicrosPerMillionTokens: 1000000
                cacheReadMicrosPerMillionTokens: 100000
                cacheWriteMicrosPerMillionTokens: 1250000
                outputMicrosPerMillionTokens: 5000000
                tokenClassMicrosPerMillionTokens: {cache_write_1h: 2000000}
                serverToolFees:
                  web_search: {microsPerCall: 10000, maxCallsPerRequest: 5}
                asOf: 2026-12-01
                source: https://docs.anthropic.com/en/docs/about-claude/pricing
              - provider: openai
                model: gpt-x
                endpoints: [chat_completions, responses]
                encoding: o200k_base
                contextWindowTokens: 128000
                maxOutputTokens: 16384
                inputMicrosPerMillionTokens: 150000
                cacheReadMicrosPerMillionTokens: 75000
                cacheWriteMicrosPerMillionTokens: 150000
                outputMicrosPerMillionTokens: 600000
                tokenClassMicrosPerMillionTokens: {audio_input: 10000000, audio_output: 20000000}
                requestFeeMicros: 100
                serverToolFees:
                  web_search: {microsPerCall: 10000, maxCallsPerRequest: 4}
                  file_search: {microsPerCall: 2500, maxCallsPerRequest: 4}
                asOf: 2026-12-01
                source: https://platform.openai.com/docs/pricing
            """;

    @TempDir
    Path dir;

    private AdminTestNode.Running running;

    @BeforeEach
    void start() throws Exception {
        PriceCatalog catalog = CatalogLoader.load("prices.yaml", new ByteArrayInputStream(CATALOG.getBytes(StandardCharsets.UTF_8)));
        running = AdminTestNode.Running.start(dir, catalog);
        running.fund(50_000_000, "fund");
    }

    @AfterEach
    void stop() {
        if (running != null) {
            running.close();
        }
    }

    private static String messages(boolean stream, String tools, String directives) {
        return "{\"model\":\"claude-x\",\"stream\":" + stream + ",\"max_tokens\":64," + tools
                + "\"messages\":[{\"role\":\"user\",\"content\":\"What is the weather in Paris today? " + directives + "\"}]}";
    }

    /** A request whose system prompt asks for a one-hour cache, as Anthropic's API is asked for one. */
    private static String messagesCachedForAnHour(boolean stream, String tools, String directives) {
        return "{\"model\":\"claude-x\",\"stream\":" + stream + ",\"max_tokens\":64," + tools
                + "\"system\":[{\"type\":\"text\",\"text\":\"You answer weather questions.\",\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}}],"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"What is the weather in Paris today? " + directives + "\"}]}";
    }

    private static final String WEB_SEARCH_AT_MOST_3 = "\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\",\"max_uses\":3}],";
    private static final String WEB_SEARCH = "\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}],";

    /** ceil of the tokens' exact cost at claude-x's prices, by hand, then the searches at 10,000 micros each. */
    private static long claudeByHand(Billed billed, long searches) {
        long fiveMinuteWrites = billed.tokens("cache_write_tokens") - billed.tokens("cache_write_1h_tokens");
        long numerator = billed.tokens("input_tokens") * 1_000_000 + billed.tokens("cache_read_tokens") * 100_000 + fiveMinuteWrites * 1_250_000
                + billed.tokens("cache_write_1h_tokens") * 2_000_000 + billed.tokens("output_tokens") * 5_000_000;
        return Math.ceilDiv(numerator, 1_000_000L) + searches * 10_000;
    }

    @Test
    void oneHourCacheWritesAreBilledAtTheirOwnPriceAndWebSearchesPerCall() throws Exception {
        for (boolean stream : new boolean[] {false, true}) {
            String body = messagesCachedForAnHour(stream, WEB_SEARCH_AT_MOST_3,
                    "[sim:events=9] [sim:cached=4] [sim:cache-write=3] [sim:cache-write-1h=5] [sim:web-search=2]");
            Billed billed = running.billed("/v1/messages", body);
            assertThat(billed.tokens("cache_write_tokens")).as("stream=%s", stream).isEqualTo(8);
            assertThat(billed.tokens("cache_write_1h_tokens")).isEqualTo(5);
            assertThat(billed.entry().path("server_tool_calls").path("web_search").asLong()).isEqualTo(2);
            assertThat(billed.costMicros()).as("stream=%s", stream).isEqualTo(claudeByHand(billed, 2));
            // The one-hour writes at the five-minute price would cost 5 * $0.75 / 1M less: the class is what bills them.
            assertThat(billed.costMicros()).isGreaterThan(20_000);
            // The reservation covers the prompt at the dearest input class ($2), 64 output tokens and the 3 searches allowed.
            long bound = body.getBytes(StandardCharsets.UTF_8).length + 64;
            assertThat(billed.reservedMicros()).isEqualTo(Math.ceilDiv(bound * 2_000_000, 1_000_000L) + Math.ceilDiv(64L * 5_000_000, 1_000_000L) + 30_000);

            // Asking for no one-hour cache, the reservation leaves that price out, and one-hour writes reported anyway
            // (a provider writes none it was not asked for) are billed as five-minute ones.
            String plainBody = messages(stream, "", "[sim:events=9] [sim:cache-write=3] [sim:cache-write-1h=5]");
            Billed plain = running.billed("/v1/messages", plainBody);
            long plainBound = plainBody.getBytes(StandardCharsets.UTF_8).length + 64;
            assertThat(plain.reservedMicros()).isEqualTo(Math.ceilDiv(plainBound * 1_250_000, 1_000_000L) + Math.ceilDiv(64L * 5_000_000, 1_000_000L));
            assertThat(plain.tokens("cache_write_tokens")).isEqualTo(8);
            assertThat(plain.tokens("cache_write_1h_tokens")).isZero();
            assertThat(plain.costMicros()).isEqualTo(claudeByHand(plain, 0));
        }
        AdminTestNode.assertRerateReproducesTheDebits(running.node());
    }

    @Test
    void searchesBeyondWhatTheRequestAllowedAreBilledAtTheBound() throws Exception {
        for (boolean stream : new boolean[] {false, true}) {
            // Declared with max_uses 3, reported 7: billed 3.
            Billed capped = running.billed("/v1/messages", messages(stream, WEB_SEARCH_AT_MOST_3, "[sim:events=4] [sim:web-search=7]"));
            assertThat(capped.entry().path("server_tool_calls").path("web_search").asLong()).isEqualTo(3);
            assertThat(capped.costMicros()).isEqualTo(claudeByHand(capped, 3));
            // Declared without max_uses: the catalog's maxCallsPerRequest (5) is the bound.
            Billed catalogBound = running.billed("/v1/messages", messages(stream, WEB_SEARCH, "[sim:events=4] [sim:web-search=7]"));
            assertThat(catalogBound.costMicros()).isEqualTo(claudeByHand(catalogBound, 5));
            // Not declared at all: a provider runs no server tool it was not given, so no search is billed.
            Billed undeclared = running.billed("/v1/messages", messages(stream, "", "[sim:events=4] [sim:web-search=2]"));
            assertThat(undeclared.entry().path("server_tool_calls").isEmpty()).isTrue();
            assertThat(undeclared.costMicros()).isEqualTo(claudeByHand(undeclared, 0));
        }
        AdminTestNode.assertRerateReproducesTheDebits(running.node());
    }

    @Test
    void audioTokensAreBilledAtTheAudioPricesAndEachRequestPaysItsFee() throws Exception {
        for (boolean stream : new boolean[] {false, true}) {
            String body = "{\"model\":\"gpt-x\",\"stream\":" + stream + ",\"max_tokens\":64,\"messages\":[{\"role\":\"user\","
                    + "\"content\":\"Say hello in a cheerful voice, please, and then say goodbye. [sim:events=9] [sim:audio-in=3] [sim:audio-out=4]\"}]}";
            Billed billed = running.billed("/v1/chat/completions", body);
            assertThat(billed.tokens("audio_input_tokens")).isEqualTo(3);
            assertThat(billed.tokens("audio_output_tokens")).isEqualTo(4);
            assertThat(billed.tokens("output_tokens")).isEqualTo(9);
            long textInput = billed.tokens("input_tokens") - 3;
            long numerator = textInput * 150_000 + 3 * 10_000_000L + 5 * 600_000L + 4 * 20_000_000L;
            assertThat(billed.costMicros()).as("stream=%s", stream).isEqualTo(Math.ceilDiv(numerator, 1_000_000L) + 100);
            long bound = body.getBytes(StandardCharsets.UTF_8).length + 64;
            assertThat(billed.reservedMicros()).isEqualTo(Math.ceilDiv(bound * 10_000_000, 1_000_000L) + Math.ceilDiv(64L * 20_000_000, 1_000_000L) + 100);

            // Without audio, the same row bills text prices and still the fee.
            Billed text = running.billed("/v1/chat/completions", body.replace(" [sim:audio-in=3] [sim:audio-out=4]", ""));
            assertThat(text.costMicros()).isEqualTo(Math.ceilDiv(text.tokens("input_tokens") * 150_000 + 9 * 600_000L, 1_000_000L) + 100);
        }
        AdminTestNode.assertRerateReproducesTheDebits(running.node());
    }

    @Test
    void openAiWebSearchCallsAreBilledPerOutputItemWhenTheRequestDeclaresTheTool() throws Exception {
        for (boolean stream : new boolean[] {false, true}) {
            String body = "{\"model\":\"gpt-x\",\"stream\":" + stream + ",\"max_output_tokens\":64,"
                    + "\"tools\":[{\"type\":\"web_search\"},{\"type\":\"file_search\",\"vector_store_ids\":[\"vs_1\"]}],"
                    + "\"input\":\"What is the weather in Paris today? [sim:events=5] [sim:web-search=2]\"}";
            Billed billed = running.billed("/v1/responses", body);
            assertThat(billed.entry().path("server_tool_calls").path("web_search").asLong()).as("stream=%s", stream).isEqualTo(2);
            assertThat(billed.tokens("output_tokens")).isEqualTo(5);
            long tokens = Math.ceilDiv(billed.tokens("input_tokens") * 150_000 + 5 * 600_000L, 1_000_000L);
            assertThat(billed.costMicros()).as("stream=%s", stream).isEqualTo(tokens + 100 + 2 * 10_000);
            // The reservation covers both declared tools at their catalog bound: 4 searches and 4 file searches.
            long bound = body.getBytes(StandardCharsets.UTF_8).length + 64;
            assertThat(billed.reservedMicros()).isEqualTo(Math.ceilDiv(bound * 10_000_000, 1_000_000L)
                    + Math.ceilDiv(64L * 20_000_000, 1_000_000L) + 100 + 4 * 10_000 + 4 * 2_500);

            // Undeclared, the calls reported anyway are not billed (a provider runs no server tool it was not given).
            Billed undeclared = running.billed("/v1/responses", body.replace("\"tools\":[{\"type\":\"web_search\"},"
                    + "{\"type\":\"file_search\",\"vector_store_ids\":[\"vs_1\"]}],", ""));
            assertThat(undeclared.entry().path("server_tool_calls").isEmpty()).isTrue();
            assertThat(undeclared.costMicros()).isEqualTo(Math.ceilDiv(undeclared.tokens("input_tokens") * 150_000 + 5 * 600_000L, 1_000_000L) + 100);
        }
        AdminTestNode.assertRerateReproducesTheDebits(running.node());
    }
}
