package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.proxy.sim.SimTestSupport.SseEvent;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.List;

import static dev.tollgate.proxy.sim.SimTestSupport.expectedText;
import static dev.tollgate.proxy.sim.SimTestSupport.object;
import static dev.tollgate.proxy.sim.SimTestSupport.openAi;
import static dev.tollgate.proxy.sim.SimTestSupport.parse;
import static dev.tollgate.proxy.sim.SimTestSupport.parseSse;
import static dev.tollgate.proxy.sim.SimTestSupport.send;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Legacy completions, embeddings and the model list. */
class OpenAiCompletionsAndEmbeddingsTest {

    private static SimulatedProvider sim;

    @BeforeAll
    static void start() {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
    }

    @AfterAll
    static void stop() {
        sim.close();
    }

    @Test
    void completionDefaultsToSixteenMaxTokensAsOpenAiDoes() {
        ObjectNode body = object().put("model", "gpt-3.5-turbo-instruct").put("prompt", "Once upon a time");
        HttpResponse<String> response = send(openAi(sim, "/completions", body));

        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode completion = parse(response.body());
        assertThat(completion.get("id").asText()).startsWith("cmpl-");
        assertThat(completion.get("object").asText()).isEqualTo("text_completion");
        assertThat(completion.get("model").asText()).isEqualTo("gpt-3.5-turbo-instruct");
        JsonNode choice = completion.get("choices").get(0);
        assertThat(choice.get("text").asText()).isEqualTo(expectedText(16));
        assertThat(choice.get("index").asInt()).isZero();
        assertThat(choice.get("logprobs").isNull()).isTrue();
        assertThat(choice.get("finish_reason").asText()).isEqualTo("length");
        JsonNode usage = completion.get("usage");
        int promptTokens = SimTokens.count(SimTokens.CL100K, "Once upon a time");
        assertThat(usage.get("prompt_tokens").asInt()).isEqualTo(promptTokens);
        assertThat(usage.get("completion_tokens").asInt()).isEqualTo(16);
        assertThat(usage.get("total_tokens").asInt()).isEqualTo(promptTokens + 16);
    }

    @Test
    void completionWithinMaxTokensStops() {
        ObjectNode body = object().put("model", "gpt-3.5-turbo-instruct").put("prompt", "[sim:events=5]").put("max_tokens", 100);
        JsonNode completion = parse(send(openAi(sim, "/completions", body)).body());
        assertThat(completion.get("choices").get(0).get("finish_reason").asText()).isEqualTo("stop");
        assertThat(completion.get("usage").get("completion_tokens").asInt()).isEqualTo(5);
    }

    @Test
    void completionPromptMayBeTokenArrays() {
        ObjectNode body = object().put("model", "gpt-3.5-turbo-instruct").put("max_tokens", 2);
        var prompts = body.putArray("prompt");
        prompts.addArray().add(1).add(2).add(3);
        prompts.addArray().add(4).add(5);
        JsonNode usage = parse(send(openAi(sim, "/completions", body)).body()).get("usage");
        assertThat(usage.get("prompt_tokens").asInt()).isEqualTo(5);
    }

    @Test
    void completionStreamsTextDeltasThenFinishThenUsageThenDone() {
        ObjectNode body = object().put("model", "gpt-3.5-turbo-instruct").put("prompt", "go [sim:events=3]")
                .put("max_tokens", 50).put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        HttpResponse<String> response = send(openAi(sim, "/completions", body));
        List<SseEvent> events = parseSse(response.body());

        assertThat(events).hasSize(3 + 1 + 1 + 1);
        StringBuilder text = new StringBuilder();
        for (SseEvent event : events.subList(0, 3)) {
            JsonNode chunk = event.json();
            assertThat(chunk.get("object").asText()).isEqualTo("text_completion");
            assertThat(chunk.get("usage").isNull()).isTrue();
            assertThat(chunk.get("choices").get(0).get("finish_reason").isNull()).isTrue();
            text.append(chunk.get("choices").get(0).get("text").asText());
        }
        assertThat(text.toString()).isEqualTo(expectedText(3));
        JsonNode finish = events.get(3).json().get("choices").get(0);
        assertThat(finish.get("text").asText()).isEmpty();
        assertThat(finish.get("finish_reason").asText()).isEqualTo("stop");
        JsonNode usage = events.get(4).json();
        assertThat(usage.get("choices").isEmpty()).isTrue();
        assertThat(usage.get("usage").get("completion_tokens").asInt()).isEqualTo(3);
        assertThat(events.get(5).data()).isEqualTo("[DONE]");
    }

    @Test
    void completionStreamWithoutIncludeUsage() {
        ObjectNode body = object().put("model", "gpt-3.5-turbo-instruct").put("prompt", "go [sim:events=2]").put("stream", true);
        List<SseEvent> events = parseSse(send(openAi(sim, "/completions", body)).body());
        assertThat(events).hasSize(2 + 1 + 1);
        assertThat(events.subList(0, 3)).allSatisfy(e -> assertThat(e.json().has("usage")).isFalse());
    }

    @Test
    void failAfterZeroCutsAStreamThatHasNoPreludeRightAfterTheHead() throws java.io.IOException {
        ObjectNode body = object().put("model", "gpt-3.5-turbo-instruct").put("prompt", "[sim:events=3] [sim:fail-after=0]")
                .put("stream", true);
        try (RawHttp http = new RawHttp(sim.port())) {
            http.sendPost("/v1/completions", java.util.Map.of("Authorization", "Bearer k"), body.toString());
            RawHttp.Response response = http.readChunked();
            assertThat(response.status()).isEqualTo(200);
            assertThat(response.chunks()).isEmpty();
            assertThat(response.terminated()).isFalse();
        }
    }

    @Test
    void embeddingsOfOneStringAsFloats() {
        ObjectNode body = object().put("model", "text-embedding-3-small").put("input", "hello world");
        HttpResponse<String> response = send(openAi(sim, "/embeddings", body));

        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode list = parse(response.body());
        assertThat(list.get("object").asText()).isEqualTo("list");
        assertThat(list.get("model").asText()).isEqualTo("text-embedding-3-small");
        assertThat(list.get("data")).hasSize(1);
        JsonNode embedding = list.get("data").get(0);
        assertThat(embedding.get("object").asText()).isEqualTo("embedding");
        assertThat(embedding.get("index").asInt()).isZero();
        assertThat(embedding.get("embedding")).hasSize(OpenAiEmbeddings.DEFAULT_DIMENSIONS);
        double norm = 0;
        for (JsonNode value : embedding.get("embedding")) {
            norm += value.asDouble() * value.asDouble();
        }
        assertThat(norm).isCloseTo(1.0, within(1e-5));
        int tokens = SimTokens.count(SimTokens.CL100K, "hello world");
        assertThat(list.get("usage").get("prompt_tokens").asInt()).isEqualTo(tokens);
        assertThat(list.get("usage").get("total_tokens").asInt()).isEqualTo(tokens);
    }

    @Test
    void embeddingsOfManyInputsHonourDimensionsAndAreDeterministic() {
        ObjectNode body = object().put("model", "text-embedding-3-small").put("dimensions", 3);
        body.putArray("input").add("one").add("two").add("one");
        JsonNode data = parse(send(openAi(sim, "/embeddings", body)).body()).get("data");
        assertThat(data).hasSize(3);
        assertThat(data.get(1).get("index").asInt()).isEqualTo(1);
        assertThat(data.get(0).get("embedding")).hasSize(3);
        assertThat(data.get(0).get("embedding")).isEqualTo(data.get(2).get("embedding"));
        assertThat(data.get(0).get("embedding")).isNotEqualTo(data.get(1).get("embedding"));
    }

    @Test
    void embeddingsOfTokenArraysCountTheTokensGiven() {
        ObjectNode body = object().put("model", "text-embedding-3-small");
        body.putArray("input").add(11).add(12).add(13).add(14);
        JsonNode list = parse(send(openAi(sim, "/embeddings", body)).body());
        assertThat(list.get("data")).hasSize(1);
        assertThat(list.get("usage").get("prompt_tokens").asInt()).isEqualTo(4);

        ObjectNode nested = object().put("model", "text-embedding-3-small");
        var inputs = nested.putArray("input");
        inputs.addArray().add(1).add(2);
        inputs.addArray().add(3);
        JsonNode nestedList = parse(send(openAi(sim, "/embeddings", nested)).body());
        assertThat(nestedList.get("data")).hasSize(2);
        assertThat(nestedList.get("usage").get("prompt_tokens").asInt()).isEqualTo(3);
    }

    @Test
    void embeddingsAsBase64AreLittleEndianFloat32OfTheSameVector() {
        ObjectNode floats = object().put("model", "text-embedding-3-small").put("input", "same text");
        ObjectNode base64 = floats.deepCopy().put("encoding_format", "base64");
        JsonNode floatVector = parse(send(openAi(sim, "/embeddings", floats)).body()).get("data").get(0).get("embedding");
        String encoded = parse(send(openAi(sim, "/embeddings", base64)).body()).get("data").get(0).get("embedding").asText();

        ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(encoded)).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(bytes.remaining()).isEqualTo(OpenAiEmbeddings.DEFAULT_DIMENSIONS * Float.BYTES);
        for (JsonNode value : floatVector) {
            assertThat(bytes.getFloat()).isEqualTo(value.floatValue());
        }
    }

    @Test
    void embeddingsRejectAnUnknownEncodingFormat() {
        ObjectNode body = object().put("model", "text-embedding-3-small").put("input", "x").put("encoding_format", "hex");
        HttpResponse<String> response = send(openAi(sim, "/embeddings", body));
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(parse(response.body()).get("error").get("param").asText()).isEqualTo("encoding_format");
    }

    @Test
    void embeddingsHonourTheErrorDirective() {
        ObjectNode body = object().put("model", "text-embedding-3-small").put("input", "[sim:error=429]");
        assertThat(send(openAi(sim, "/embeddings", body)).statusCode()).isEqualTo(429);
    }

    @Test
    void modelsListHasOpenAiShape() {
        HttpResponse<String> response = send(HttpRequest.newBuilder(URI.create(sim.baseUrl() + "/models"))
                .header("authorization", "Bearer " + SimTestSupport.KEY).GET());
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode list = parse(response.body());
        assertThat(list.get("object").asText()).isEqualTo("list");
        assertThat(list.get("data")).isNotEmpty();
        assertThat(list.get("data")).allSatisfy(model -> {
            assertThat(model.get("object").asText()).isEqualTo("model");
            assertThat(model.get("id").asText()).isNotBlank();
            assertThat(model.get("created").asLong()).isPositive();
            assertThat(model.get("owned_by").asText()).isNotBlank();
        });
    }
}
