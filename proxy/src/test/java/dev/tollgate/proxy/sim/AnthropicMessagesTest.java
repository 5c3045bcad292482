package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.proxy.sim.SimTestSupport.SseEvent;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.tollgate.proxy.sim.SimTestSupport.anthropic;
import static dev.tollgate.proxy.sim.SimTestSupport.expectedText;
import static dev.tollgate.proxy.sim.SimTestSupport.messages;
import static dev.tollgate.proxy.sim.SimTestSupport.object;
import static dev.tollgate.proxy.sim.SimTestSupport.parse;
import static dev.tollgate.proxy.sim.SimTestSupport.parseSse;
import static dev.tollgate.proxy.sim.SimTestSupport.send;
import static org.assertj.core.api.Assertions.assertThat;

class AnthropicMessagesTest {

    private static final String MODEL = "claude-sonnet-4-5";
    private static SimulatedProvider sim;

    @BeforeAll
    static void start() {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
    }

    @AfterAll
    static void stop() {
        sim.close();
    }

    private static int promptTokens(String... texts) {
        int tokens = 3;
        for (String text : texts) {
            tokens += 3 + SimTokens.count(SimTokens.CL100K, text);
        }
        return tokens;
    }

    @Test
    void nonStreamingMessageHasAnthropicShapeAndExactUsage() {
        HttpResponse<String> response = send(anthropic(sim, "/messages", messages(MODEL, "Hello [sim:events=6]", 100)));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("request-id")).hasValueSatisfying(id -> assertThat(id).startsWith("req_011C"));
        JsonNode message = parse(response.body());
        assertThat(message.get("id").asText()).startsWith("msg_01").hasSize("msg_01".length() + 22);
        assertThat(message.get("type").asText()).isEqualTo("message");
        assertThat(message.get("role").asText()).isEqualTo("assistant");
        assertThat(message.get("model").asText()).isEqualTo(MODEL);
        assertThat(message.get("content")).hasSize(1);
        assertThat(message.get("content").get(0).get("type").asText()).isEqualTo("text");
        assertThat(message.get("content").get(0).get("text").asText()).isEqualTo(expectedText(6));
        assertThat(message.get("stop_reason").asText()).isEqualTo("end_turn");
        assertThat(message.get("stop_sequence").isNull()).isTrue();
        JsonNode usage = message.get("usage");
        assertThat(usage.get("input_tokens").asInt()).isEqualTo(promptTokens("Hello [sim:events=6]"));
        assertThat(usage.get("cache_creation_input_tokens").asInt()).isZero();
        assertThat(usage.get("cache_read_input_tokens").asInt()).isZero();
        assertThat(usage.get("output_tokens").asInt()).isEqualTo(6);
        assertThat(usage.get("service_tier").asText()).isEqualTo("standard");
    }

    @Test
    void systemPromptAsStringOrBlocksCountsAsAMessage() {
        ObjectNode body = messages(MODEL, "question", 10).put("system", "Be nice.");
        JsonNode usage = parse(send(anthropic(sim, "/messages", body)).body()).get("usage");
        assertThat(usage.get("input_tokens").asInt()).isEqualTo(promptTokens("Be nice.", "question"));

        ObjectNode blocks = messages(MODEL, "question", 10);
        blocks.putArray("system").addObject().put("type", "text").put("text", "Be nice.");
        JsonNode blockUsage = parse(send(anthropic(sim, "/messages", blocks)).body()).get("usage");
        assertThat(blockUsage.get("input_tokens").asInt()).isEqualTo(promptTokens("Be nice.", "question"));
    }

    @Test
    void maxTokensCapsWithStopReasonMaxTokens() {
        JsonNode message = parse(send(anthropic(sim, "/messages", messages(MODEL, "[sim:events=30]", 7))).body());
        assertThat(message.get("stop_reason").asText()).isEqualTo("max_tokens");
        assertThat(message.get("usage").get("output_tokens").asInt()).isEqualTo(7);
        assertThat(message.get("content").get(0).get("text").asText()).isEqualTo(expectedText(7));
    }

    @Test
    void maxTokensIsRequired() {
        ObjectNode body = object().put("model", MODEL);
        body.putArray("messages").addObject().put("role", "user").put("content", "hi");
        HttpResponse<String> response = send(anthropic(sim, "/messages", body));
        assertThat(response.statusCode()).isEqualTo(400);
        JsonNode error = parse(response.body());
        assertThat(error.get("type").asText()).isEqualTo("error");
        assertThat(error.get("error").get("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.get("error").get("message").asText()).contains("max_tokens");
        assertThat(error.get("request_id").asText()).isEqualTo(response.headers().firstValue("request-id").orElseThrow());
    }

    @Test
    void streamFollowsTheRealEventSequenceWithCumulativeUsage() {
        String prompt = "Stream [sim:events=5] [sim:cached=2] [sim:cache-write=3]";
        ObjectNode body = messages(MODEL, prompt, 100).put("stream", true);
        HttpResponse<String> response = send(anthropic(sim, "/messages", body));

        assertThat(response.headers().firstValue("content-type")).hasValue("text/event-stream; charset=utf-8");
        List<SseEvent> events = parseSse(response.body());
        List<String> expected = new ArrayList<>(List.of("message_start", "content_block_start", "ping"));
        for (int i = 0; i < 5; i++) {
            expected.add("content_block_delta");
        }
        expected.addAll(List.of("content_block_stop", "message_delta", "message_stop"));
        assertThat(events).extracting(SseEvent::event).containsExactlyElementsOf(expected);
        assertThat(events).allSatisfy(e -> assertThat(e.json().get("type").asText()).isEqualTo(e.event()));

        int inputTokens = promptTokens(prompt) - 2 - 3;
        JsonNode start = events.get(0).json().get("message");
        assertThat(start.get("id").asText()).startsWith("msg_01");
        assertThat(start.get("content").isEmpty()).isTrue();
        assertThat(start.get("stop_reason").isNull()).isTrue();
        assertThat(start.get("usage").get("input_tokens").asInt()).isEqualTo(inputTokens);
        assertThat(start.get("usage").get("cache_read_input_tokens").asInt()).isEqualTo(2);
        assertThat(start.get("usage").get("cache_creation_input_tokens").asInt()).isEqualTo(3);
        assertThat(start.get("usage").get("output_tokens").asInt()).isEqualTo(1);

        JsonNode blockStart = events.get(1).json();
        assertThat(blockStart.get("index").asInt()).isZero();
        assertThat(blockStart.get("content_block").get("type").asText()).isEqualTo("text");
        assertThat(blockStart.get("content_block").get("text").asText()).isEmpty();

        StringBuilder text = new StringBuilder();
        for (SseEvent delta : events.subList(3, 8)) {
            JsonNode data = delta.json();
            assertThat(data.get("index").asInt()).isZero();
            assertThat(data.get("delta").get("type").asText()).isEqualTo("text_delta");
            text.append(data.get("delta").get("text").asText());
        }
        assertThat(text.toString()).isEqualTo(expectedText(5));

        JsonNode messageDelta = events.get(9).json();
        assertThat(messageDelta.get("delta").get("stop_reason").asText()).isEqualTo("end_turn");
        assertThat(messageDelta.get("delta").get("stop_sequence").isNull()).isTrue();
        JsonNode usage = messageDelta.get("usage");
        assertThat(usage.get("output_tokens").asInt()).isEqualTo(5);
        assertThat(usage.get("input_tokens").asInt()).isEqualTo(inputTokens);
        assertThat(usage.get("cache_read_input_tokens").asInt()).isEqualTo(2);
        assertThat(usage.get("cache_creation_input_tokens").asInt()).isEqualTo(3);
    }

    @Test
    void cappedStreamStopsWithMaxTokens() {
        List<SseEvent> events = parseSse(send(anthropic(sim, "/messages",
                messages(MODEL, "[sim:events=9] [sim:reasoning=2]", 6).put("stream", true))).body());
        assertThat(events.stream().filter(e -> e.event().equals("content_block_delta"))).hasSize(4);
        JsonNode messageDelta = events.get(events.size() - 2).json();
        assertThat(messageDelta.get("delta").get("stop_reason").asText()).isEqualTo("max_tokens");
        assertThat(messageDelta.get("usage").get("output_tokens").asInt()).isEqualTo(6);
    }

    @Test
    void noUsageDropsUsageEverywhere() {
        List<SseEvent> events = parseSse(send(anthropic(sim, "/messages",
                messages(MODEL, "[sim:events=2] [sim:no-usage]", 50).put("stream", true))).body());
        assertThat(events.getFirst().json().get("message").has("usage")).isFalse();
        assertThat(events.get(events.size() - 2).json().has("usage")).isFalse();
        JsonNode message = parse(send(anthropic(sim, "/messages", messages(MODEL, "[sim:no-usage]", 50))).body());
        assertThat(message.has("usage")).isFalse();
    }

    @Test
    void failAfterCutsBeforeTheTerminatingEvents() throws IOException {
        RawHttp.Response response;
        try (RawHttp http = new RawHttp(sim.port())) {
            http.sendPost("/v1/messages", Map.of("x-api-key", "k", "anthropic-version", "2023-06-01"),
                    messages(MODEL, "[sim:events=8] [sim:fail-after=5]", 100).put("stream", true).toString());
            response = http.readChunked();
        }
        assertThat(response.terminated()).isFalse();
        List<SseEvent> events = parseSse(response.body());
        assertThat(events).extracting(SseEvent::event).containsExactly("message_start", "content_block_start", "ping",
                "content_block_delta", "content_block_delta", "content_block_delta", "content_block_delta",
                "content_block_delta");
    }

    @Test
    void failAfterAllDeltasCutsBeforeContentBlockStop() throws IOException {
        RawHttp.Response response;
        try (RawHttp http = new RawHttp(sim.port())) {
            http.sendPost("/v1/messages", Map.of("x-api-key", "k"),
                    messages(MODEL, "[sim:events=2] [sim:fail-after=2]", 100).put("stream", true).toString());
            response = http.readChunked();
        }
        assertThat(response.terminated()).isFalse();
        assertThat(parseSse(response.body())).extracting(SseEvent::event).endsWith("content_block_delta");
    }

    @Test
    void simulatedErrorsUseAnthropicTypes() {
        assertError("[sim:error=429]", 429, "rate_limit_error");
        assertError("[sim:error=500]", 500, "api_error");
        assertError("[sim:error=529]", 529, "overloaded_error");
        assertError("[sim:error=400]", 400, "invalid_request_error");
    }

    private static void assertError(String prompt, int status, String type) {
        HttpResponse<String> response = send(anthropic(sim, "/messages", messages(MODEL, prompt, 10).put("stream", true)));
        assertThat(response.statusCode()).isEqualTo(status);
        assertThat(response.headers().firstValue("request-id")).isPresent();
        JsonNode body = parse(response.body());
        assertThat(body.get("type").asText()).isEqualTo("error");
        assertThat(body.get("error").get("type").asText()).isEqualTo(type);
        assertThat(body.get("error").get("message").asText()).isNotBlank();
    }

    @Test
    void countTokensReportsTheWholePrompt() {
        ObjectNode body = object().put("model", MODEL).put("system", "sys");
        body.putArray("messages").addObject().put("role", "user").put("content", "count me [sim:cached=2]");
        HttpResponse<String> response = send(anthropic(sim, "/messages/count_tokens", body));
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode count = parse(response.body());
        assertThat(count.size()).isEqualTo(1);
        assertThat(count.get("input_tokens").asInt()).isEqualTo(promptTokens("sys", "count me [sim:cached=2]"));
    }

    @Test
    void toolResultTextIsCounted() {
        ObjectNode body = object().put("model", MODEL).put("max_tokens", 5);
        var blocks = body.putArray("messages").addObject().put("role", "user").putArray("content");
        var toolResult = blocks.addObject().put("type", "tool_result").put("tool_use_id", "toolu_1");
        toolResult.putArray("content").addObject().put("type", "text").put("text", "42 degrees");
        JsonNode usage = parse(send(anthropic(sim, "/messages", body)).body()).get("usage");
        assertThat(usage.get("input_tokens").asInt()).isEqualTo(promptTokens("42 degrees"));
    }
}
