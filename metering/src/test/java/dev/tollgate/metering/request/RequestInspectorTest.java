package dev.tollgate.metering.request;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.EndpointFamily;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class RequestInspectorTest {

    static RequestInspector.Result inspect(EndpointFamily family, String json) {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        return RequestInspector.inspect(family, bytes, 0, bytes.length);
    }

    static InspectedRequest ok(EndpointFamily family, String json) {
        RequestInspector.Result result = inspect(family, json);
        assertThat(result.rejection()).as(json).isNull();
        return result.request();
    }

    static Rejection rejected(EndpointFamily family, String json) {
        RequestInspector.Result result = inspect(family, json);
        assertThat(result.request()).as(json).isNull();
        assertThat(result.rejection()).as(json).isNotNull();
        return result.rejection();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "   ", "{", "{\"model\":", "{\"model\": \"gpt-4o\",}", "not json", "{'model': 'x'}", "[1, 2]", "\"text\"", "42", "null",
        "{\"model\": \"x\", \"messages\": [}"})
    void malformedBodiesAreRefusedAsMalformedJson(String body) {
        for (EndpointFamily family : EndpointFamily.values()) {
            Rejection rejection = rejected(family, body);
            assertThat(rejection.kind()).as(family + " " + body).isEqualTo(Rejection.Kind.MALFORMED_JSON);
            assertThat(rejection.message()).contains("JSON");
        }
    }

    @Test
    void contentAfterTheObjectIsRefused() {
        // Tollgate must meter the request the provider runs: a second value after the first would be
        // read by Jackson as nothing, by a lenient upstream as the request, and dropped by a rewrite.
        for (String body : new String[] {
            "{\"model\":\"gpt-4o-mini\",\"max_tokens\":5}{\"model\":\"gpt-4o\",\"max_tokens\":100000}",
            "{\"model\":\"gpt-4o-mini\",\"max_tokens\":5} trailing",
            "{\"model\":\"gpt-4o-mini\",\"max_tokens\":5}]"}) {
            assertThat(rejected(EndpointFamily.CHAT_COMPLETIONS, body).kind()).as(body).isEqualTo(Rejection.Kind.MALFORMED_JSON);
        }
        assertThat(ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"gpt-4o-mini\"}\r\n  \n").model()).as("whitespace is fine").isEqualTo("gpt-4o-mini");
    }

    @Test
    void deeplyNestedBodiesAreRefusedNotOverflowed() {
        String deep = "{\"model\":\"m\",\"x\":" + "[".repeat(50_000) + "]".repeat(50_000) + "}";
        assertThat(rejected(EndpointFamily.CHAT_COMPLETIONS, deep).kind()).isEqualTo(Rejection.Kind.MALFORMED_JSON);
    }

    @Test
    void modelIsRequiredAndMustBeANonEmptyString() {
        for (String body : new String[] {"{}", "{\"model\": null}", "{\"messages\": []}"}) {
            Rejection rejection = rejected(EndpointFamily.CHAT_COMPLETIONS, body);
            assertThat(rejection.kind()).isEqualTo(Rejection.Kind.INVALID_PARAMETER);
            assertThat(rejection.param()).isEqualTo("model");
            assertThat(rejection.message()).contains("model");
        }
        for (String body : new String[] {"{\"model\": 4}", "{\"model\": \"\"}", "{\"model\": [\"gpt-4o\"]}", "{\"model\": {\"id\": \"x\"}}", "{\"model\": true}"}) {
            Rejection rejection = rejected(EndpointFamily.MESSAGES, body);
            assertThat(rejection.kind()).as(body).isEqualTo(Rejection.Kind.INVALID_PARAMETER);
            assertThat(rejection.param()).isEqualTo("model");
        }
    }

    @Test
    void aMinimalChatRequest() {
        String body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
        InspectedRequest request = ok(EndpointFamily.CHAT_COMPLETIONS, body);
        assertThat(request.family()).isEqualTo(EndpointFamily.CHAT_COMPLETIONS);
        assertThat(request.model()).isEqualTo("gpt-4o-mini");
        assertThat(request.bodyBytes()).isEqualTo(body.length());
        assertThat(request.stream()).isFalse();
        assertThat(request.clientAskedForUsage()).isFalse();
        assertThat(request.requestedOutputTokens()).isEqualTo(-1);
        assertThat(request.outputTokensField()).isEqualTo("max_completion_tokens");
        assertThat(request.choices()).isEqualTo(1);
        assertThat(request.imageParts()).isZero();
        assertThat(request.storedContext()).isFalse();
        assertThat(request.body().get("messages").size()).isEqualTo(1);
    }

    @Test
    void readsOnlyTheGivenSliceOfTheBuffer() {
        String body = "{\"model\":\"gpt-4o-mini\",\"max_tokens\":7}";
        byte[] padded = ("garbage" + body + "more garbage").getBytes(StandardCharsets.UTF_8);
        RequestInspector.Result result = RequestInspector.inspect(EndpointFamily.CHAT_COMPLETIONS, padded, 7, body.length());
        assertThat(result.rejection()).isNull();
        assertThat(result.request().requestedOutputTokens()).isEqualTo(7);
        assertThat(result.request().bodyBytes()).isEqualTo(body.length());
    }

    @Test
    void bodyBytesCountsUtf8BytesNotCharacters() {
        String body = "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"日本語のテキスト 🙂\"}]}";
        assertThat(ok(EndpointFamily.MESSAGES, body).bodyBytes()).isEqualTo(body.getBytes(StandardCharsets.UTF_8).length)
                .isGreaterThan(body.length());
    }

    @Test
    void streamMustBeABoolean() {
        assertThat(ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"stream\":true}").stream()).isTrue();
        assertThat(ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"stream\":false}").stream()).isFalse();
        assertThat(ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"stream\":null}").stream()).isFalse();
        for (String value : new String[] {"\"true\"", "1", "{}"}) {
            Rejection rejection = rejected(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"stream\":" + value + "}");
            assertThat(rejection.kind()).isEqualTo(Rejection.Kind.INVALID_PARAMETER);
            assertThat(rejection.param()).isEqualTo("stream");
        }
        Rejection embeddings = rejected(EndpointFamily.EMBEDDINGS, "{\"model\":\"m\",\"input\":\"x\",\"stream\":true}");
        assertThat(embeddings.param()).isEqualTo("stream");
        assertThat(ok(EndpointFamily.EMBEDDINGS, "{\"model\":\"m\",\"input\":\"x\",\"stream\":false}").stream()).isFalse();
    }

    @Test
    void streamOptionsIncludeUsage() {
        assertThat(ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}")
                .clientAskedForUsage()).isTrue();
        assertThat(ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":false}}")
                .clientAskedForUsage()).isFalse();
        assertThat(ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"stream\":true,\"stream_options\":{}}").clientAskedForUsage()).isFalse();
        assertThat(ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"stream\":true,\"stream_options\":null}").clientAskedForUsage()).isFalse();
        assertThat(rejected(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"stream_options\":true}").param()).isEqualTo("stream_options");
        assertThat(rejected(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"stream_options\":{\"include_usage\":\"yes\"}}").param())
                .isEqualTo("stream_options.include_usage");
    }

    @Test
    void chatOutputCapFieldIsTheOneTheClientUsed() {
        InspectedRequest legacy = ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"max_tokens\":100}");
        assertThat(legacy.outputTokensField()).isEqualTo("max_tokens");
        assertThat(legacy.requestedOutputTokens()).isEqualTo(100);

        InspectedRequest current = ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"max_completion_tokens\":200}");
        assertThat(current.outputTokensField()).isEqualTo("max_completion_tokens");
        assertThat(current.requestedOutputTokens()).isEqualTo(200);

        // Both: max_completion_tokens is the one OpenAI honours.
        InspectedRequest both = ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"max_tokens\":100,\"max_completion_tokens\":300}");
        assertThat(both.outputTokensField()).isEqualTo("max_completion_tokens");
        assertThat(both.requestedOutputTokens()).isEqualTo(300);

        InspectedRequest neither = ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\"}");
        assertThat(neither.outputTokensField()).isEqualTo("max_completion_tokens");
        assertThat(neither.requestedOutputTokens()).isEqualTo(-1);

        InspectedRequest nullCap = ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"max_tokens\":null}");
        assertThat(nullCap.requestedOutputTokens()).isEqualTo(-1);
    }

    @Test
    void outputCapFieldPerFamily() {
        InspectedRequest messages = ok(EndpointFamily.MESSAGES, "{\"model\":\"m\",\"max_tokens\":1024}");
        assertThat(messages.outputTokensField()).isEqualTo("max_tokens");
        assertThat(messages.requestedOutputTokens()).isEqualTo(1024);
        Rejection noCap = rejected(EndpointFamily.MESSAGES, "{\"model\":\"m\",\"messages\":[]}");
        assertThat(noCap.kind()).isEqualTo(Rejection.Kind.INVALID_PARAMETER);
        assertThat(noCap.param()).isEqualTo("max_tokens");

        InspectedRequest responses = ok(EndpointFamily.RESPONSES, "{\"model\":\"m\",\"max_output_tokens\":500,\"max_tokens\":9}");
        assertThat(responses.outputTokensField()).isEqualTo("max_output_tokens");
        assertThat(responses.requestedOutputTokens()).isEqualTo(500);
        assertThat(ok(EndpointFamily.RESPONSES, "{\"model\":\"m\"}").requestedOutputTokens()).isEqualTo(-1);

        InspectedRequest completions = ok(EndpointFamily.COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\"}");
        assertThat(completions.outputTokensField()).isEqualTo("max_tokens");
        assertThat(completions.requestedOutputTokens()).as("the legacy endpoint's default").isEqualTo(16);

        InspectedRequest embeddings = ok(EndpointFamily.EMBEDDINGS, "{\"model\":\"m\",\"input\":\"x\",\"max_tokens\":\"ignored\"}");
        assertThat(embeddings.outputTokensField()).isNull();
        assertThat(embeddings.requestedOutputTokens()).isEqualTo(-1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-1", "-5", "1.5", "24.5", "256.0", "1e30", "1e2", "\"100\"", "\"256\"", "true", "[]", "{}",
        "100000000000000000000000", "99999999999999999999", "9223372036854775808"})
    void outputCapMustBeAPositiveInteger(String value) {
        Rejection chat = rejected(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"max_tokens\":" + value + "}");
        assertThat(chat.kind()).isEqualTo(Rejection.Kind.INVALID_PARAMETER);
        assertThat(chat.param()).isEqualTo("max_tokens");
        assertThat(rejected(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"max_completion_tokens\":" + value + "}").param())
                .isEqualTo("max_completion_tokens");
        assertThat(rejected(EndpointFamily.RESPONSES, "{\"model\":\"m\",\"max_output_tokens\":" + value + "}").param())
                .isEqualTo("max_output_tokens");
        assertThat(rejected(EndpointFamily.MESSAGES, "{\"model\":\"m\",\"max_tokens\":" + value + "}").param()).isEqualTo("max_tokens");
    }

    @ParameterizedTest(name = "{0}: n={1} best_of={2} -> {3}")
    @CsvSource(nullValues = "-", value = {
        "CHAT_COMPLETIONS, -, -, 1",
        "CHAT_COMPLETIONS, 3, -, 3",
        "CHAT_COMPLETIONS, 128, -, 128",
        "CHAT_COMPLETIONS, 2, 5, 2",       // best_of is not a chat parameter
        "COMPLETIONS, -, -, 1",
        "COMPLETIONS, 2, -, 2",
        "COMPLETIONS, 2, 5, 5",            // best_of generates five, returns two
        "COMPLETIONS, 3, 1, 3",
        "COMPLETIONS, -, 4, 4",
        "RESPONSES, 4, -, 1",              // n means nothing to these
        "MESSAGES, 4, -, 1"})
    void choicesFromNAndBestOf(EndpointFamily family, Integer n, Integer bestOf, int expected) {
        StringBuilder body = new StringBuilder("{\"model\":\"m\",\"max_tokens\":10");
        if (n != null) {
            body.append(",\"n\":").append(n);
        }
        if (bestOf != null) {
            body.append(",\"best_of\":").append(bestOf);
        }
        assertThat(ok(family, body.append('}').toString()).choices()).isEqualTo(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"n\":0", "\"n\":-2", "\"n\":129", "\"n\":1.5", "\"n\":\"2\"", "\"best_of\":0", "\"best_of\":200", "\"best_of\":true",
        "\"n\":18446744073709551621", "\"best_of\":18446744073709551620"})
    void choicesOutOfRangeAreRefused(String field) {
        Rejection rejection = rejected(EndpointFamily.COMPLETIONS, "{\"model\":\"m\"," + field + "}");
        assertThat(rejection.kind()).isEqualTo(Rejection.Kind.INVALID_PARAMETER);
        assertThat(rejection.param()).isEqualTo("n");
        if (field.startsWith("\"n\"")) {
            assertThat(rejected(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\"," + field + "}").param()).isEqualTo("n");
        }
    }

    @Test
    void imagePartsAreCountedOnEverySurface() {
        String chat = """
                {"model":"gpt-4o","messages":[
                  {"role":"system","content":"look"},
                  {"role":"user","content":[
                    {"type":"text","text":"what is this?"},
                    {"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"high"}},
                    {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},
                  {"role":"assistant","content":"a cat"},
                  {"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/b.png"}}]}]}""";
        assertThat(ok(EndpointFamily.CHAT_COMPLETIONS, chat).imageParts()).isEqualTo(3);

        String responses = """
                {"model":"gpt-4o","input":[{"role":"user","content":[
                  {"type":"input_text","text":"compare"},
                  {"type":"input_image","image_url":"https://example.com/a.png"},
                  {"type":"input_image","file_id":"file-123"}]}]}""";
        assertThat(ok(EndpointFamily.RESPONSES, responses).imageParts()).isEqualTo(2);

        String messages = """
                {"model":"claude-haiku-4-5","max_tokens":100,"messages":[{"role":"user","content":[
                  {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}},
                  {"type":"text","text":"describe"},
                  {"type":"tool_result","tool_use_id":"t1","content":[{"type":"image","source":{"type":"url","url":"https://e.com/x.png"}}]}]}]}""";
        assertThat(ok(EndpointFamily.MESSAGES, messages).imageParts()).isEqualTo(2);

        assertThat(ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"image_url\"}]}").imageParts())
                .as("the word in text is not a part").isZero();
    }

    @Test
    void storedContextOnlyForResponsesWithAPreviousResponseOrConversation() {
        assertThat(ok(EndpointFamily.RESPONSES, "{\"model\":\"m\",\"input\":\"more\",\"previous_response_id\":\"resp_123\"}").storedContext()).isTrue();
        assertThat(ok(EndpointFamily.RESPONSES, "{\"model\":\"m\",\"input\":\"more\",\"conversation\":\"conv_123\"}").storedContext()).isTrue();
        assertThat(ok(EndpointFamily.RESPONSES, "{\"model\":\"m\",\"input\":\"more\",\"conversation\":{\"id\":\"conv_123\"}}").storedContext()).isTrue();
        assertThat(ok(EndpointFamily.RESPONSES, "{\"model\":\"m\",\"input\":\"more\",\"previous_response_id\":null}").storedContext()).isFalse();
        assertThat(ok(EndpointFamily.RESPONSES, "{\"model\":\"m\",\"input\":\"more\"}").storedContext()).isFalse();
        assertThat(ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"previous_response_id\":\"resp_123\"}").storedContext()).isFalse();
    }

    @Test
    void modelOnlyInspectionForFreeEndpoints() {
        byte[] body = "{\"model\":\"claude-haiku-4-5\",\"messages\":[]}".getBytes(StandardCharsets.UTF_8);
        RequestInspector.Result result = RequestInspector.inspectModelOnly(EndpointFamily.MESSAGES, body, 0, body.length);
        assertThat(result.rejection()).isNull();
        assertThat(result.request().model()).isEqualTo("claude-haiku-4-5");
        assertThat(result.request().family()).isEqualTo(EndpointFamily.MESSAGES);
        byte[] noModel = "{\"messages\":[]}".getBytes(StandardCharsets.UTF_8);
        assertThat(RequestInspector.inspectModelOnly(EndpointFamily.MESSAGES, noModel, 0, noModel.length).rejection().param()).isEqualTo("model");
        byte[] broken = "{".getBytes(StandardCharsets.UTF_8);
        assertThat(RequestInspector.inspectModelOnly(EndpointFamily.MESSAGES, broken, 0, 1).rejection().kind()).isEqualTo(Rejection.Kind.MALFORMED_JSON);
    }

    // ------------------------------------------------------------------ hostile bodies

    @Test
    void aFieldTwiceInOneObjectIsRefusedAtAnyDepth() {
        String[] bodies = {
            "{\"model\":\"gpt-4o-mini\",\"model\":\"gpt-4o\",\"max_tokens\":5}",
            "{\"model\":\"gpt-4o-mini\",\"max_tokens\":5,\"max_tokens\":100000}",
            "{\"model\":\"gpt-4o-mini\",\"mod\\u0065l\":\"gpt-4o\",\"max_tokens\":5}", // the same name, escaped
            "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"role\":\"system\",\"content\":\"hi\"}]}",
            "{\"model\":\"m\",\"max_tokens\":5,\"stream_options\":{\"include_usage\":false,\"include_usage\":true}}",
            "{\"model\":\"m\",\"max_tokens\":5,\"a\":[[{\"b\":{\"c\":1,\"c\":2}}]]}",
        };
        for (String body : bodies) {
            for (EndpointFamily family : EndpointFamily.values()) {
                Rejection rejection = rejected(family, body);
                assertThat(rejection.kind()).as(family + " " + body).isEqualTo(Rejection.Kind.MALFORMED_JSON);
                assertThat(rejection.message()).as(body).contains("Duplicate field").contains("only once");
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            assertThat(RequestInspector.inspectModelOnly(EndpointFamily.MESSAGES, bytes, 0, bytes.length).rejection()).as(body).isNotNull();
        }
        assertThat(rejected(EndpointFamily.CHAT_COMPLETIONS, bodies[0]).message()).contains("'model'");
        // The same name in two different objects is no duplicate.
        ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"}]}");
    }

    @Test
    void aStringLongerThanJacksonsDefaultLimitIsReadWholeTheBodyLimitIsTheOnlyLimit() {
        int chars = 21 * 1024 * 1024; // Jackson refuses strings over 20,000,000 chars by default
        String body = "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"" + "a".repeat(chars) + "\"}]}";
        InspectedRequest request = ok(EndpointFamily.CHAT_COMPLETIONS, body);
        assertThat(request.body().at("/messages/0/content").textValue()).hasSize(chars);
        String longName = "{\"model\":\"m\",\"" + "k".repeat(60_000) + "\":1}"; // Jackson's default name limit is 50,000
        assertThat(ok(EndpointFamily.CHAT_COMPLETIONS, longName).model()).isEqualTo("m");
    }

    @Test
    void nestingAHundredThousandDeepIsAClearRefusal() {
        for (String deep : new String[] {
            "{\"model\":\"m\",\"x\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}",
            "{\"model\":\"m\",\"x\":" + "{\"a\":".repeat(100_000) + "1" + "}".repeat(100_000) + "}",
            "[".repeat(100_000)}) {
            for (EndpointFamily family : EndpointFamily.values()) {
                Rejection rejection = rejected(family, deep);
                assertThat(rejection.kind()).isEqualTo(Rejection.Kind.MALFORMED_JSON);
                assertThat(rejection.message()).contains("nest at most " + RequestInspector.MAX_NESTING_DEPTH).doesNotContain("StreamReadConstraints");
            }
        }
        String longNumber = "{\"model\":\"m\",\"max_tokens\":" + "9".repeat(5_000) + "}";
        assertThat(rejected(EndpointFamily.MESSAGES, longNumber).message()).contains("at most " + RequestInspector.MAX_NUMBER_CHARS + " characters");
    }

    @Test
    void invalidUtf8IsRefusedAnywhereInTheBody() {
        String[] invalid = {"ff", "80", "c0af", "c180", "e08080", "eda080", "edbfbf", "e282", "f5808080", "f4908080", "f0808080", "f09f98"};
        for (String hex : invalid) {
            for (String where : new String[] {"content", "name"}) {
                byte[] bad = java.util.HexFormat.of().parseHex(hex);
                byte[] prefix = ("{\"model\":\"m\",\"max_tokens\":5,\"" + (where.equals("name") ? "" : "content\":\"")).getBytes(StandardCharsets.UTF_8);
                byte[] suffix = (where.equals("name") ? "\":1}" : "\"}").getBytes(StandardCharsets.UTF_8);
                byte[] body = new byte[prefix.length + bad.length + suffix.length];
                System.arraycopy(prefix, 0, body, 0, prefix.length);
                System.arraycopy(bad, 0, body, prefix.length, bad.length);
                System.arraycopy(suffix, 0, body, prefix.length + bad.length, suffix.length);
                for (EndpointFamily family : EndpointFamily.values()) {
                    RequestInspector.Result result = RequestInspector.inspect(family, body, 0, body.length);
                    assertThat(result.rejection()).as(hex + " in " + where).isNotNull();
                    assertThat(result.rejection().kind()).isEqualTo(Rejection.Kind.MALFORMED_JSON);
                    assertThat(result.rejection().message()).as(hex).contains("not valid UTF-8").contains("at byte " + prefix.length);
                }
            }
        }
        for (String valid : new String[] {"é", "日本語", "🙂", "\uFFFF", "\uD7FF", "\uE000", new String(Character.toChars(0x10FFFF))}) {
            assertThat(ok(EndpointFamily.CHAT_COMPLETIONS, "{\"model\":\"m\",\"content\":\"" + valid + "\"}").model()).as(valid).isEqualTo("m");
        }
    }

    @Test
    void theUtf8CheckAgreesWithTheJdksStrictDecoder() {
        long seed = dev.tollgate.metering.Seeds.seed("RequestInspectorTest.theUtf8CheckAgreesWithTheJdksStrictDecoder");
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        byte[] interesting = {(byte) 0x80, (byte) 0xBF, (byte) 0xC0, (byte) 0xC2, (byte) 0xDF, (byte) 0xE0, (byte) 0xED, (byte) 0xEF,
            (byte) 0xF0, (byte) 0xF4, (byte) 0xF5, (byte) 0x90, (byte) 0x9F, (byte) 0xA0, (byte) 0x8F, 'a'};
        for (int i = 0; i < 50_000; i++) {
            byte[] bytes = new byte[random.nextInt(0, 8)];
            for (int b = 0; b < bytes.length; b++) {
                bytes[b] = random.nextBoolean() ? interesting[random.nextInt(interesting.length)] : (byte) random.nextInt(256);
            }
            boolean jdkValid;
            try {
                StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes));
                jdkValid = true;
            } catch (java.nio.charset.CharacterCodingException e) {
                jdkValid = false;
            }
            assertThat(Utf8.firstInvalidByte(bytes, 0, bytes.length) < 0).as("seed " + seed + ": " + java.util.HexFormat.of().formatHex(bytes))
                    .isEqualTo(jdkValid);
        }
    }

    @Test
    void mutatedBodiesNeverThrow() {
        long seed = dev.tollgate.metering.Seeds.seed("RequestInspectorTest.mutatedBodiesNeverThrow");
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        byte[] base = ("{\"model\":\"gpt-4o-mini\",\"max_tokens\":256,\"n\":2,\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                + "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]}]}")
                .getBytes(StandardCharsets.UTF_8);
        byte[] alphabet = "{}[]\",:\\-0123456789.eE tnrufalsemodelmax_tokens\u00ff".getBytes(StandardCharsets.ISO_8859_1);
        for (int i = 0; i < 20_000; i++) {
            byte[] body = base.clone();
            for (int m = random.nextInt(1, 4); m > 0; m--) {
                body[random.nextInt(body.length)] = random.nextInt(4) == 0 ? (byte) random.nextInt(256) : alphabet[random.nextInt(alphabet.length)];
            }
            int length = random.nextInt(4) == 0 ? random.nextInt(body.length + 1) : body.length;
            for (EndpointFamily family : EndpointFamily.values()) {
                RequestInspector.Result result = RequestInspector.inspect(family, body, 0, length);
                assertThat(result.request() == null ^ result.rejection() == null).as("seed " + seed).isTrue();
            }
        }
    }
}
