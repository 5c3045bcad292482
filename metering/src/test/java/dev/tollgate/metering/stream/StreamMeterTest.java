package dev.tollgate.metering.stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Each stream family over recorded streams (test resources under {@code streams/}): the inline output
 * count against jtokkit's own count of the generated pieces, the provider's usage, the terminal
 * event, and the events Tollgate writes when it must cut a stream at its reservation.
 */
class StreamMeterTest {
    /** Strict: trailing tokens after the JSON value are an error, so "well-formed" means exactly one value. */
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final Encoding O200K = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.O200K_BASE);
    private static final Encoding CL100K = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.CL100K_BASE);
    private static final byte[] DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);

    // ------------------------------------------------------------------ helpers

    static byte[] resource(String name) {
        try (InputStream in = StreamMeterTest.class.getResourceAsStream("/streams/" + name)) {
            assertThat(in).as(name).isNotNull();
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Splits a stream into event blocks, each ending after the blank line that closes it (LF, CRLF or CR). */
    static List<byte[]> blocks(byte[] stream) {
        List<byte[]> blocks = new ArrayList<>();
        int start = 0;
        int lineStart = 0;
        int i = 0;
        while (i < stream.length) {
            byte b = stream[i];
            if (b != '\n' && b != '\r') {
                i++;
                continue;
            }
            int next = i + 1;
            if (b == '\r' && next < stream.length && stream[next] == '\n') {
                next++;
            }
            if (i == lineStart) {
                blocks.add(java.util.Arrays.copyOfRange(stream, start, next));
                start = next;
            }
            lineStart = next;
            i = next;
        }
        if (start < stream.length) {
            blocks.add(java.util.Arrays.copyOfRange(stream, start, stream.length));
        }
        return blocks;
    }

    /** The data of a block, read without SseEvent so the test does not check the parser with itself. */
    static String data(byte[] block) {
        StringBuilder data = null;
        for (String line : new String(block, StandardCharsets.UTF_8).split("\r\n|\r|\n")) {
            if (line.startsWith("data:")) {
                String value = line.substring(5).startsWith(" ") ? line.substring(6) : line.substring(5);
                data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
            }
        }
        return data == null ? null : data.toString();
    }

    static String eventName(byte[] block) {
        for (String line : new String(block, StandardCharsets.UTF_8).split("\r\n|\r|\n")) {
            if (line.startsWith("event:")) {
                return line.substring(6).strip();
            }
        }
        return null;
    }

    static JsonNode json(String data) {
        try {
            return JSON.readTree(data);
        } catch (IOException e) {
            throw new AssertionError("not one well-formed JSON value: " + data, e);
        }
    }

    static List<StreamMeter.Verdict> feed(StreamMeter meter, List<byte[]> blocks) {
        SseEvent event = new SseEvent();
        List<StreamMeter.Verdict> verdicts = new ArrayList<>();
        for (byte[] block : blocks) {
            verdicts.add(meter.onEvent(event.parse(block, 0, block.length)));
        }
        return verdicts;
    }

    /** A cut's bytes as (event name, data) pairs, each data checked to be one well-formed JSON value or [DONE]. */
    record Written(String name, String data) {
        JsonNode json() {
            return StreamMeterTest.json(data);
        }
    }

    static List<Written> written(byte[] bytes) {
        String text = new String(bytes, StandardCharsets.UTF_8);
        assertThat(text).as("every event ends with a blank line").endsWith("\n\n");
        List<Written> events = new ArrayList<>();
        for (byte[] block : blocks(bytes)) {
            String data = data(block);
            assertThat(data).as("every written event has data").isNotNull();
            if (!data.equals("[DONE]")) {
                json(data);
            }
            events.add(new Written(eventName(block), data));
        }
        return events;
    }

    static long countAll(Encoding encoding, List<String> pieces) {
        long tokens = 0;
        for (String piece : pieces) {
            tokens += encoding.countTokens(piece);
        }
        return tokens;
    }

    // ------------------------------------------------------------------ OpenAI chat

    /** The text of every {@code choices[].delta.content}, and the name and arguments of every tool call delta. */
    static List<String> chatPieces(List<byte[]> blocks) {
        List<String> pieces = new ArrayList<>();
        for (byte[] block : blocks) {
            String data = data(block);
            if (data == null || data.equals("[DONE]")) {
                continue;
            }
            for (JsonNode choice : json(data).path("choices")) {
                JsonNode delta = choice.path("delta");
                if (delta.path("content").isTextual()) {
                    pieces.add(delta.get("content").textValue());
                }
                for (JsonNode call : delta.path("tool_calls")) {
                    JsonNode function = call.path("function");
                    if (function.path("name").isTextual()) {
                        pieces.add(function.get("name").textValue());
                    }
                    if (function.path("arguments").isTextual()) {
                        pieces.add(function.get("arguments").textValue());
                    }
                }
                if (choice.path("text").isTextual()) {
                    pieces.add(choice.get("text").textValue());
                }
            }
        }
        return pieces;
    }

    @Test
    void openAiChatWhenTheClientAskedForUsage() {
        List<byte[]> blocks = blocks(resource("openai-chat.sse"));
        assertThat(blocks).hasSize(14);
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), true);
        List<StreamMeter.Verdict> verdicts = feed(meter, blocks.subList(0, blocks.size() - 1));
        assertThat(meter.finished()).as("not before [DONE]").isFalse();
        verdicts.addAll(feed(meter, blocks.subList(blocks.size() - 1, blocks.size())));
        assertThat(meter.finished()).isTrue();
        assertThat(verdicts).containsOnly(StreamMeter.Verdict.FORWARD);

        long expected = countAll(O200K, chatPieces(blocks));
        assertThat(expected).isPositive();
        assertThat(meter.outputTokensCounted()).isEqualTo(expected);
        assertThat(meter.usage().complete(EndpointFamily.CHAT_COMPLETIONS)).isTrue();
        assertThat(meter.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).isEqualTo(new Usage(93, 1_024, 0, 13, 0));
        assertThat(meter.providerError()).isNull();
        assertThat(meter.completed()).isTrue();
        assertThat(meter.malformedEvents()).isZero();
    }

    @Test
    void openAiChatDropsTheUsageChunkTheClientDidNotAskFor() {
        List<byte[]> blocks = blocks(resource("openai-chat.sse"));
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
        List<StreamMeter.Verdict> verdicts = feed(meter, blocks);
        int usageChunk = blocks.size() - 2;
        assertThat(json(data(blocks.get(usageChunk))).get("choices")).isEmpty();
        for (int i = 0; i < verdicts.size(); i++) {
            assertThat(verdicts.get(i)).as("event " + i).isEqualTo(i == usageChunk ? StreamMeter.Verdict.DROP : StreamMeter.Verdict.FORWARD);
        }
        // Dropped for the client, still billed.
        assertThat(meter.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).isEqualTo(new Usage(93, 1_024, 0, 13, 0));
        assertThat(meter.finished()).isTrue();
    }

    @Test
    void openAiChatTwoChoicesWithAToolCallAndNoUsage() {
        List<byte[]> blocks = blocks(resource("openai-chat-two-choices-no-usage.sse"));
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
        assertThat(feed(meter, blocks)).containsOnly(StreamMeter.Verdict.FORWARD);
        List<String> pieces = chatPieces(blocks);
        assertThat(pieces).contains("get_weather", "Paris, France\"}");
        assertThat(meter.outputTokensCounted()).isEqualTo(countAll(O200K, pieces));
        assertThat(meter.finished()).isTrue();
        assertThat(meter.usage().any()).isFalse();
        assertThat(meter.usage().complete(EndpointFamily.CHAT_COMPLETIONS)).isFalse();
        // Billed from the prompt estimate and the inline count.
        assertThat(meter.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 57, meter.outputTokensCounted()))
                .isEqualTo(new Usage(57, 0, 0, meter.outputTokensCounted(), 0));

        List<Written> cut = written(meter.cutAtCapEvents(new Usage(57, 0, 0, 9, 0)));
        assertThat(cut).hasSize(2);
        JsonNode last = cut.get(0).json();
        assertThat(last.get("id").asText()).isEqualTo("chatcmpl-C1nTwoChoices");
        assertThat(last.get("object").asText()).isEqualTo("chat.completion.chunk");
        assertThat(last.get("model").asText()).isEqualTo("gpt-4o-mini-2024-07-18");
        assertThat(last.get("created").asLong()).isEqualTo(1741570999L);
        assertThat(last.has("usage")).as("the client did not ask for usage").isFalse();
        assertThat(last.get("choices")).hasSize(2);
        for (int index = 0; index < 2; index++) {
            JsonNode choice = last.get("choices").get(index);
            assertThat(choice.get("index").asInt()).isEqualTo(index);
            assertThat(choice.get("finish_reason").asText()).isEqualTo("length");
            assertThat(choice.get("delta").isObject()).isTrue();
            assertThat(choice.get("delta").isEmpty()).isTrue();
        }
        assertThat(cut.get(1).data()).isEqualTo("[DONE]");
        assertThat(cut.get(1).name()).isNull();
    }

    @Test
    void openAiChatCutWhenTheClientAskedForUsageReportsTheBilledUsage() {
        List<byte[]> blocks = blocks(resource("openai-chat.sse"));
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), true);
        feed(meter, blocks.subList(0, 5)); // cut mid-stream, before the provider's usage
        assertThat(meter.finished()).isFalse();
        assertThat(meter.usage().any()).isFalse();
        Usage billed = meter.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 1_100, meter.outputTokensCounted());
        List<Written> cut = written(meter.cutAtCapEvents(billed));
        assertThat(cut).extracting(Written::name).containsOnlyNulls();
        assertThat(cut).hasSize(3);
        JsonNode finish = cut.get(0).json();
        assertThat(finish.get("choices")).singleElement().satisfies(c -> assertThat(c.get("finish_reason").asText()).isEqualTo("length"));
        assertThat(finish.get("usage").isNull()).as("include_usage chunks carry usage: null").isTrue();
        JsonNode usage = cut.get(1).json();
        assertThat(usage.get("choices")).isEmpty();
        assertThat(usage.get("id").asText()).isEqualTo("chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG");
        assertThat(usage.at("/usage/prompt_tokens").asLong()).isEqualTo(1_100);
        assertThat(usage.at("/usage/completion_tokens").asLong()).isEqualTo(meter.outputTokensCounted());
        assertThat(usage.at("/usage/total_tokens").asLong()).isEqualTo(1_100 + meter.outputTokensCounted());
        assertThat(usage.at("/usage/prompt_tokens_details/cached_tokens").asLong()).isZero();
        assertThat(cut.get(2).data()).isEqualTo("[DONE]");

        // What the client's SDK reads back is what was billed.
        StreamMeter client = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), true);
        feed(client, blocks(meter.cutAtCapEvents(billed)));
        assertThat(client.finished()).isTrue();
        assertThat(client.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).isEqualTo(billed);
    }

    @Test
    void legacyCompletions() {
        List<byte[]> blocks = blocks(resource("openai-completions.sse"));
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.COMPLETIONS, TokenCounter.forEncoding("cl100k_base"), false);
        List<StreamMeter.Verdict> verdicts = feed(meter, blocks);
        assertThat(verdicts.get(blocks.size() - 2)).isEqualTo(StreamMeter.Verdict.DROP);
        assertThat(verdicts.subList(0, blocks.size() - 2)).containsOnly(StreamMeter.Verdict.FORWARD);
        assertThat(meter.outputTokensCounted()).isEqualTo(countAll(CL100K, chatPieces(blocks))).isPositive();
        assertThat(meter.finished()).isTrue();
        assertThat(meter.usage().toUsage(EndpointFamily.COMPLETIONS, 0, 0)).isEqualTo(new Usage(5, 0, 0, 7, 0));

        List<Written> cut = written(meter.cutAtCapEvents(new Usage(5, 0, 0, 7, 0)));
        assertThat(cut).hasSize(2);
        JsonNode last = cut.get(0).json();
        assertThat(last.get("object").asText()).isEqualTo("text_completion");
        assertThat(last.get("id").asText()).isEqualTo("cmpl-9xQzLegacyCompletion");
        JsonNode choice = last.get("choices").get(0);
        assertThat(choice.get("text").asText()).isEmpty();
        assertThat(choice.has("delta")).isFalse();
        assertThat(choice.get("finish_reason").asText()).isEqualTo("length");
        assertThat(cut.get(1).data()).isEqualTo("[DONE]");
    }

    @Test
    void openAiMidStreamErrorIsRecorded() {
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
        byte[] stream = ("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
                + "data: {\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\"}}\n\n")
                .getBytes(StandardCharsets.UTF_8);
        assertThat(feed(meter, blocks(stream))).containsOnly(StreamMeter.Verdict.FORWARD);
        assertThat(meter.providerError()).isEqualTo(new ProviderError("server_error", "The server had an error while processing your request."));
        assertThat(meter.completed()).isFalse();
        assertThat(meter.finished()).isFalse();
        assertThat(meter.outputTokensCounted()).isEqualTo(O200K.countTokens("Hel"));
    }

    @Test
    void vllmsUsageInEveryChunkIsCumulativeSoTheLastCountsAndItIsFinalOnlyAtTheUsageChunk() {
        // vLLM with stream_options {include_usage, continuous_usage_stats}: a running usage in every chunk, then the usage-only chunk.
        List<byte[]> blocks = blocks(resource("vllm-chat-continuous-usage.sse"));
        assertThat(blocks).hasSize(13);
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
        List<StreamMeter.Verdict> verdicts = feed(meter, blocks.subList(0, 6)); // the role chunk and five pieces
        assertThat(meter.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).as("the last running count, not 0+1+2+3+4+5")
                .isEqualTo(new Usage(17, 0, 0, 5, 0));
        assertThat(meter.usageFinal()).as("a running count beside choices does not end the stream").isFalse();

        verdicts.addAll(feed(meter, blocks.subList(6, 11))); // the last pieces and the choice that finished, with its usage
        assertThat(meter.usage().outputTokens(EndpointFamily.CHAT_COMPLETIONS)).isEqualTo(10);
        assertThat(meter.usageFinal()).isFalse();
        verdicts.addAll(feed(meter, blocks.subList(11, 13)));
        assertThat(meter.usageFinal()).isTrue();
        assertThat(meter.finished()).isTrue();
        assertThat(meter.completed()).isTrue();
        assertThat(meter.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).as("not the sum 0+1+...+10+10 = 65").isEqualTo(new Usage(17, 0, 0, 10, 0));
        assertThat(meter.outputTokensCounted()).isEqualTo(countAll(O200K, chatPieces(blocks)));
        for (int i = 0; i < verdicts.size(); i++) {
            // Only the usage-only chunk Tollgate asked for is the client's to miss; the running counts ride on the content.
            assertThat(verdicts.get(i)).as("event " + i).isEqualTo(i == 11 ? StreamMeter.Verdict.DROP : StreamMeter.Verdict.FORWARD);
        }
        assertThat(meter.malformedEvents()).isZero();
    }

    @Test
    void aFinalUsageBesideTheLastChoiceIsFinalOnceDoneCame() {
        // DeepSeek's and Mistral's shape: the usage rides on the chunk that finishes the choice; there is no usage-only chunk.
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), true);
        feed(meter, blocks(("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n"
                + "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"stop\"}],"
                + "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13,\"prompt_cache_hit_tokens\":3}}\n\n")
                .getBytes(StandardCharsets.UTF_8)));
        assertThat(meter.usageFinal()).isFalse();
        assertThat(meter.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).isEqualTo(new Usage(6, 3, 0, 4, 0));
        feed(meter, blocks("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8)));
        assertThat(meter.usageFinal()).isTrue();
        assertThat(meter.completed()).isTrue();

        StreamMeter withoutUsage = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
        feed(withoutUsage, blocks("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n".getBytes(StandardCharsets.UTF_8)));
        assertThat(withoutUsage.usageFinal()).as("[DONE] makes no usage out of none").isFalse();
    }

    @Test
    void vllmsFlatErrorChunkIsTheProvidersError() {
        // vLLM before 0.10 streams an error as its ErrorResponse, not under an "error" field, then [DONE].
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
        feed(meter, blocks(("data: {\"object\":\"error\",\"message\":\"This model's maximum context length is 8192 tokens.\","
                + "\"type\":\"BadRequestError\",\"param\":null,\"code\":400}\n\ndata: [DONE]\n\n").getBytes(StandardCharsets.UTF_8)));
        assertThat(meter.providerError()).isEqualTo(new ProviderError("BadRequestError", "This model's maximum context length is 8192 tokens."));
        assertThat(meter.finished()).isTrue();
        assertThat(meter.completed()).isFalse();
        assertThat(meter.outputTokensCounted()).isZero();
        assertThat(meter.malformedEvents()).isZero();

        StreamMeter chunk = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
        feed(chunk, blocks("data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
                .getBytes(StandardCharsets.UTF_8)));
        assertThat(chunk.providerError()).as("an ordinary chunk names its object too").isNull();
    }

    @Test
    void malformedAndEmptyEventsAreForwardedUnmetered() {
        for (EndpointFamily family : new EndpointFamily[] {EndpointFamily.CHAT_COMPLETIONS, EndpointFamily.RESPONSES, EndpointFamily.MESSAGES}) {
            StreamMeter meter = StreamMeter.forFamily(family, TokenCounter.forEncoding("o200k_base"), false);
            byte[] stream = (": comment\n\n" + "data: {not json\n\n" + "data: [1, 2\n\n" + "data: \"a string\"\n\n" + "data: 42\n\n"
                    + "event: ping\n\n" + "data: {\"choices\": \"nope\", \"delta\": 5, \"usage\": [1]}\n\n"
                    + "data: {\"usage\": {\"prompt_tokens\": 99999999999999999999999}}\n\n")
                    .getBytes(StandardCharsets.UTF_8);
            assertThat(feed(meter, blocks(stream))).as(family.name()).containsOnly(StreamMeter.Verdict.FORWARD);
            assertThat(meter.outputTokensCounted()).as(family.name()).isZero();
            assertThat(meter.finished()).isFalse();
            assertThat(meter.malformedEvents()).as(family.name() + ": {not json, [1, 2, a string, 42").isEqualTo(4);
        }
    }

    @Test
    void embeddingsAreNeverStreamed() {
        assertThatThrownBy(() -> StreamMeter.forFamily(EndpointFamily.EMBEDDINGS, TokenCounter.forEncoding("cl100k_base"), false))
                .isInstanceOf(IllegalArgumentException.class);
    }

    // ------------------------------------------------------------------ Responses API

    @Test
    void aResponsesStreamsServerToolCallsAreCountedOncePerFinishedItem() {
        String stream = "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,"
                + "\"item\":{\"type\":\"web_search_call\",\"id\":\"ws_1\",\"status\":\"in_progress\"}}\n\n"
                + "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"sequence_number\":2,\"output_index\":0,"
                + "\"item\":{\"id\":\"ws_1\",\"type\":\"web_search_call\",\"status\":\"completed\"}}\n\n"
                + "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"sequence_number\":3,\"output_index\":1,"
                + "\"item\":{\"type\":\"message\",\"id\":\"msg_1\",\"content\":[{\"type\":\"web_search_call\"}]}}\n\n"
                // The terminal response lists the same item again: it must not be counted twice.
                + "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":4,\"response\":{\"status\":\"completed\","
                + "\"output\":[{\"type\":\"web_search_call\",\"id\":\"ws_1\"}],\"usage\":{\"input_tokens\":7,\"output_tokens\":3}}}\n\n";
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.RESPONSES, TokenCounter.forEncoding("o200k_base"), false);
        feed(meter, blocks(stream.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        assertThat(meter.finished()).isTrue();
        assertThat(meter.usage().toUsage(EndpointFamily.RESPONSES, 0, 0).serverToolCalls()).isEqualTo(java.util.Map.of("web_search", 1L));
    }

    @Test
    void responsesStream() {
        List<byte[]> blocks = blocks(resource("openai-responses.sse"));
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.RESPONSES, TokenCounter.forEncoding("o200k_base"), false);
        List<String> pieces = new ArrayList<>();
        for (byte[] block : blocks) {
            JsonNode event = json(data(block));
            assertThat(event.get("type").asText()).isEqualTo(eventName(block));
            if (event.get("type").asText().endsWith(".delta")) {
                pieces.add(event.get("delta").textValue());
            }
        }
        assertThat(pieces).hasSize(15);
        List<StreamMeter.Verdict> verdicts = feed(meter, blocks.subList(0, blocks.size() - 1));
        assertThat(meter.finished()).isFalse();
        assertThat(meter.usage().any()).as("response.created and in_progress carry usage: null").isFalse();
        verdicts.addAll(feed(meter, blocks.subList(blocks.size() - 1, blocks.size())));
        assertThat(verdicts).containsOnly(StreamMeter.Verdict.FORWARD);
        assertThat(meter.finished()).isTrue();
        // The deltas only: the *.done events and output items repeat the text and must not count it again.
        assertThat(meter.outputTokensCounted()).isEqualTo(countAll(O200K, pieces));
        assertThat(meter.usage().complete(EndpointFamily.RESPONSES)).isTrue();
        assertThat(meter.usage().toUsage(EndpointFamily.RESPONSES, 0, 0)).isEqualTo(new Usage(128, 1_920, 0, 211, 192));
    }

    @Test
    void responsesCutAtCap() {
        List<byte[]> blocks = blocks(resource("openai-responses.sse"));
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.RESPONSES, TokenCounter.forEncoding("o200k_base"), false);
        List<byte[]> sent = blocks.subList(0, 14);
        feed(meter, sent);
        long lastSequence = json(data(sent.getLast())).get("sequence_number").asLong();
        Usage billed = new Usage(2_000, 48, 0, meter.outputTokensCounted(), 0);
        List<Written> cut = written(meter.cutAtCapEvents(billed));
        assertThat(cut).hasSize(1);
        assertThat(cut.getFirst().name()).isEqualTo("response.incomplete");
        JsonNode event = cut.getFirst().json();
        assertThat(event.get("type").asText()).isEqualTo("response.incomplete");
        // A cut holds back the event it was metering when the reservation ran out, so that event's number is reused.
        assertThat(event.get("sequence_number").asLong()).isEqualTo(lastSequence);
        JsonNode response = event.get("response");
        assertThat(response.get("id").asText()).isEqualTo("resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654");
        assertThat(response.get("model").asText()).isEqualTo("o4-mini-2025-04-16");
        assertThat(response.get("status").asText()).isEqualTo("incomplete");
        assertThat(response.at("/incomplete_details/reason").asText()).isEqualTo("max_output_tokens");
        assertThat(response.at("/usage/input_tokens").asLong()).isEqualTo(2_048);
        assertThat(response.at("/usage/input_tokens_details/cached_tokens").asLong()).isEqualTo(48);
        assertThat(response.at("/usage/output_tokens").asLong()).isEqualTo(meter.outputTokensCounted());
        assertThat(response.at("/usage/total_tokens").asLong()).isEqualTo(2_048 + meter.outputTokensCounted());

        StreamMeter client = StreamMeter.forFamily(EndpointFamily.RESPONSES, TokenCounter.forEncoding("o200k_base"), false);
        feed(client, blocks(meter.cutAtCapEvents(billed)));
        assertThat(client.finished()).isTrue();
        assertThat(client.usage().toUsage(EndpointFamily.RESPONSES, 0, 0)).isEqualTo(billed);
    }

    @Test
    void responsesCutBeforeResponseCreatedIsStillWellFormed() {
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.RESPONSES, TokenCounter.forEncoding("o200k_base"), false);
        List<Written> cut = written(meter.cutAtCapEvents(new Usage(10, 0, 0, 0, 0)));
        JsonNode event = cut.getFirst().json();
        assertThat(event.get("sequence_number").asLong()).isZero();
        assertThat(event.at("/response/status").asText()).isEqualTo("incomplete");
    }

    @Test
    void responsesErrorEvent() {
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.RESPONSES, TokenCounter.forEncoding("o200k_base"), false);
        byte[] stream = ("event: error\ndata: {\"type\":\"error\",\"code\":\"ERR_SOMETHING\",\"message\":\"Something went wrong\",\"param\":null,"
                + "\"sequence_number\":1}\n\n").getBytes(StandardCharsets.UTF_8);
        feed(meter, blocks(stream));
        assertThat(meter.providerError()).isEqualTo(new ProviderError("ERR_SOMETHING", "Something went wrong"));
        assertThat(meter.finished()).isFalse();
    }

    @Test
    void responsesFailedAndIncompleteAreTerminalWithUsage() {
        for (String type : new String[] {"response.failed", "response.incomplete"}) {
            StreamMeter meter = StreamMeter.forFamily(EndpointFamily.RESPONSES, TokenCounter.forEncoding("o200k_base"), false);
            byte[] stream = ("event: " + type + "\ndata: {\"type\":\"" + type + "\",\"sequence_number\":9,\"response\":{\"id\":\"resp_1\","
                    + "\"status\":\"x\",\"usage\":{\"input_tokens\":10,\"output_tokens\":4,\"total_tokens\":14}}}\n\n").getBytes(StandardCharsets.UTF_8);
            feed(meter, blocks(stream));
            assertThat(meter.finished()).as(type).isTrue();
            assertThat(meter.usage().toUsage(EndpointFamily.RESPONSES, 0, 0)).isEqualTo(new Usage(10, 0, 0, 4, 0));
        }
    }

    // ------------------------------------------------------------------ Anthropic messages

    @Test
    void anthropicMessagesStream() {
        List<byte[]> blocks = blocks(resource("anthropic-messages.sse"));
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.MESSAGES, TokenCounter.forEncoding("cl100k_base"), false);
        feed(meter, blocks.subList(0, 1));
        // message_start: the prompt side is known before any output.
        assertThat(meter.usage().promptKnown(EndpointFamily.MESSAGES)).isTrue();
        assertThat(meter.usage().toUsage(EndpointFamily.MESSAGES, 0, 0)).isEqualTo(new Usage(25, 3_400, 1_200, 1, 0));
        feed(meter, blocks.subList(1, blocks.size() - 1));
        assertThat(meter.finished()).isFalse();
        assertThat(feed(meter, blocks.subList(blocks.size() - 1, blocks.size()))).containsOnly(StreamMeter.Verdict.FORWARD);
        assertThat(meter.finished()).isTrue();

        List<String> pieces = new ArrayList<>();
        for (byte[] block : blocks) {
            JsonNode event = json(data(block));
            if (event.get("type").asText().equals("content_block_delta")) {
                pieces.add(event.at("/delta/text").textValue());
            }
        }
        assertThat(pieces).hasSize(6);
        assertThat(meter.outputTokensCounted()).isEqualTo(countAll(CL100K, pieces));
        // message_delta's cumulative usage wins over message_start's output_tokens: 1.
        assertThat(meter.usage().toUsage(EndpointFamily.MESSAGES, 0, 0)).isEqualTo(new Usage(25, 3_400, 1_200, 19, 0));
    }

    @Test
    void anthropicThinkingAndToolUse() {
        List<byte[]> blocks = blocks(resource("anthropic-thinking-tool-use.sse"));
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.MESSAGES, TokenCounter.forEncoding("cl100k_base"), false);
        assertThat(feed(meter, blocks)).containsOnly(StreamMeter.Verdict.FORWARD);
        List<String> pieces = new ArrayList<>();
        String signature = null;
        for (byte[] block : blocks) {
            JsonNode event = json(data(block));
            JsonNode delta = event.path("delta");
            switch (delta.path("type").asText()) {
                case "thinking_delta" -> pieces.add(delta.get("thinking").textValue());
                case "input_json_delta" -> pieces.add(delta.get("partial_json").textValue());
                case "signature_delta" -> signature = delta.get("signature").textValue();
                default -> { }
            }
            if (event.path("content_block").path("type").asText().equals("tool_use")) {
                pieces.add(event.at("/content_block/name").textValue());
            }
        }
        assertThat(signature).isNotNull();
        assertThat(pieces).hasSize(8);
        // Thinking and tool input are generated output; the signature is not.
        assertThat(meter.outputTokensCounted()).isEqualTo(countAll(CL100K, pieces));
        assertThat(meter.finished()).isTrue();
        assertThat(meter.usage().toUsage(EndpointFamily.MESSAGES, 0, 0)).isEqualTo(new Usage(472, 0, 0, 89, 0));
    }

    @Test
    void anthropicWebSearchResultsAreNotGeneratedOutput() {
        // A server tool's result block (web search, web fetch, code execution) carries what the tool
        // returned, many kilobytes of it, which the model reads as input; only the model's text, the
        // tool's name and the query it wrote are output.
        List<byte[]> blocks = blocks(resource("anthropic-web-search.sse"));
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.MESSAGES, TokenCounter.forEncoding("cl100k_base"), false);
        feed(meter, blocks);
        List<String> pieces = new ArrayList<>();
        int resultBytes = 0;
        for (byte[] block : blocks) {
            JsonNode event = json(data(block));
            JsonNode delta = event.path("delta");
            if (delta.has("text")) {
                pieces.add(delta.get("text").textValue());
            }
            if (delta.has("partial_json")) {
                pieces.add(delta.get("partial_json").textValue());
            }
            if (event.path("content_block").path("type").asText().equals("server_tool_use")) {
                pieces.add(event.at("/content_block/name").textValue());
            }
            if (event.path("content_block").path("type").asText().endsWith("_tool_result")) {
                resultBytes += block.length;
            }
        }
        assertThat(resultBytes).isGreaterThan(5_000);
        assertThat(meter.outputTokensCounted()).isEqualTo(countAll(CL100K, pieces));
        assertThat(meter.finished()).isTrue();
        // The search is billed per call, from message_delta's server_tool_use.
        assertThat(meter.usage().toUsage(EndpointFamily.MESSAGES, 0, 0))
                .isEqualTo(new Usage(10_682, 0, 0, 510, 0).withServerToolCalls(java.util.Map.of("web_search", 1L)));
        // Cut right after the results arrived, the inline count is what bills the output: it must not include them.
        StreamMeter cutShort = StreamMeter.forFamily(EndpointFamily.MESSAGES, TokenCounter.forEncoding("cl100k_base"), false);
        feed(cutShort, blocks.subList(0, 9));
        assertThat(cutShort.usage().toUsage(EndpointFamily.MESSAGES, 0, cutShort.outputTokensCounted()).outputTokens())
                .isLessThan(40);
    }

    @Test
    void anthropicCutInsideABlockClosesTheBlock() {
        List<byte[]> blocks = blocks(resource("anthropic-messages.sse"));
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.MESSAGES, TokenCounter.forEncoding("cl100k_base"), false);
        feed(meter, blocks.subList(0, 5)); // message_start, content_block_start, ping, two deltas
        Usage billed = meter.usage().toUsage(EndpointFamily.MESSAGES, 0, meter.outputTokensCounted());
        assertThat(billed).isEqualTo(new Usage(25, 3_400, 1_200, meter.outputTokensCounted(), 0));
        List<Written> cut = written(meter.cutAtCapEvents(billed));
        assertThat(cut).extracting(Written::name).containsExactly("content_block_stop", "message_delta", "message_stop");
        for (Written event : cut) {
            assertThat(event.json().get("type").asText()).isEqualTo(event.name());
        }
        assertThat(cut.get(0).json().get("index").asInt()).isZero();
        JsonNode delta = cut.get(1).json();
        assertThat(delta.at("/delta/stop_reason").asText()).isEqualTo("max_tokens");
        assertThat(delta.at("/delta/stop_sequence").isNull()).isTrue();
        assertThat(delta.at("/usage/input_tokens").asLong()).isEqualTo(25);
        assertThat(delta.at("/usage/cache_creation_input_tokens").asLong()).isEqualTo(1_200);
        assertThat(delta.at("/usage/cache_read_input_tokens").asLong()).isEqualTo(3_400);
        assertThat(delta.at("/usage/output_tokens").asLong()).isEqualTo(meter.outputTokensCounted());

        // Fed after what was already sent, the client's view ends cleanly with the billed usage.
        StreamMeter client = StreamMeter.forFamily(EndpointFamily.MESSAGES, TokenCounter.forEncoding("cl100k_base"), false);
        feed(client, blocks.subList(0, 5));
        feed(client, blocks(meter.cutAtCapEvents(billed)));
        assertThat(client.finished()).isTrue();
        assertThat(client.usage().toUsage(EndpointFamily.MESSAGES, 0, 0)).isEqualTo(billed);
    }

    @Test
    void anthropicCutBetweenBlocksClosesNothingExtra() {
        List<byte[]> blocks = blocks(resource("anthropic-thinking-tool-use.sse"));
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.MESSAGES, TokenCounter.forEncoding("cl100k_base"), false);
        int firstStop = 0;
        while (!"content_block_stop".equals(eventName(blocks.get(firstStop)))) {
            firstStop++;
        }
        feed(meter, blocks.subList(0, firstStop + 1));
        assertThat(written(meter.cutAtCapEvents(new Usage(472, 0, 0, 30, 0)))).extracting(Written::name)
                .containsExactly("message_delta", "message_stop");
        // And inside the second block, that block is the one closed.
        feed(meter, blocks.subList(firstStop + 1, firstStop + 3));
        List<Written> cut = written(meter.cutAtCapEvents(new Usage(472, 0, 0, 30, 0)));
        assertThat(cut.getFirst().name()).isEqualTo("content_block_stop");
        assertThat(cut.getFirst().json().get("index").asInt()).isEqualTo(1);
    }

    @Test
    void anthropicErrorEvent() {
        List<byte[]> blocks = blocks(resource("anthropic-error.sse"));
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.MESSAGES, TokenCounter.forEncoding("cl100k_base"), false);
        feed(meter, blocks);
        assertThat(meter.providerError()).isEqualTo(new ProviderError("overloaded_error", "Overloaded"));
        assertThat(meter.completed()).isFalse();
        assertThat(meter.malformedEvents()).isZero();
        assertThat(meter.finished()).isFalse();
        assertThat(meter.outputTokensCounted()).isEqualTo(CL100K.countTokens("Let me think"));
        assertThat(meter.usage().outputTokens(EndpointFamily.MESSAGES)).isEqualTo(2);
    }

    @Test
    void dataWithoutTheEventLineIsTypedByItsTypeField() {
        // Some relays drop the event: lines; the JSON type field then says what the event is.
        byte[] stream = ("data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
                + "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi there\"}}\n\n"
                + "data: {\"type\":\"message_stop\"}\n\n").getBytes(StandardCharsets.UTF_8);
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.MESSAGES, TokenCounter.forEncoding("cl100k_base"), false);
        feed(meter, blocks(stream));
        assertThat(meter.outputTokensCounted()).isEqualTo(CL100K.countTokens("Hi there"));
        assertThat(meter.finished()).isTrue();
        assertThat(meter.usage().toUsage(EndpointFamily.MESSAGES, 0, 0)).isEqualTo(new Usage(3, 0, 0, 1, 0));
    }

    @Test
    void theResourcesAreWhatTheyClaim() {
        // Guards the recordings themselves: a test over an empty or truncated resource would prove nothing.
        for (String name : new String[] {"openai-chat.sse", "openai-chat-two-choices-no-usage.sse", "openai-completions.sse",
            "openai-responses.sse", "anthropic-messages.sse", "anthropic-thinking-tool-use.sse", "anthropic-error.sse",
            "anthropic-web-search.sse"}) {
            List<byte[]> blocks = blocks(resource(name));
            assertThat(blocks).as(name).hasSizeGreaterThan(3);
            for (byte[] block : blocks) {
                String data = data(block);
                if (data != null && !data.equals("[DONE]")) {
                    json(data);
                }
            }
        }
        assertThat(new SseEvent().parse(DONE, 0, 0).hasData()).isFalse();
    }

    // ------------------------------------------------------------------ untrusted usage numbers

    @Test
    void anthropicMalformedMessageDeltaCountFallsBackToTheInlineCountNotThePlaceholder() {
        for (String value : JsonUsageScannerTest.MALFORMED_COUNTS) {
            byte[] stream = ("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25,"
                    + "\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\n\n"
                    + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                    + "\"delta\":{\"type\":\"text_delta\",\"text\":\"Twenty four tokens, or so they say\"}}\n\n"
                    + "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
                    + "\"usage\":{\"output_tokens\":" + value + "}}\n\n"
                    + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n").getBytes(StandardCharsets.UTF_8);
            StreamMeter meter = StreamMeter.forFamily(EndpointFamily.MESSAGES, TokenCounter.forEncoding("cl100k_base"), false);
            assertThat(feed(meter, blocks(stream))).as(value).containsOnly(StreamMeter.Verdict.FORWARD);
            assertThat(meter.finished()).as(value).isTrue();
            assertThat(meter.usageMalformed()).as(value).isTrue();
            assertThat(meter.usage().complete(EndpointFamily.MESSAGES)).as(value + ": the placeholder 1 is not the bill").isFalse();
            assertThat(meter.usage().promptKnown(EndpointFamily.MESSAGES)).as(value).isTrue();
            long counted = CL100K.countTokens("Twenty four tokens, or so they say");
            assertThat(meter.outputTokensCounted()).isEqualTo(counted);
            assertThat(meter.usage().toUsage(EndpointFamily.MESSAGES, 0, meter.outputTokensCounted()))
                    .as(value).isEqualTo(new Usage(25, 100, 0, counted, 0));
        }
    }

    @Test
    void anthropicMessageDeltaWithoutAnOutputCountDoesNotBillThePlaceholder() {
        for (String usage : new String[] {"{}", "\"24\"", "{\"input_tokens\":25}"}) {
            byte[] stream = ("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
                    + "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":" + usage + "}\n\n").getBytes(StandardCharsets.UTF_8);
            StreamMeter meter = StreamMeter.forFamily(EndpointFamily.MESSAGES, TokenCounter.forEncoding("cl100k_base"), false);
            feed(meter, blocks(stream));
            assertThat(meter.usage().outputTokens(EndpointFamily.MESSAGES)).as(usage).isEqualTo(-1);
            assertThat(meter.usage().complete(EndpointFamily.MESSAGES)).as(usage).isFalse();
        }
    }

    @Test
    void openAiAndResponsesMalformedCountsAreNotReported() {
        for (String value : JsonUsageScannerTest.MALFORMED_COUNTS) {
            StreamMeter chat = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
            feed(chat, blocks(("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":" + value
                    + ",\"total_tokens\":12}}\n\ndata: [DONE]\n\n").getBytes(StandardCharsets.UTF_8)));
            assertThat(chat.usageMalformed()).as(value).isTrue();
            assertThat(chat.usage().complete(EndpointFamily.CHAT_COMPLETIONS)).as(value).isFalse();
            assertThat(chat.usage().promptKnown(EndpointFamily.CHAT_COMPLETIONS)).as(value).isTrue();

            StreamMeter responses = StreamMeter.forFamily(EndpointFamily.RESPONSES, TokenCounter.forEncoding("o200k_base"), false);
            feed(responses, blocks(("event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":"
                    + "{\"input_tokens\":" + value + ",\"output_tokens\":3}}}\n\n").getBytes(StandardCharsets.UTF_8)));
            assertThat(responses.usageMalformed()).as(value).isTrue();
            assertThat(responses.usage().promptKnown(EndpointFamily.RESPONSES)).as(value).isFalse();
            assertThat(responses.usage().toUsage(EndpointFamily.RESPONSES, 70, 0)).as(value).isEqualTo(new Usage(70, 0, 0, 3, 0));
        }
        StreamMeter wellFormed = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), false);
        feed(wellFormed, blocks(resource("openai-chat.sse")));
        assertThat(wellFormed.usageMalformed()).isFalse();
    }

    @Test
    void theLargestCountsAreWrittenBackWithoutOverflow() {
        StreamMeter chat = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), true);
        long max = Long.MAX_VALUE;
        List<Written> cut = written(chat.cutAtCapEvents(new Usage(max, max, 0, max, 0)));
        assertThat(cut.get(1).json().at("/usage/total_tokens").asLong()).isEqualTo(max);
        StreamMeter responses = StreamMeter.forFamily(EndpointFamily.RESPONSES, TokenCounter.forEncoding("o200k_base"), false);
        assertThat(written(responses.cutAtCapEvents(new Usage(max, 0, 0, max, 0))).getFirst().json().at("/response/usage/total_tokens").asLong())
                .isEqualTo(max);
    }
}
