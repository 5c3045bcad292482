package dev.tollgate.metering.stream;

import static org.assertj.core.api.Assertions.assertThat;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.Seeds;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Usage from a non-streamed body read chunk by chunk, however the body is split. */
class JsonUsageScannerTest {
    private static final Encoding O200K = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.O200K_BASE);

    static final String CHAT = """
            {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4o-mini-2024-07-18",\
            "choices":[{"index":0,"message":{"role":"assistant","content":"Héllo! 世界 🙂 How can I assist you today?","refusal":null,\
            "annotations":[]},"logprobs":null,"finish_reason":"stop","usage":{"prompt_tokens":1}}],\
            "metadata":{"usage":{"prompt_tokens":999999}},\
            "usage":{"prompt_tokens":1117,"completion_tokens":13,"total_tokens":1130,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},\
            "completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},\
            "service_tier":"default","system_fingerprint":"fp_06737a9306"}""";

    static final String DEEPSEEK = """
            {"id":"930c60df-bf64-41c9-a88e-3ec75f81e00e","object":"chat.completion","created":1705651092,"model":"deepseek-chat",\
            "choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?",\
            "reasoning_content":"The user greets me."},"logprobs":null,"finish_reason":"stop"}],\
            "usage":{"prompt_tokens":16,"completion_tokens":10,"total_tokens":26,"prompt_tokens_details":null,\
            "prompt_cache_hit_tokens":12,"prompt_cache_miss_tokens":4},"system_fingerprint":"fp_44709d6fcb"}""";

    static final String EMBEDDINGS = """
            {"object":"list","data":[{"object":"embedding","index":0,"embedding":[-0.006929283495992422,-0.005336422007530928,\
            0.00004547132266452536,-0.024047505110502243,1e-7,3]},{"object":"embedding","index":1,"embedding":"AAAAAAAAgD8AAABAAABAQA=="}],\
            "model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}""";

    static final String RESPONSES = """
            {"id":"resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41","object":"response","created_at":1741476777,"status":"completed",\
            "error":null,"incomplete_details":null,"instructions":"Be brief.","max_output_tokens":null,"model":"o4-mini-2025-04-16",\
            "output":[{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Thinking about sunsets."}]},\
            {"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text",\
            "text":"Sunsets paint the sky in warm hues.","annotations":[]}]}],"parallel_tool_calls":true,"previous_response_id":null,\
            "reasoning":{"effort":"low","summary":"auto"},"store":true,"temperature":1.0,"text":{"format":{"type":"text"}},\
            "tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled",\
            "usage":{"input_tokens":328,"input_tokens_details":{"cached_tokens":128},"output_tokens":52,\
            "output_tokens_details":{"reasoning_tokens":32},"total_tokens":380},"user":null,"metadata":{}}""";

    static final String MESSAGES = """
            {"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":"claude-haiku-4-5-20251001",\
            "content":[{"type":"thinking","thinking":"The user wants weather.","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3h"},\
            {"type":"text","text":"Let me check: ☀️"},{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather",\
            "input":{"location":"San Francisco, CA"}}],"stop_reason":"tool_use","stop_sequence":null,\
            "usage":{"input_tokens":25,"cache_creation_input_tokens":1200,"cache_read_input_tokens":3400,\
            "cache_creation":{"ephemeral_5m_input_tokens":1200,"ephemeral_1h_input_tokens":0},"output_tokens":40,\
            "server_tool_use":{"web_search_requests":0},"service_tier":"standard"}}""";

    /** Anthropic's usage with one-hour cache writes and server tools: the parts each row may price apart. */
    static final String MESSAGES_WITH_PARTS = """
            {"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Sunny, 21°C."}],\
            "stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10682,"cache_creation_input_tokens":1200,\
            "cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":400,"ephemeral_1h_input_tokens":800},\
            "output_tokens":510,"server_tool_use":{"web_search_requests":3,"web_fetch_requests":1},"service_tier":"standard"}}""";

    /** OpenAI's audio model: audio tokens inside the prompt and the completion tokens. */
    static final String CHAT_AUDIO = """
            {"id":"chatcmpl-1","object":"chat.completion","created":1741569952,"model":"gpt-4o-audio-preview","choices":[{"index":0,\
            "message":{"role":"assistant","content":null,"audio":{"id":"audio_1","data":"UklGRg==","expires_at":1741573552,\
            "transcript":"Hello!"}},"finish_reason":"stop"}],"usage":{"prompt_tokens":60,"completion_tokens":40,"total_tokens":100,\
            "prompt_tokens_details":{"cached_tokens":0,"audio_tokens":45},"completion_tokens_details":{"reasoning_tokens":0,\
            "audio_tokens":33,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}""";

    /** The images API's usage: image tokens inside the input and the output tokens. */
    static final String IMAGES = """
            {"created":1741569952,"data":[{"b64_json":"iVBORw0KGgo="}],"usage":{"total_tokens":4210,"input_tokens":50,"output_tokens":4160,\
            "input_tokens_details":{"text_tokens":40,"image_tokens":10},"output_tokens_details":{"image_tokens":4160}}}""";

    static Stream<Arguments> bodies() {
        return Stream.of(
                Arguments.of("chat", EndpointFamily.CHAT_COMPLETIONS, CHAT, new Usage(93, 1_024, 0, 13, 0),
                        new String[] {"Héllo! 世界 🙂 How can I assist you today?"}),
                Arguments.of("deepseek", EndpointFamily.CHAT_COMPLETIONS, DEEPSEEK, new Usage(4, 12, 0, 10, 0),
                        new String[] {"Hello! How can I help you today?", "The user greets me."}),
                Arguments.of("embeddings", EndpointFamily.EMBEDDINGS, EMBEDDINGS, new Usage(8, 0, 0, 0, 0), new String[0]),
                Arguments.of("responses", EndpointFamily.RESPONSES, RESPONSES, new Usage(200, 128, 0, 52, 32),
                        new String[] {"Thinking about sunsets.", "Sunsets paint the sky in warm hues."}),
                Arguments.of("messages", EndpointFamily.MESSAGES, MESSAGES, new Usage(25, 3_400, 1_200, 40, 0),
                        new String[] {"The user wants weather.", "Let me check: ☀️"}),
                Arguments.of("messages with parts", EndpointFamily.MESSAGES, MESSAGES_WITH_PARTS, new Usage(10_682, 0, 1_200, 510, 0)
                        .withParts(800, 0, 0, 0, 0).withServerToolCalls(java.util.Map.of("web_search", 3L, "web_fetch", 1L)), new String[] {"Sunny, 21°C."}),
                Arguments.of("chat audio", EndpointFamily.CHAT_COMPLETIONS, CHAT_AUDIO, new Usage(60, 0, 0, 40, 0).withParts(0, 45, 0, 33, 0),
                        new String[0]), // the audio's transcript is not what the model generated as text
                Arguments.of("images", EndpointFamily.RESPONSES, IMAGES, new Usage(50, 0, 0, 4_160, 0).withParts(0, 0, 10, 0, 4_160), new String[0]));
    }

    /** Feeds the body in the given pieces through one scratch buffer that is scribbled over after each feed. */
    static JsonUsageScanner scan(byte[] body, int[] cuts) {
        JsonUsageScanner scanner = new JsonUsageScanner(TokenCounter.forEncoding("o200k_base"));
        byte[] scratch = new byte[body.length + 16];
        int from = 0;
        for (int i = 0; i <= cuts.length; i++) {
            int to = i < cuts.length ? cuts[i] : body.length;
            int offset = 7 % (scratch.length - (to - from) + 1);
            System.arraycopy(body, from, scratch, offset, to - from);
            scanner.feed(scratch, offset, to - from);
            Arrays.fill(scratch, (byte) '}'); // the caller may reuse its array once feed returns
            from = to;
        }
        scanner.end();
        return scanner;
    }

    static long[] fields(UsageFields usage) {
        long[] values = new long[UsageFields.Field.values().length];
        for (UsageFields.Field field : UsageFields.Field.values()) {
            values[field.ordinal()] = usage.get(field);
        }
        return values;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bodies")
    void wholeBody(String name, EndpointFamily family, String json, Usage expected, String[] generated) {
        JsonUsageScanner scanner = scan(json.getBytes(StandardCharsets.UTF_8), new int[0]);
        assertThat(scanner.usage().complete(family)).isTrue();
        assertThat(scanner.usageMalformed()).isFalse();
        assertThat(scanner.usage().toUsage(family, 0, 0)).isEqualTo(expected);
        long tokens = 0;
        for (String text : generated) {
            tokens += O200K.countTokens(text);
        }
        assertThat(scanner.outputTokensCounted()).isEqualTo(tokens);
    }

    @Test
    void generatedTextBeyondWhatIsKeptUncountedIsCountedOnTheWayAndNothingTwice() {
        StringBuilder words = new StringBuilder();
        for (int i = 0; words.length() < 40_000; i++) {
            words.append("word").append(i % 97).append(i % 3 == 0 ? ", " : " ");
        }
        String text = words.toString();
        StringBuilder json = new StringBuilder("{\"choices\":[");
        for (int choice = 0; choice < 3; choice++) { // 120,000 chars in all: past the uncounted limit
            json.append(choice == 0 ? "" : ",").append("{\"message\":{\"content\":\"").append(text).append(choice).append("\"}}");
        }
        json.append("]}");
        assertThat(3 * text.length()).isGreaterThan(JsonUsageScanner.UNCOUNTED_TEXT_LIMIT_CHARS);
        JsonUsageScanner scanner = scan(json.toString().getBytes(StandardCharsets.UTF_8), new int[] {1_000, 50_000, 90_000});
        long expected = O200K.countTokens(text + "0") + O200K.countTokens(text + "1") + O200K.countTokens(text + "2");
        assertThat(scanner.outputTokensCounted()).isEqualTo(expected);
        assertThat(scanner.outputTokensCounted()).as("asked again").isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bodies")
    void everySplitPointGivesTheSameUsage(String name, EndpointFamily family, String json, Usage expected, String[] generated) {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        JsonUsageScanner whole = scan(body, new int[0]);
        long[] wholeFields = fields(whole.usage());
        for (int cut = 0; cut <= body.length; cut++) {
            JsonUsageScanner split = scan(body, new int[] {cut});
            assertThat(fields(split.usage())).as(name + " split at byte " + cut).isEqualTo(wholeFields);
            assertThat(split.usage().toUsage(family, 0, 0)).as(name + " split at byte " + cut).isEqualTo(expected);
            assertThat(split.outputTokensCounted()).as(name + " split at byte " + cut).isEqualTo(whole.outputTokensCounted());
        }
        int[] everyByte = new int[body.length - 1];
        for (int i = 0; i < everyByte.length; i++) {
            everyByte[i] = i + 1;
        }
        JsonUsageScanner byteByByte = scan(body, everyByte);
        assertThat(fields(byteByByte.usage())).as(name + " one byte at a time").isEqualTo(wholeFields);
        assertThat(byteByByte.outputTokensCounted()).isEqualTo(whole.outputTokensCounted());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bodies")
    void randomSplitsGiveTheSameUsage(String name, EndpointFamily family, String json, Usage expected, String[] generated) {
        long seed = Seeds.seed("JsonUsageScannerTest.randomSplitsGiveTheSameUsage[" + name + "]");
        SplittableRandom random = new SplittableRandom(seed);
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        long[] wholeFields = fields(scan(body, new int[0]).usage());
        for (int i = 0; i < 2_000; i++) {
            int[] cuts = random.ints(random.nextInt(1, 12), 0, body.length + 1).sorted().toArray();
            JsonUsageScanner split = scan(body, cuts);
            assertThat(fields(split.usage())).as("seed " + seed + " cuts " + Arrays.toString(cuts)).isEqualTo(wholeFields);
        }
    }

    @Test
    void garbageNeverThrows() {
        String[] garbage = {
            "",
            "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
            "{\"usage\":",
            "{\"usage\":{\"prompt_tokens\":12",
            "{\"usage\":{\"prompt_tokens\":99999999999999999999999999}}",
            "{\"usage\":\"lots\"}",
            "{\"usage\":[1,2,3]}",
            "[{\"usage\":{\"prompt_tokens\":5}}]",
            "null",
            "\"just a string\"",
            "{\"a\":" + "[".repeat(200) + "]".repeat(200) + "}",
            "{\"content\":\"\\ud800 lone surrogate\"}",
            "{} {} trailing",
            "{\"usage\":{\"prompt_tokens\":-3,\"completion_tokens\":1.5,\"total_tokens\":true}}",
        };
        for (String text : garbage) {
            JsonUsageScanner scanner = scan(text.getBytes(StandardCharsets.UTF_8), new int[] {text.length() / 2});
            assertThat(scanner.usage().complete(EndpointFamily.CHAT_COMPLETIONS)).as(text).isFalse();
        }
        // Invalid UTF-8 and random bytes.
        long seed = Seeds.seed("JsonUsageScannerTest.garbageNeverThrows");
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < 2_000; i++) {
            byte[] bytes = new byte[random.nextInt(0, 300)];
            for (int b = 0; b < bytes.length; b++) {
                bytes[b] = (byte) random.nextInt(256);
            }
            if (random.nextBoolean() && bytes.length > 0) {
                bytes[0] = '{';
            }
            scan(bytes, random.ints(random.nextInt(0, 4), 0, bytes.length + 1).sorted().toArray());
        }
    }

    @Test
    void aBodyCutShortKeepsWhatItSaw() {
        byte[] body = CHAT.getBytes(StandardCharsets.UTF_8);
        byte[] truncated = Arrays.copyOf(body, CHAT.indexOf("\"service_tier\""));
        JsonUsageScanner scanner = scan(truncated, new int[] {100});
        assertThat(scanner.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).isEqualTo(new Usage(93, 1_024, 0, 13, 0));
        // After garbage nothing more is learned, and nothing breaks.
        JsonUsageScanner broken = new JsonUsageScanner(TokenCounter.forEncoding("o200k_base"));
        byte[] junk = "{\"usage\":{\"prompt_tokens\":7,,,}}".getBytes(StandardCharsets.UTF_8);
        broken.feed(junk, 0, junk.length);
        broken.feed(body, 0, body.length);
        broken.end();
        broken.end();
        assertThat(broken.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0).inputTokens()).isEqualTo(7);
        assertThat(broken.usage().complete(EndpointFamily.CHAT_COMPLETIONS)).isFalse();
    }

    @Test
    void onlyTheFirstTopLevelUsageCounts() {
        String json = "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4},\"usage2\":{\"prompt_tokens\":9},"
                + "\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":100}}";
        JsonUsageScanner scanner = scan(json.getBytes(StandardCharsets.UTF_8), new int[0]);
        assertThat(scanner.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).isEqualTo(new Usage(3, 0, 0, 4, 0));
    }

    @Test
    void aResponsesObjectsServerToolCallItemsAreCountedAndNothingNestedDeeper() {
        String json = "{\"id\":\"resp_1\",\"object\":\"response\",\"output\":["
                + "{\"type\":\"web_search_call\",\"id\":\"ws_1\",\"status\":\"completed\",\"action\":{\"type\":\"search\",\"query\":\"a\"}},"
                + "{\"type\":\"file_search_call\",\"id\":\"fs_1\",\"status\":\"completed\",\"queries\":[\"b\"]},"
                + "{\"type\":\"web_search_call\",\"id\":\"ws_2\",\"status\":\"completed\"},"
                // A message's content parts have types too, and a tool name inside text is only text.
                + "{\"type\":\"message\",\"content\":[{\"type\":\"web_search_call\",\"text\":\"web_search_call\"}]}],"
                + "\"metadata\":{\"type\":\"web_search_call\"},"
                + "\"usage\":{\"input_tokens\":10,\"output_tokens\":5}}";
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        for (int cut = 0; cut <= body.length; cut += 7) {
            Usage usage = scan(body, new int[] {cut}).usage().toUsage(EndpointFamily.RESPONSES, 0, 0);
            assertThat(usage.serverToolCalls()).as("cut at %d", cut).isEqualTo(java.util.Map.of("web_search", 2L, "file_search", 1L));
            assertThat(usage.promptTokens()).isEqualTo(10);
        }
    }

    @Test
    void aStringInsideAnArrayDoesNotStopTheScan() {
        // Found by the server tool test: a string array (file search queries, stop sequences) once broke the scanner.
        String json = "{\"output\":[{\"type\":\"message\",\"queries\":[\"a\",\"b\"]}],\"usage\":{\"input_tokens\":10,\"output_tokens\":5}}";
        JsonUsageScanner scanner = scan(json.getBytes(StandardCharsets.UTF_8), new int[0]);
        assertThat(scanner.usage().toUsage(EndpointFamily.RESPONSES, 0, 0)).isEqualTo(new Usage(10, 0, 0, 5, 0));
    }

    /** Values a provider might send for a count, none of them a non-negative whole number that fits a long. */
    static final String[] MALFORMED_COUNTS = {"-5", "24.5", "\"24\"", "99999999999999999999", "9.3e18", "1e2", "true", "{\"n\":24}", "[24]"};

    static Stream<Arguments> malformedOutputCounts() {
        Stream.Builder<Arguments> cases = Stream.builder();
        for (String value : MALFORMED_COUNTS) {
            cases.add(Arguments.of(EndpointFamily.CHAT_COMPLETIONS, CHAT, "\"completion_tokens\":13", "\"completion_tokens\":" + value));
            cases.add(Arguments.of(EndpointFamily.RESPONSES, RESPONSES, "\"output_tokens\":52", "\"output_tokens\":" + value));
            cases.add(Arguments.of(EndpointFamily.MESSAGES, MESSAGES, "\"output_tokens\":40", "\"output_tokens\":" + value));
        }
        return cases.build();
    }

    @ParameterizedTest(name = "{0} {3}")
    @MethodSource("malformedOutputCounts")
    void aMalformedOutputCountIsNotReportedAndTheRestIsStillRead(EndpointFamily family, String body, String field, String replacement) {
        String json = body.replace(field, replacement);
        assertThat(json).isNotEqualTo(body);
        JsonUsageScanner wellFormed = scan(body.getBytes(StandardCharsets.UTF_8), new int[0]);
        JsonUsageScanner scanner = scan(json.getBytes(StandardCharsets.UTF_8), new int[] {json.indexOf(replacement) + 3});
        assertThat(scanner.usageMalformed()).isTrue();
        assertThat(scanner.usage().malformedCount()).isEqualTo(1);
        assertThat(scanner.usage().outputTokens(family)).as("not reported").isEqualTo(-1);
        assertThat(scanner.usage().complete(family)).as("so the exchange falls back to its own count").isFalse();
        assertThat(scanner.usage().promptKnown(family)).as("the well-formed fields stand").isTrue();
        assertThat(scanner.outputTokensCounted()).as("scanning went on past it").isEqualTo(wellFormed.outputTokensCounted()).isPositive();
        Usage billed = scanner.usage().toUsage(family, 0, scanner.outputTokensCounted());
        // Tollgate's own count, or more where a well-formed total_tokens says so (the guard for thinking left out of the output count).
        assertThat(billed.outputTokens()).isGreaterThanOrEqualTo(scanner.outputTokensCounted());
        if (family == EndpointFamily.MESSAGES) { // no total: the own count exactly, not the 40 reported in the well-formed body
            assertThat(billed.outputTokens()).isEqualTo(scanner.outputTokensCounted()).isNotEqualTo(40);
        }
        assertThat(billed.promptTokens()).isEqualTo(wellFormed.usage().toUsage(family, 0, 0).promptTokens());
    }

    @Test
    void aMalformedPromptCountIsNotReported() {
        for (String value : MALFORMED_COUNTS) {
            String json = CHAT.replace("\"prompt_tokens\":1117", "\"prompt_tokens\":" + value);
            JsonUsageScanner scanner = scan(json.getBytes(StandardCharsets.UTF_8), new int[0]);
            assertThat(scanner.usageMalformed()).as(value).isTrue();
            assertThat(scanner.usage().promptKnown(EndpointFamily.CHAT_COMPLETIONS)).as(value).isFalse();
            assertThat(scanner.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 500, 0).promptTokens()).as(value).isEqualTo(500);
        }
        JsonUsageScanner notAnObject = scan("{\"usage\":\"lots\"}".getBytes(StandardCharsets.UTF_8), new int[0]);
        assertThat(notAnObject.usageMalformed()).isTrue();
        JsonUsageScanner absent = scan("{\"usage\":null,\"x\":\"24\"}".getBytes(StandardCharsets.UTF_8), new int[0]);
        assertThat(absent.usageMalformed()).as("null is no report, not a malformed one").isFalse();
    }

    @Test
    void theLargestCountsDoNotOverflow() {
        String max = Long.toString(Long.MAX_VALUE);
        String chat = "{\"usage\":{\"prompt_tokens\":" + max + ",\"completion_tokens\":" + max + ",\"total_tokens\":" + max
                + ",\"prompt_tokens_details\":{\"cached_tokens\":" + max + "}}}";
        JsonUsageScanner scanner = scan(chat.getBytes(StandardCharsets.UTF_8), new int[0]);
        assertThat(scanner.usageMalformed()).isFalse();
        Usage usage = scanner.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0);
        assertThat(usage).isEqualTo(new Usage(0, Long.MAX_VALUE, 0, Long.MAX_VALUE, 0));
        assertThat(usage.totalTokens()).isEqualTo(Long.MAX_VALUE);
        String messages = "{\"usage\":{\"input_tokens\":" + max + ",\"cache_read_input_tokens\":" + max
                + ",\"cache_creation_input_tokens\":" + max + ",\"output_tokens\":" + max + "}}";
        Usage anthropic = scan(messages.getBytes(StandardCharsets.UTF_8), new int[0]).usage().toUsage(EndpointFamily.MESSAGES, 0, 0);
        assertThat(anthropic.promptTokens()).as("saturates").isEqualTo(Long.MAX_VALUE);
        assertThat(anthropic.totalTokens()).isEqualTo(Long.MAX_VALUE);
        String oneBeyond = "{\"usage\":{\"prompt_tokens\":9223372036854775808,\"completion_tokens\":1}}";
        JsonUsageScanner beyond = scan(oneBeyond.getBytes(StandardCharsets.UTF_8), new int[0]);
        assertThat(beyond.usageMalformed()).isTrue();
        assertThat(beyond.usage().promptKnown(EndpointFamily.CHAT_COMPLETIONS)).isFalse();
        assertThat(beyond.usage().outputTokens(EndpointFamily.CHAT_COMPLETIONS)).as("read on after it").isEqualTo(1);
    }

    @Test
    void aProviderErrorObjectIsAnErrorBodyAndASuccessIsNot() {
        for (String body : new String[] {CHAT, DEEPSEEK, EMBEDDINGS, RESPONSES, MESSAGES}) {
            assertThat(scan(body.getBytes(java.nio.charset.StandardCharsets.UTF_8), new int[0]).errorBody()).as(body).isFalse();
        }
        String[] errors = {
            "{\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\",\"param\":null,\"code\":null}}",
            "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
            "{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"x\"},\"output\":[]}"};
        for (String body : errors) {
            byte[] bytes = body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            assertThat(scan(bytes, new int[] {bytes.length / 3}).errorBody()).as(body).isTrue();
        }
        // An "error" object nested below the top level (a tool's output, say) is content, not the provider's error.
        assertThat(scan("{\"choices\":[{\"message\":{\"content\":\"x\",\"error\":{\"a\":1}}}]}".getBytes(java.nio.charset.StandardCharsets.UTF_8),
                new int[0]).errorBody()).isFalse();
    }
}
