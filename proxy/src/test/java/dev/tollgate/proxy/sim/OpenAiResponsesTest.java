package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.proxy.sim.SimTestSupport.SseEvent;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.tollgate.proxy.sim.SimTestSupport.expectedText;
import static dev.tollgate.proxy.sim.SimTestSupport.object;
import static dev.tollgate.proxy.sim.SimTestSupport.openAi;
import static dev.tollgate.proxy.sim.SimTestSupport.parse;
import static dev.tollgate.proxy.sim.SimTestSupport.parseSse;
import static dev.tollgate.proxy.sim.SimTestSupport.send;
import static org.assertj.core.api.Assertions.assertThat;

class OpenAiResponsesTest {

    private static SimulatedProvider sim;

    @BeforeAll
    static void start() {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
    }

    @AfterAll
    static void stop() {
        sim.close();
    }

    private static ObjectNode request(String input) {
        return object().put("model", "gpt-4.1").put("input", input);
    }

    @Test
    void nonStreamingResponseHasEveryRequiredField() {
        ObjectNode body = request("Tell me [sim:events=5]").put("instructions", "Be brief.");
        JsonNode response = parse(send(openAi(sim, "/responses", body)).body());

        assertThat(response.get("id").asText()).startsWith("resp_").hasSize("resp_".length() + 48);
        assertThat(response.get("object").asText()).isEqualTo("response");
        assertThat(response.get("created_at").asLong()).isPositive();
        assertThat(response.get("status").asText()).isEqualTo("completed");
        assertThat(response.get("error").isNull()).isTrue();
        assertThat(response.get("incomplete_details").isNull()).isTrue();
        assertThat(response.get("instructions").asText()).isEqualTo("Be brief.");
        assertThat(response.get("model").asText()).isEqualTo("gpt-4.1");
        assertThat(response.get("parallel_tool_calls").asBoolean()).isTrue();
        assertThat(response.get("tool_choice").asText()).isEqualTo("auto");
        assertThat(response.get("tools").isArray()).isTrue();
        assertThat(response.get("temperature").asDouble()).isEqualTo(1.0);
        assertThat(response.get("top_p").asDouble()).isEqualTo(1.0);
        assertThat(response.get("metadata").isObject()).isTrue();
        assertThat(response.get("text").get("format").get("type").asText()).isEqualTo("text");

        JsonNode output = response.get("output");
        assertThat(output).hasSize(1);
        JsonNode message = output.get(0);
        assertThat(message.get("type").asText()).isEqualTo("message");
        assertThat(message.get("id").asText()).startsWith("msg_");
        assertThat(message.get("status").asText()).isEqualTo("completed");
        assertThat(message.get("role").asText()).isEqualTo("assistant");
        JsonNode part = message.get("content").get(0);
        assertThat(part.get("type").asText()).isEqualTo("output_text");
        assertThat(part.get("text").asText()).isEqualTo(expectedText(5));
        assertThat(part.get("annotations").isEmpty()).isTrue();

        JsonNode usage = response.get("usage");
        int inputTokens = 3 + 3 + SimTokens.count(SimTokens.O200K, "Be brief.")
                + 3 + SimTokens.count(SimTokens.O200K, "Tell me [sim:events=5]");
        assertThat(usage.get("input_tokens").asInt()).isEqualTo(inputTokens);
        assertThat(usage.get("input_tokens_details").get("cached_tokens").asInt()).isZero();
        assertThat(usage.get("output_tokens").asInt()).isEqualTo(5);
        assertThat(usage.get("output_tokens_details").get("reasoning_tokens").asInt()).isZero();
        assertThat(usage.get("total_tokens").asInt()).isEqualTo(inputTokens + 5);
    }

    @Test
    void inputItemsCountAsMessages() {
        ObjectNode body = object().put("model", "gpt-4.1");
        var input = body.putArray("input");
        input.addObject().put("role", "user").put("content", "plain string");
        input.addObject().put("role", "user").putArray("content").addObject().put("type", "input_text").put("text", "a part");
        JsonNode usage = parse(send(openAi(sim, "/responses", body)).body()).get("usage");
        int expected = 3 + 2 * 3 + SimTokens.count(SimTokens.O200K, "plain string") + SimTokens.count(SimTokens.O200K, "a part");
        assertThat(usage.get("input_tokens").asInt()).isEqualTo(expected);
    }

    @Test
    void maxOutputTokensMakesTheResponseIncomplete() {
        ObjectNode body = request("[sim:events=40]").put("max_output_tokens", 16);
        JsonNode response = parse(send(openAi(sim, "/responses", body)).body());
        assertThat(response.get("status").asText()).isEqualTo("incomplete");
        assertThat(response.get("incomplete_details").get("reason").asText()).isEqualTo("max_output_tokens");
        assertThat(response.get("max_output_tokens").asInt()).isEqualTo(16);
        assertThat(response.get("output").get(0).get("status").asText()).isEqualTo("incomplete");
        assertThat(response.get("usage").get("output_tokens").asInt()).isEqualTo(16);
    }

    @Test
    void streamFollowsTheRealEventSequence() {
        ObjectNode body = request("stream [sim:events=4] [sim:cached=2]").put("stream", true);
        List<SseEvent> events = parseSse(send(openAi(sim, "/responses", body)).body());

        List<String> expected = new ArrayList<>(List.of("response.created", "response.in_progress",
                "response.output_item.added", "response.content_part.added"));
        for (int i = 0; i < 4; i++) {
            expected.add("response.output_text.delta");
        }
        expected.addAll(List.of("response.output_text.done", "response.content_part.done",
                "response.output_item.done", "response.completed"));
        assertThat(events).extracting(SseEvent::event).containsExactlyElementsOf(expected);
        for (int i = 0; i < events.size(); i++) {
            JsonNode data = events.get(i).json();
            assertThat(data.get("type").asText()).isEqualTo(events.get(i).event());
            assertThat(data.get("sequence_number").asInt()).isEqualTo(i);
        }

        JsonNode created = events.get(0).json().get("response");
        assertThat(created.get("status").asText()).isEqualTo("in_progress");
        assertThat(created.get("output").isEmpty()).isTrue();
        assertThat(created.get("usage").isNull()).isTrue();

        JsonNode added = events.get(2).json();
        assertThat(added.get("output_index").asInt()).isZero();
        assertThat(added.get("item").get("status").asText()).isEqualTo("in_progress");
        String itemId = added.get("item").get("id").asText();

        StringBuilder text = new StringBuilder();
        for (SseEvent delta : events.subList(4, 8)) {
            JsonNode data = delta.json();
            assertThat(data.get("item_id").asText()).isEqualTo(itemId);
            assertThat(data.get("output_index").asInt()).isZero();
            assertThat(data.get("content_index").asInt()).isZero();
            text.append(data.get("delta").asText());
        }
        assertThat(text.toString()).isEqualTo(expectedText(4));
        assertThat(events.get(8).json().get("text").asText()).isEqualTo(expectedText(4));
        assertThat(events.get(9).json().get("part").get("text").asText()).isEqualTo(expectedText(4));
        assertThat(events.get(10).json().get("item").get("status").asText()).isEqualTo("completed");

        JsonNode completed = events.get(11).json().get("response");
        assertThat(completed.get("status").asText()).isEqualTo("completed");
        assertThat(completed.get("id").asText()).isEqualTo(created.get("id").asText());
        assertThat(completed.get("output").get(0).get("content").get(0).get("text").asText()).isEqualTo(expectedText(4));
        assertThat(completed.get("usage").get("output_tokens").asInt()).isEqualTo(4);
        assertThat(completed.get("usage").get("input_tokens_details").get("cached_tokens").asInt()).isEqualTo(2);
    }

    @Test
    void cappedStreamEndsWithResponseIncomplete() {
        ObjectNode body = request("[sim:events=30]").put("max_output_tokens", 20).put("stream", true);
        List<SseEvent> events = parseSse(send(openAi(sim, "/responses", body)).body());
        assertThat(events.stream().filter(e -> e.event().equals("response.output_text.delta"))).hasSize(20);
        SseEvent last = events.getLast();
        assertThat(last.event()).isEqualTo("response.incomplete");
        assertThat(last.json().get("response").get("status").asText()).isEqualTo("incomplete");
        assertThat(last.json().get("response").get("incomplete_details").get("reason").asText()).isEqualTo("max_output_tokens");
        assertThat(last.json().get("response").get("usage").get("output_tokens").asInt()).isEqualTo(20);
    }

    @Test
    void reasoningAddsAHiddenReasoningItemAndCountsInOutputTokens() {
        ObjectNode body = request("[sim:events=3] [sim:reasoning=5]").put("stream", true);
        List<SseEvent> events = parseSse(send(openAi(sim, "/responses", body)).body());

        assertThat(events.subList(0, 6)).extracting(SseEvent::event).containsExactly("response.created",
                "response.in_progress", "response.output_item.added", "response.output_item.done",
                "response.output_item.added", "response.content_part.added");
        assertThat(events.get(2).json().get("item").get("type").asText()).isEqualTo("reasoning");
        assertThat(events.get(2).json().get("item").get("id").asText()).startsWith("rs_");
        assertThat(events.get(4).json().get("output_index").asInt()).isEqualTo(1);
        JsonNode usage = events.getLast().json().get("response").get("usage");
        assertThat(usage.get("output_tokens").asInt()).isEqualTo(8);
        assertThat(usage.get("output_tokens_details").get("reasoning_tokens").asInt()).isEqualTo(5);
        assertThat(events.getLast().json().get("response").get("output")).hasSize(2);
    }

    @Test
    void webSearchesComeFirstAsCallItemsEachWithItsOwnOutputIndex() {
        ObjectNode body = request("[sim:events=3] [sim:reasoning=5] [sim:web-search=2]").put("stream", true);
        List<SseEvent> events = parseSse(send(openAi(sim, "/responses", body)).body());

        assertThat(events.subList(2, 9)).extracting(e -> e.json().get("item") == null ? e.event()
                : e.event() + " " + e.json().get("output_index").asInt() + " " + e.json().get("item").get("type").asText()).containsExactly(
                "response.output_item.added 0 web_search_call", "response.output_item.done 0 web_search_call",
                "response.output_item.added 1 web_search_call", "response.output_item.done 1 web_search_call",
                "response.output_item.added 2 reasoning", "response.output_item.done 2 reasoning",
                "response.output_item.added 3 message");
        assertThat(events.get(3).json().get("item").get("status").asText()).isEqualTo("completed");
        assertThat(events.get(3).json().get("item").get("action").get("type").asText()).isEqualTo("search");
        assertThat(events.get(9).json().get("output_index").asInt()).as("the message's parts point at its index").isEqualTo(3);
        for (int i = 0; i < events.size(); i++) {
            assertThat(events.get(i).json().get("sequence_number").asInt()).isEqualTo(i);
        }
        JsonNode output = events.getLast().json().get("response").get("output");
        assertThat(output).extracting(item -> item.get("type").asText())
                .containsExactly("web_search_call", "web_search_call", "reasoning", "message");

        JsonNode json = parse(send(openAi(sim, "/responses", request("[sim:events=3] [sim:web-search=1]"))).body());
        assertThat(json.get("output")).extracting(item -> item.get("type").asText()).containsExactly("web_search_call", "message");
    }

    @Test
    void noUsageLeavesUsageNull() {
        JsonNode response = parse(send(openAi(sim, "/responses", request("[sim:no-usage]"))).body());
        assertThat(response.get("usage").isNull()).isTrue();
        assertThat(response.get("status").asText()).isEqualTo("completed");
    }

    @Test
    void errorDirectiveAnswersInOpenAiShape() {
        var response = send(openAi(sim, "/responses", request("[sim:error=500]").put("stream", true)));
        assertThat(response.statusCode()).isEqualTo(500);
        assertThat(parse(response.body()).get("error").get("type").asText()).isEqualTo("server_error");
    }
}
