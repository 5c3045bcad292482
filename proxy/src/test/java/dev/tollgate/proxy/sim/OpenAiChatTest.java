package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.proxy.sim.SimTestSupport.SseEvent;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;

import static dev.tollgate.proxy.sim.SimTestSupport.chat;
import static dev.tollgate.proxy.sim.SimTestSupport.expectedText;
import static dev.tollgate.proxy.sim.SimTestSupport.openAi;
import static dev.tollgate.proxy.sim.SimTestSupport.parse;
import static dev.tollgate.proxy.sim.SimTestSupport.parseSse;
import static dev.tollgate.proxy.sim.SimTestSupport.send;
import static org.assertj.core.api.Assertions.assertThat;

class OpenAiChatTest {

    private static SimulatedProvider sim;

    @BeforeAll
    static void start() {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
    }

    @AfterAll
    static void stop() {
        sim.close();
    }

    private static int promptTokens(String model, String... messages) {
        int tokens = 3;
        for (String message : messages) {
            tokens += SimTokens.count(SimTokens.encodingFor(model), message) + 3;
        }
        return tokens;
    }

    @Test
    void nonStreamingCompletionHasTheFullShapeAndExactUsage() {
        String prompt = "Say something [sim:events=5]";
        HttpResponse<String> response = send(openAi(sim, "/chat/completions", chat("gpt-4o-mini", prompt)));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(response.headers().firstValue("x-request-id")).hasValueSatisfying(id -> assertThat(id).startsWith("req_"));
        JsonNode body = parse(response.body());
        assertThat(body.get("id").asText()).startsWith("chatcmpl-").hasSize("chatcmpl-".length() + 29);
        assertThat(body.get("object").asText()).isEqualTo("chat.completion");
        assertThat(body.get("created").asLong()).isPositive();
        assertThat(body.get("model").asText()).isEqualTo("gpt-4o-mini");
        assertThat(body.get("service_tier").asText()).isEqualTo("default");
        assertThat(body.get("system_fingerprint").asText()).startsWith("fp_");
        JsonNode choice = body.get("choices").get(0);
        assertThat(choice.get("index").asInt()).isZero();
        assertThat(choice.get("message").get("role").asText()).isEqualTo("assistant");
        assertThat(choice.get("message").get("content").asText()).isEqualTo(expectedText(5));
        assertThat(choice.get("message").get("refusal").isNull()).isTrue();
        assertThat(choice.get("message").get("annotations").isEmpty()).isTrue();
        assertThat(choice.get("logprobs").isNull()).isTrue();
        assertThat(choice.get("finish_reason").asText()).isEqualTo("stop");

        JsonNode usage = body.get("usage");
        int promptTokens = promptTokens("gpt-4o-mini", prompt);
        assertThat(usage.get("prompt_tokens").asInt()).isEqualTo(promptTokens);
        assertThat(usage.get("completion_tokens").asInt()).isEqualTo(5);
        assertThat(usage.get("total_tokens").asInt()).isEqualTo(promptTokens + 5);
        assertThat(usage.get("prompt_tokens_details").get("cached_tokens").asInt()).isZero();
        assertThat(usage.get("prompt_tokens_details").get("audio_tokens").asInt()).isZero();
        JsonNode completionDetails = usage.get("completion_tokens_details");
        assertThat(completionDetails.get("reasoning_tokens").asInt()).isZero();
        assertThat(completionDetails.get("audio_tokens").asInt()).isZero();
        assertThat(completionDetails.get("accepted_prediction_tokens").asInt()).isZero();
        assertThat(completionDetails.get("rejected_prediction_tokens").asInt()).isZero();
    }

    @Test
    void defaultEventCountIsTheSettingsDefault() {
        JsonNode body = parse(send(openAi(sim, "/chat/completions", chat("gpt-4o", "hi"))).body());
        assertThat(body.get("usage").get("completion_tokens").asInt()).isEqualTo(24);
        assertThat(body.get("choices").get(0).get("message").get("content").asText()).isEqualTo(expectedText(24));
    }

    @Test
    void promptCountsEveryMessageAndTextPart() {
        ObjectNode body = SimTestSupport.object().put("model", "gpt-3.5-turbo");
        var messages = body.putArray("messages");
        messages.addObject().put("role", "system").put("content", "You are terse.");
        var parts = messages.addObject().put("role", "user").putArray("content");
        parts.addObject().put("type", "text").put("text", "first part");
        parts.addObject().put("type", "image_url").putObject("image_url").put("url", "https://example.invalid/x.png");
        parts.addObject().put("type", "text").put("text", "second part [sim:events=1]");

        JsonNode usage = parse(send(openAi(sim, "/chat/completions", body)).body()).get("usage");

        // cl100k for a model outside the o200k families; each text piece counted on its own.
        int expected = 3 + 3 + 3 + SimTokens.count(SimTokens.CL100K, "You are terse.")
                + SimTokens.count(SimTokens.CL100K, "first part")
                + SimTokens.count(SimTokens.CL100K, "second part [sim:events=1]");
        assertThat(usage.get("prompt_tokens").asInt()).isEqualTo(expected);
    }

    @Test
    void streamWithoutIncludeUsageHasNoUsageAnywhere() {
        ObjectNode body = chat("gpt-4o-mini", "stream please [sim:events=4]").put("stream", true);
        HttpResponse<String> response = send(openAi(sim, "/chat/completions", body));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValue("text/event-stream; charset=utf-8");
        List<SseEvent> events = parseSse(response.body());
        assertThat(events).hasSize(1 + 4 + 1 + 1);
        assertThat(events.getLast().data()).isEqualTo("[DONE]");
        assertThat(events).allSatisfy(e -> assertThat(e.event()).isNull());

        JsonNode first = events.getFirst().json();
        assertThat(first.get("object").asText()).isEqualTo("chat.completion.chunk");
        assertThat(first.get("choices").get(0).get("delta").get("role").asText()).isEqualTo("assistant");
        assertThat(first.get("choices").get(0).get("delta").get("content").asText()).isEmpty();
        assertThat(first.get("choices").get(0).get("finish_reason").isNull()).isTrue();

        StringBuilder text = new StringBuilder();
        for (SseEvent delta : events.subList(1, 5)) {
            JsonNode choice = delta.json().get("choices").get(0);
            assertThat(choice.get("delta").size()).isEqualTo(1);
            text.append(choice.get("delta").get("content").asText());
        }
        assertThat(text.toString()).isEqualTo(expectedText(4));

        JsonNode finish = events.get(5).json().get("choices").get(0);
        assertThat(finish.get("delta").isEmpty()).isTrue();
        assertThat(finish.get("finish_reason").asText()).isEqualTo("stop");
        for (SseEvent event : events.subList(0, events.size() - 1)) {
            JsonNode chunk = event.json();
            assertThat(chunk.has("usage")).isFalse();
            assertThat(chunk.get("id").asText()).isEqualTo(first.get("id").asText());
        }
    }

    @Test
    void streamWithIncludeUsageEndsWithAUsageChunkAndCarriesNullUsageBefore() {
        ObjectNode body = chat("gpt-4o-mini", "stream please [sim:events=6]").put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        List<SseEvent> events = parseSse(send(openAi(sim, "/chat/completions", body)).body());

        assertThat(events).hasSize(1 + 6 + 1 + 1 + 1);
        for (SseEvent event : events.subList(0, 8)) {
            assertThat(event.json().has("usage")).isTrue();
            assertThat(event.json().get("usage").isNull()).isTrue();
        }
        JsonNode usageChunk = events.get(8).json();
        assertThat(usageChunk.get("choices").isEmpty()).isTrue();
        long deltas = events.stream().filter(e -> !e.data().equals("[DONE]"))
                .map(SseEvent::json)
                .filter(c -> !c.get("choices").isEmpty() && c.get("choices").get(0).get("delta").has("content")
                        && !c.get("choices").get(0).get("delta").has("role"))
                .count();
        assertThat(usageChunk.get("usage").get("completion_tokens").asLong()).isEqualTo(deltas).isEqualTo(6);
        assertThat(usageChunk.get("usage").get("prompt_tokens").asInt())
                .isEqualTo(promptTokens("gpt-4o-mini", "stream please [sim:events=6]"));
        assertThat(events.get(9).data()).isEqualTo("[DONE]");
    }

    @Test
    void streamAndNonStreamReportTheSameUsage() {
        String prompt = "same [sim:events=7] [sim:cached=3] [sim:reasoning=2]";
        JsonNode plain = parse(send(openAi(sim, "/chat/completions", chat("o3-mini", prompt))).body()).get("usage");
        ObjectNode streamBody = chat("o3-mini", prompt).put("stream", true);
        streamBody.putObject("stream_options").put("include_usage", true);
        List<SseEvent> events = parseSse(send(openAi(sim, "/chat/completions", streamBody)).body());
        JsonNode streamed = events.get(events.size() - 2).json().get("usage");
        assertThat(streamed).isEqualTo(plain);
    }

    @Test
    void maxCompletionTokensCapsTheAnswerWithFinishReasonLength() {
        ObjectNode body = chat("gpt-4o", "long answer [sim:events=50]").put("max_completion_tokens", 10);
        JsonNode response = parse(send(openAi(sim, "/chat/completions", body)).body());
        assertThat(response.get("choices").get(0).get("finish_reason").asText()).isEqualTo("length");
        assertThat(response.get("usage").get("completion_tokens").asInt()).isEqualTo(10);

        ObjectNode legacyCap = chat("gpt-4o", "long answer [sim:events=50]").put("max_tokens", 3).put("stream", true);
        List<SseEvent> events = parseSse(send(openAi(sim, "/chat/completions", legacyCap)).body());
        assertThat(events).hasSize(1 + 3 + 1 + 1);
        assertThat(events.get(4).json().get("choices").get(0).get("finish_reason").asText()).isEqualTo("length");
    }

    @Test
    void capAtExactlyTheRequestedCountIsNotTruncation() {
        ObjectNode body = chat("gpt-4o", "[sim:events=10]").put("max_completion_tokens", 10);
        JsonNode response = parse(send(openAi(sim, "/chat/completions", body)).body());
        assertThat(response.get("choices").get(0).get("finish_reason").asText()).isEqualTo("stop");
        assertThat(response.get("usage").get("completion_tokens").asInt()).isEqualTo(10);
    }

    @Test
    void reasoningTokensCountInsideCompletionTokensAndAgainstTheCap() {
        JsonNode usage = parse(send(openAi(sim, "/chat/completions",
                chat("o3-mini", "[sim:events=4] [sim:reasoning=6]"))).body()).get("usage");
        assertThat(usage.get("completion_tokens").asInt()).isEqualTo(10);
        assertThat(usage.get("completion_tokens_details").get("reasoning_tokens").asInt()).isEqualTo(6);

        ObjectNode capped = chat("o3-mini", "[sim:events=4] [sim:reasoning=6]").put("max_completion_tokens", 8);
        JsonNode response = parse(send(openAi(sim, "/chat/completions", capped)).body());
        assertThat(response.get("usage").get("completion_tokens").asInt()).isEqualTo(8);
        assertThat(response.get("usage").get("completion_tokens_details").get("reasoning_tokens").asInt()).isEqualTo(6);
        assertThat(response.get("choices").get(0).get("message").get("content").asText()).isEqualTo(expectedText(2));
        assertThat(response.get("choices").get(0).get("finish_reason").asText()).isEqualTo("length");
    }

    @Test
    void cachedTokensAreReportedInsidePromptTokens() {
        String prompt = "a long shared prefix [sim:cached=4]";
        JsonNode usage = parse(send(openAi(sim, "/chat/completions", chat("gpt-4o", prompt))).body()).get("usage");
        assertThat(usage.get("prompt_tokens_details").get("cached_tokens").asInt()).isEqualTo(4);
        assertThat(usage.get("prompt_tokens").asInt()).isEqualTo(promptTokens("gpt-4o", prompt));

        // More cached than counted: the prompt grows so that cached stays a part of it.
        JsonNode big = parse(send(openAi(sim, "/chat/completions", chat("gpt-4o", "x [sim:cached=5000]"))).body())
                .get("usage");
        assertThat(big.get("prompt_tokens").asInt()).isEqualTo(5000);
        assertThat(big.get("prompt_tokens_details").get("cached_tokens").asInt()).isEqualTo(5000);
    }

    @Test
    void noUsageOmitsUsageFromAnswersAndStreams() {
        JsonNode plain = parse(send(openAi(sim, "/chat/completions", chat("gpt-4o", "[sim:no-usage]"))).body());
        assertThat(plain.has("usage")).isFalse();
        assertThat(plain.get("choices").get(0).get("message").get("content").asText()).isEqualTo(expectedText(24));

        ObjectNode body = chat("gpt-4o", "[sim:no-usage] [sim:events=2]").put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        List<SseEvent> events = parseSse(send(openAi(sim, "/chat/completions", body)).body());
        assertThat(events).hasSize(1 + 2 + 1 + 1);
        assertThat(events.subList(0, 4)).allSatisfy(e -> assertThat(e.json().has("usage")).isFalse());
    }

    @Test
    void ignoreMaxTokensKeepsGeneratingPastTheCap() {
        ObjectNode body = chat("gpt-4o", "[sim:events=12] [sim:ignore-max-tokens]").put("max_tokens", 5).put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        List<SseEvent> events = parseSse(send(openAi(sim, "/chat/completions", body)).body());
        assertThat(events).hasSize(1 + 12 + 1 + 1 + 1);
        assertThat(events.get(14).json().get("usage").get("completion_tokens").asInt()).isEqualTo(12);
    }

    @Test
    void failAfterCutsTheStreamWithoutTerminatingEvents() throws IOException {
        ObjectNode body = chat("gpt-4o", "[sim:events=10] [sim:fail-after=3]").put("stream", true);
        RawHttp.Response response;
        try (RawHttp http = new RawHttp(sim.port())) {
            http.sendPost("/v1/chat/completions", Map.of("Authorization", "Bearer k"), body.toString());
            response = http.readChunked();
        }
        assertThat(response.status()).isEqualTo(200);
        assertThat(response.terminated()).as("last chunk sent").isFalse();
        List<SseEvent> events = parseSse(response.body());
        assertThat(events).hasSize(1 + 3);
        assertThat(events.getLast().json().get("choices").get(0).get("delta").get("content").asText())
                .isEqualTo(SimTokens.word(2));
        assertThat(response.body()).doesNotContain("[DONE]").doesNotContain("finish_reason\":\"stop");
    }

    @Test
    void simulatedErrorsUseOpenAiShapes() {
        JsonNode rateLimited = expectError("[sim:error=429]", 429);
        assertThat(rateLimited.get("type").asText()).isEqualTo("requests");
        assertThat(rateLimited.get("code").asText()).isEqualTo("rate_limit_exceeded");

        JsonNode serverError = expectError("[sim:error=500]", 500);
        assertThat(serverError.get("type").asText()).isEqualTo("server_error");
        assertThat(serverError.get("code").isNull()).isTrue();

        JsonNode badRequest = expectError("[sim:error=400]", 400);
        assertThat(badRequest.get("type").asText()).isEqualTo("invalid_request_error");

        JsonNode overloaded = expectError("[sim:error=529]", 529);
        assertThat(overloaded.get("type").asText()).isEqualTo("server_error");
    }

    private static JsonNode expectError(String prompt, int status) {
        // Streaming requests fail the same way: a JSON error before any event.
        HttpResponse<String> response = send(openAi(sim, "/chat/completions", chat("gpt-4o", prompt).put("stream", true)));
        assertThat(response.statusCode()).isEqualTo(status);
        assertThat(response.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(response.headers().firstValue("x-request-id")).isPresent();
        JsonNode error = parse(response.body()).get("error");
        assertThat(error.get("message").asText()).isNotBlank();
        assertThat(error.has("param")).isTrue();
        assertThat(error.has("code")).isTrue();
        return error;
    }

    @Test
    void missingMessagesIsA400InOpenAiShape() {
        HttpResponse<String> response = send(openAi(sim, "/chat/completions", SimTestSupport.object().put("model", "gpt-4o")));
        assertThat(response.statusCode()).isEqualTo(400);
        JsonNode error = parse(response.body()).get("error");
        assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.get("param").asText()).isEqualTo("messages");
        assertThat(error.get("code").asText()).isEqualTo("missing_required_parameter");
    }
}
