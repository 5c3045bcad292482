package dev.tollgate.proxy.sim;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.core.http.StreamResponse;
import com.anthropic.errors.RateLimitException;
import com.anthropic.helpers.MessageAccumulator;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCountTokensParams;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.RawMessageStreamEvent;
import com.anthropic.models.messages.StopReason;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.InternalServerException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStatus;
import com.openai.models.responses.ResponseStreamEvent;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The official openai-java and anthropic-java SDKs, with strict response validation, read every
 * answer: the shapes carry every field those SDKs require.
 */
class OfficialSdkCompatibilityTest {

    private static SimulatedProvider sim;
    private static OpenAIClient openAi;
    private static AnthropicClient anthropic;

    @BeforeAll
    static void start() {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults().withRequiredApiKey("sk-sdk"));
        openAi = OpenAIOkHttpClient.builder().baseUrl(sim.baseUrl()).apiKey("sk-sdk")
                .maxRetries(0).responseValidation(true).build();
        anthropic = AnthropicOkHttpClient.builder().baseUrl(sim.rootUrl()).apiKey("sk-sdk")
                .maxRetries(0).responseValidation(true).build();
    }

    @AfterAll
    static void stop() {
        openAi.close();
        anthropic.close();
        sim.close();
    }

    @Test
    void openAiChatCompletion() {
        ChatCompletion completion = openAi.chat().completions().create(ChatCompletionCreateParams.builder()
                .model("gpt-4o-mini").addUserMessage("Hi [sim:events=5] [sim:cached=2] [sim:reasoning=1]").build());
        assertThat(completion.choices().getFirst().message().content()).hasValue(SimTokens.text(5));
        assertThat(completion.choices().getFirst().finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
        var usage = completion.usage().orElseThrow();
        assertThat(usage.completionTokens()).isEqualTo(6);
        assertThat(usage.promptTokensDetails().orElseThrow().cachedTokens()).hasValue(2L);
        assertThat(usage.completionTokensDetails().orElseThrow().reasoningTokens()).hasValue(1L);
    }

    @Test
    void openAiChatStreamWithUsage() {
        StringBuilder text = new StringBuilder();
        long completionTokens;
        try (var stream = openAi.chat().completions().createStreaming(ChatCompletionCreateParams.builder()
                .model("gpt-4o-mini").addUserMessage("Hi [sim:events=7]")
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            List<ChatCompletionChunk> chunks = stream.stream().map(ChatCompletionChunk::validate).toList();
            chunks.stream().flatMap(c -> c.choices().stream())
                    .forEach(choice -> choice.delta().content().ifPresent(text::append));
            completionTokens = chunks.getLast().usage().orElseThrow().completionTokens();
        }
        assertThat(text.toString()).isEqualTo(SimTokens.text(7));
        assertThat(completionTokens).isEqualTo(7);
    }

    @Test
    void openAiLegacyCompletion() {
        Completion completion = openAi.completions().create(CompletionCreateParams.builder()
                .model("gpt-3.5-turbo-instruct").prompt("Once [sim:events=3]").build());
        assertThat(completion.choices().getFirst().text()).isEqualTo(SimTokens.text(3));
        assertThat(completion.usage().orElseThrow().completionTokens()).isEqualTo(3);
    }

    @Test
    void openAiEmbeddingsDecodeFromTheSdksDefaultBase64() {
        CreateEmbeddingResponse response = openAi.embeddings().create(EmbeddingCreateParams.builder()
                .model("text-embedding-3-small").input("hello world").build());
        assertThat(sim.recentRequests().getLast().body()).contains("\"encoding_format\":\"base64\"");
        List<Float> vector = response.data().getFirst().embedding();
        float[] expected = OpenAiEmbeddings.vector("hello world", OpenAiEmbeddings.DEFAULT_DIMENSIONS);
        assertThat(vector).hasSize(expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertThat(vector.get(i)).isEqualTo(expected[i]);
        }
        assertThat(response.usage().promptTokens()).isEqualTo(SimTokens.count(SimTokens.CL100K, "hello world"));
    }

    @Test
    void openAiResponse() {
        Response response = openAi.responses().create(ResponseCreateParams.builder()
                .model("gpt-4.1").input("Hi [sim:events=4] [sim:reasoning=2]").instructions("Be brief.").build());
        assertThat(response.status()).hasValue(ResponseStatus.COMPLETED);
        assertThat(response.output()).hasSize(2);
        assertThat(response.output().get(0).isReasoning()).isTrue();
        assertThat(response.output().get(1).asMessage().content().getFirst().asOutputText().text())
                .isEqualTo(SimTokens.text(4));
        assertThat(response.usage().orElseThrow().outputTokens()).isEqualTo(6);
        assertThat(response.usage().orElseThrow().outputTokensDetails().reasoningTokens()).isEqualTo(2);
    }

    @Test
    void openAiResponseStream() {
        Response completed;
        StringBuilder text = new StringBuilder();
        try (var stream = openAi.responses().createStreaming(ResponseCreateParams.builder()
                .model("gpt-4.1").input("Hi [sim:events=4]").maxOutputTokens(3).build())) {
            List<ResponseStreamEvent> events = stream.stream().map(ResponseStreamEvent::validate).toList();
            events.stream().filter(ResponseStreamEvent::isOutputTextDelta)
                    .forEach(e -> text.append(e.asOutputTextDelta().delta()));
            completed = events.getLast().asIncomplete().response();
        }
        assertThat(text.toString()).isEqualTo(SimTokens.text(3));
        assertThat(completed.status()).hasValue(ResponseStatus.INCOMPLETE);
        assertThat(completed.usage().orElseThrow().outputTokens()).isEqualTo(3);
    }

    @Test
    void openAiErrorsMapToTheSdksExceptions() {
        assertThatThrownBy(() -> openAi.chat().completions().create(ChatCompletionCreateParams.builder()
                .model("gpt-4o").addUserMessage("[sim:error=500]").build()))
                .isInstanceOf(InternalServerException.class);
    }

    @Test
    void anthropicMessage() {
        Message message = anthropic.messages().create(MessageCreateParams.builder()
                .model("claude-sonnet-4-5").maxTokens(100).system("Be brief.")
                .addUserMessage("Hi [sim:events=6] [sim:cached=3] [sim:cache-write=1]").build());
        assertThat(message.content().getFirst().asText().text()).isEqualTo(SimTokens.text(6));
        assertThat(message.stopReason()).hasValue(StopReason.END_TURN);
        assertThat(message.usage().outputTokens()).isEqualTo(6);
        assertThat(message.usage().cacheReadInputTokens()).hasValue(3L);
        assertThat(message.usage().cacheCreationInputTokens()).hasValue(1L);
    }

    @Test
    void anthropicStreamAccumulatesToTheSameMessage() {
        MessageAccumulator accumulator = MessageAccumulator.create();
        try (StreamResponse<RawMessageStreamEvent> stream = anthropic.messages().createStreaming(MessageCreateParams.builder()
                .model("claude-sonnet-4-5").maxTokens(5).addUserMessage("Hi [sim:events=9]").build())) {
            stream.stream().map(RawMessageStreamEvent::validate).forEach(accumulator::accumulate);
        }
        Message message = accumulator.message();
        assertThat(message.content().getFirst().asText().text()).isEqualTo(SimTokens.text(5));
        assertThat(message.stopReason()).hasValue(StopReason.MAX_TOKENS);
        assertThat(message.usage().outputTokens()).isEqualTo(5);
    }

    @Test
    void anthropicCountTokensAndErrors() {
        long inputTokens = anthropic.messages().countTokens(MessageCountTokensParams.builder()
                .model("claude-sonnet-4-5").addUserMessage("count").build()).inputTokens();
        assertThat(inputTokens).isEqualTo(3 + 3 + SimTokens.count(SimTokens.CL100K, "count"));

        assertThatThrownBy(() -> anthropic.messages().create(MessageCreateParams.builder()
                .model("claude-sonnet-4-5").maxTokens(5).addUserMessage("[sim:error=429]").build()))
                .isInstanceOf(RateLimitException.class);
    }
}
