package dev.tollgate.proxy;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.helpers.MessageAccumulator;
import com.anthropic.models.ErrorType;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCountTokensParams;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.RawMessageStreamEvent;
import com.anthropic.models.messages.StopReason;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.HttpResponseFor;
import com.openai.core.http.StreamResponse;
import com.openai.errors.InternalServerException;
import com.openai.errors.NotFoundException;
import com.openai.errors.RateLimitException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.completions.CompletionUsage;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseOutputItem;
import com.openai.models.responses.ResponseStatus;
import com.openai.models.responses.ResponseStreamEvent;
import com.openai.models.responses.ResponseUsage;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.ModelRow;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.Usage;
import dev.tollgate.proxy.sim.RecordedRequest;
import java.lang.reflect.Method;
import java.math.BigInteger;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * The official openai-java and anthropic-java SDKs, pointed at Tollgate (only the base URL and the
 * key change), with Tollgate in front of the simulated provider: every answer parses with the SDKs'
 * strict response validation (legacy completion stream chunks aside, which openai-java cannot validate
 * even from OpenAI), every metered request settles at exactly the provider's usage priced from the
 * shipped catalog, the errors Tollgate makes surface as the SDKs' usual exception types (a 401 is
 * {@code UnauthorizedException} in both SDKs), and the provider only ever sees the provider key.
 *
 * <p>Expected costs are computed here with {@link BigInteger} from the usage the SDK reports and the
 * catalog row's prices, never with Tollgate's own cost rule. The prompts are long and the directive
 * counts odd, so that billing a cache read, a cache write or an output token at the wrong price, or
 * rounding the wrong way, moves the balance by at least one micro-unit.
 *
 */
class OfficialSdkThroughTollgateTest {
    private static final long BALANCE_MICROS = 100_000_000L; // 100 USD
    private static final String PROVIDER_KEY = TestGateways.PROVIDER_KEY.reveal();
    private static final PriceCatalog CATALOG = CatalogLoader.loadBuiltin();
    private static final BigInteger TOKENS_PER_PRICE_UNIT = BigInteger.valueOf(1_000_000L);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** About 1,200 tokens of plain prompt in both encodings, so cache directives in the hundreds fit inside it. */
    private static final String FILLER = "The quick brown fox jumps over the lazy dog. ".repeat(120);

    private final List<ProxyStack> stacks = new ArrayList<>();
    private final List<AutoCloseable> clients = new ArrayList<>();
    private ProxyStack stack;
    private OpenAIClient openAi;
    private AnthropicClient anthropic;

    @BeforeEach
    void start() throws InterruptedException {
        stack = newStack(BALANCE_MICROS);
        openAi = openAi(stack, stack.test.key);
        anthropic = anthropic(stack, stack.test.key);
    }

    /** After every test, on every stack it used: money conserved, nothing left reserved, and the provider saw only its own key. */
    @AfterEach
    void checkInvariantsAndStop() throws Exception {
        try {
            for (ProxyStack s : stacks) {
                assertThat(s.test.conservationError()).as("conservation error").isZero();
                assertThat(s.test.reserved()).as("micros left reserved").isZero();
                assertProviderSawOnlyTheProviderKey(s);
            }
        } finally {
            for (AutoCloseable client : clients) {
                client.close();
            }
            for (ProxyStack s : stacks) {
                s.close();
            }
        }
    }

    // ------------------------------------------------------------------ OpenAI chat completions

    @Test
    void chatCompletionSettlesAtTheProvidersUsage() throws Exception {
        ModelRow row = row("openai", "gpt-4o-mini");
        long before = stack.test.available();

        HttpResponseFor<ChatCompletion> raw = openAi.chat().completions().withRawResponse().create(ChatCompletionCreateParams.builder()
                .model("gpt-4o-mini").addUserMessage(FILLER + "[sim:events=37] [sim:cached=1001] [sim:reasoning=3]").build());
        ChatCompletion completion = raw.parse().validate();

        assertThat(completion.choices()).hasSize(1);
        assertThat(completion.choices().getFirst().message().content()).hasValue(simText(37));
        assertThat(completion.choices().getFirst().finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
        CompletionUsage usage = completion.usage().orElseThrow();
        long cached = usage.promptTokensDetails().orElseThrow().cachedTokens().orElseThrow();
        long reasoning = usage.completionTokensDetails().orElseThrow().reasoningTokens().orElseThrow();
        assertThat(cached).isEqualTo(1001);
        assertThat(reasoning).isEqualTo(3);
        assertThat(usage.completionTokens()).isEqualTo(40);
        assertThat(usage.promptTokens()).isGreaterThan(cached);

        Outcome outcome = outcome(1);
        assertSettled(outcome, "/v1/chat/completions", row,
                new Usage(usage.promptTokens() - cached, cached, 0, usage.completionTokens(), reasoning),
                expectedCost(row, usage.promptTokens() - cached, cached, 0, usage.completionTokens()), before);
        // The outcome is this request's: Tollgate's request id and the provider's are on the response.
        assertThat(outcome.requestId()).isEqualTo(header(raw.headers().values("x-tollgate-request-id")));
        assertThat(outcome.upstreamRequestId()).isNotNull().isEqualTo(header(raw.headers().values("x-request-id")));
        assertThat(Long.parseLong(header(raw.headers().values("x-tollgate-reserved-micros")))).isEqualTo(outcome.heldMicros());
        assertThat(stack.sim.recentRequests()).hasSize(1);
        assertThat(stack.sim.recentRequests().getFirst().path()).isEqualTo("/v1/chat/completions");
    }

    @Test
    void chatStreamWithIncludeUsageShowsTheUsageChunk() throws Exception {
        ModelRow row = row("openai", "gpt-4o-mini");
        long before = stack.test.available();

        List<ChatCompletionChunk> chunks = streamChat(FILLER + "[sim:events=37] [sim:cached=1001]", true);

        assertThat(chunks).hasSize(1 + 37 + 1 + 1); // role, one per token, finish, usage
        assertThat(chunkText(chunks)).isEqualTo(simText(37));
        ChatCompletionChunk last = chunks.getLast();
        assertThat(last.choices()).isEmpty();
        CompletionUsage usage = last.usage().orElseThrow();
        assertThat(chunks.subList(0, chunks.size() - 1)).allSatisfy(chunk -> assertThat(chunk.usage()).isEmpty());
        long cached = usage.promptTokensDetails().orElseThrow().cachedTokens().orElseThrow();
        assertThat(cached).isEqualTo(1001);
        assertThat(usage.completionTokens()).isEqualTo(37);

        assertSettled(outcome(1), "/v1/chat/completions", row,
                new Usage(usage.promptTokens() - cached, cached, 0, usage.completionTokens(), 0),
                expectedCost(row, usage.promptTokens() - cached, cached, 0, usage.completionTokens()), before);
        assertThat(includeUsageSentUpstream(stack.sim.recentRequests().getLast())).isTrue();
    }

    @Test
    void chatStreamWithoutIncludeUsageHidesTheUsageChunkYetSettlesWithTheProvidersUsage() throws Exception {
        ModelRow row = row("openai", "gpt-4o-mini");
        String prompt = FILLER + "[sim:events=37] [sim:cached=1001]";
        // The same request with include_usage first: the simulator is deterministic, so this is the usage
        // the provider reports for the second request too, where only Tollgate sees it.
        CompletionUsage reference = streamChat(prompt, true).getLast().usage().orElseThrow();
        outcome(1);
        long before = stack.test.available();

        List<ChatCompletionChunk> chunks = streamChat(prompt, false);

        assertThat(chunks).hasSize(1 + 37 + 1); // role, one per token, finish: no usage chunk
        assertThat(chunkText(chunks)).isEqualTo(simText(37));
        assertThat(chunks).allSatisfy(chunk -> {
            assertThat(chunk.usage()).isEmpty();
            assertThat(chunk.choices()).isNotEmpty();
        });
        assertThat(chunks.getLast().choices().getFirst().finishReason()).hasValue(ChatCompletionChunk.Choice.FinishReason.STOP);
        // Tollgate asked the provider for the usage on the client's behalf...
        assertThat(includeUsageSentUpstream(stack.sim.recentRequests().getLast())).isTrue();
        // ...and billed exactly it.
        long cached = reference.promptTokensDetails().orElseThrow().cachedTokens().orElseThrow();
        assertSettled(outcome(2), "/v1/chat/completions", row,
                new Usage(reference.promptTokens() - cached, cached, 0, reference.completionTokens(), 0),
                expectedCost(row, reference.promptTokens() - cached, cached, 0, reference.completionTokens()), before);
    }

    // ------------------------------------------------------------------ OpenAI responses

    @Test
    void responseSettlesAtTheProvidersUsage() throws Exception {
        ModelRow row = row("openai", "gpt-4o-mini");
        long before = stack.test.available();

        Response response = openAi.responses().create(ResponseCreateParams.builder().model("gpt-4o-mini")
                .instructions("Be brief.").input(FILLER + "[sim:events=29] [sim:cached=777] [sim:reasoning=5]").build());

        assertThat(response.status()).hasValue(ResponseStatus.COMPLETED);
        assertThat(responseText(response)).isEqualTo(simText(29));
        ResponseUsage usage = response.usage().orElseThrow();
        assertResponsesUsage(usage, 777, 34, 5);
        assertSettled(outcome(1), "/v1/responses", row,
                new Usage(usage.inputTokens() - 777, 777, 0, usage.outputTokens(), 5),
                expectedCost(row, usage.inputTokens() - 777, 777, 0, usage.outputTokens()), before);
    }

    @Test
    void responseStreamSettlesAtTheProvidersUsage() throws Exception {
        ModelRow row = row("openai", "gpt-4o-mini");
        long before = stack.test.available();

        List<ResponseStreamEvent> events;
        try (StreamResponse<ResponseStreamEvent> stream = openAi.responses().createStreaming(ResponseCreateParams.builder()
                .model("gpt-4o-mini").input(FILLER + "[sim:events=29] [sim:cached=777] [sim:reasoning=5]").build())) {
            events = stream.stream().map(ResponseStreamEvent::validate).toList();
        }

        assertThat(events.getFirst().isCreated()).isTrue();
        StringBuilder text = new StringBuilder();
        events.stream().filter(ResponseStreamEvent::isOutputTextDelta).forEach(e -> text.append(e.asOutputTextDelta().delta()));
        assertThat(text.toString()).isEqualTo(simText(29));
        assertThat(events.stream().filter(ResponseStreamEvent::isOutputTextDelta)).hasSize(29);
        assertThat(events.getLast().isCompleted()).isTrue();
        Response completed = events.getLast().asCompleted().response();
        assertThat(completed.status()).hasValue(ResponseStatus.COMPLETED);
        assertThat(responseText(completed)).isEqualTo(simText(29));
        ResponseUsage usage = completed.usage().orElseThrow();
        assertResponsesUsage(usage, 777, 34, 5);
        assertSettled(outcome(1), "/v1/responses", row,
                new Usage(usage.inputTokens() - 777, 777, 0, usage.outputTokens(), 5),
                expectedCost(row, usage.inputTokens() - 777, 777, 0, usage.outputTokens()), before);
    }

    // ------------------------------------------------------------------ OpenAI embeddings and legacy completions

    @Test
    void embeddingsInTheSdksDefaultBase64SettleAtThePromptTokens() throws Exception {
        ModelRow row = row("openai", "text-embedding-3-small");
        String input = FILLER + "hello world";
        long before = stack.test.available();

        CreateEmbeddingResponse response = openAi.embeddings().create(EmbeddingCreateParams.builder()
                .model("text-embedding-3-small").input(input).build());

        assertThat(stack.sim.recentRequests().getLast().body()).contains("\"encoding_format\":\"base64\"");
        long promptTokens = response.usage().promptTokens();
        assertThat(promptTokens).isGreaterThan(1000);
        assertSettled(outcome(1), "/v1/embeddings", row, new Usage(promptTokens, 0, 0, 0, 0),
                expectedCost(row, promptTokens, 0, 0, 0), before);

        // The vector the SDK decoded is the provider's, bit for bit: the same request straight to the simulator.
        OpenAIClient direct = OpenAIOkHttpClient.builder().baseUrl(stack.sim.baseUrl()).apiKey(PROVIDER_KEY)
                .maxRetries(0).responseValidation(true).build();
        clients.add(direct::close);
        List<Float> expected = direct.embeddings().create(EmbeddingCreateParams.builder()
                .model("text-embedding-3-small").input(input).build()).data().getFirst().embedding();
        assertThat(response.data()).hasSize(1);
        assertThat(response.data().getFirst().embedding()).isNotEmpty().isEqualTo(expected);
    }

    @Test
    void legacyCompletionsSettleAtTheProvidersUsageStreamedOrNot() throws Exception {
        ModelRow row = row("openai", "gpt-3.5-turbo-instruct");
        assertThat(row).as("the shipped catalog prices gpt-3.5-turbo-instruct").isNotNull();
        String prompt = FILLER + "[sim:events=37]";
        long before = stack.test.available();

        Completion completion = openAi.completions().create(CompletionCreateParams.builder()
                .model("gpt-3.5-turbo-instruct").prompt(prompt).maxTokens(64).build());

        assertThat(completion.choices().getFirst().text()).isEqualTo(simText(37));
        CompletionUsage usage = completion.usage().orElseThrow();
        assertThat(usage.completionTokens()).isEqualTo(37);
        Usage expectedUsage = new Usage(usage.promptTokens(), 0, 0, usage.completionTokens(), 0);
        long expectedCost = expectedCost(row, usage.promptTokens(), 0, 0, usage.completionTokens());
        assertSettled(outcome(1), "/v1/completions", row, expectedUsage, expectedCost, before);

        // Streamed, without include_usage: no usage chunk reaches the SDK, the same usage is billed.
        // openai-java's Completion model requires choices[].finish_reason, which every legacy stream chunk but
        // the last carries as null (OpenAI's own streams too): this one call goes without response validation.
        long beforeStream = stack.test.available();
        List<Completion> chunks;
        try (StreamResponse<Completion> stream = openAi.withOptions(options -> options.responseValidation(false)).completions()
                .createStreaming(CompletionCreateParams.builder().model("gpt-3.5-turbo-instruct").prompt(prompt).maxTokens(64).build())) {
            chunks = stream.stream().toList();
        }
        assertThat(chunks).hasSize(37 + 1); // one per token, then the finish chunk: no usage chunk
        assertThat(chunks.getLast().validate().choices().getFirst().finishReason()).isEqualTo(
                com.openai.models.completions.CompletionChoice.FinishReason.STOP);
        StringBuilder text = new StringBuilder();
        chunks.forEach(chunk -> chunk.choices().forEach(choice -> text.append(choice.text())));
        assertThat(text.toString()).isEqualTo(simText(37));
        assertThat(chunks).allSatisfy(chunk -> {
            assertThat(chunk.usage()).isEmpty();
            assertThat(chunk.choices()).isNotEmpty();
        });
        assertThat(includeUsageSentUpstream(stack.sim.recentRequests().getLast())).isTrue();
        assertSettled(outcome(2), "/v1/completions", row, expectedUsage, expectedCost, beforeStream);
    }

    // ------------------------------------------------------------------ Anthropic messages

    @Test
    void anthropicMessageBillsCacheReadsAndWritesAtTheirOwnPrices() throws Exception {
        ModelRow row = row("anthropic", "claude-haiku-4-5");
        assertThat(row.cacheReadMicrosPerMillionTokens()).isNotEqualTo(row.inputMicrosPerMillionTokens());
        assertThat(row.cacheWriteMicrosPerMillionTokens()).isNotEqualTo(row.inputMicrosPerMillionTokens());
        long before = stack.test.available();

        Message message = anthropic.messages().create(MessageCreateParams.builder().model("claude-haiku-4-5").maxTokens(100)
                .system("Be brief.").addUserMessage(FILLER + "[sim:events=41] [sim:cached=401] [sim:cache-write=203]").build());

        assertThat(message.content()).hasSize(1);
        assertThat(message.content().getFirst().asText().text()).isEqualTo(simText(41));
        assertThat(message.stopReason()).hasValue(StopReason.END_TURN);
        assertAnthropicSettled(message.usage(), row, before);
        assertThat(stack.sim.recentRequests().getLast().path()).isEqualTo("/v1/messages");
    }

    @Test
    void anthropicStreamBillsCacheReadsAndWritesAtTheirOwnPrices() throws Exception {
        ModelRow row = row("anthropic", "claude-haiku-4-5");
        long before = stack.test.available();

        MessageAccumulator accumulator = MessageAccumulator.create();
        try (com.anthropic.core.http.StreamResponse<RawMessageStreamEvent> stream = anthropic.messages().createStreaming(
                MessageCreateParams.builder().model("claude-haiku-4-5").maxTokens(100)
                        .addUserMessage(FILLER + "[sim:events=41] [sim:cached=401] [sim:cache-write=203]").build())) {
            stream.stream().map(RawMessageStreamEvent::validate).forEach(accumulator::accumulate);
        }
        Message message = accumulator.message();

        assertThat(message.content().getFirst().asText().text()).isEqualTo(simText(41));
        assertThat(message.stopReason()).hasValue(StopReason.END_TURN);
        assertAnthropicSettled(message.usage(), row, before);
    }

    @Test
    void anthropicCountTokensIsFree() throws Exception {
        long before = stack.test.available();

        long inputTokens = anthropic.messages().countTokens(MessageCountTokensParams.builder()
                .model("claude-haiku-4-5").addUserMessage(FILLER).build()).inputTokens();

        assertThat(inputTokens).isGreaterThan(1000);
        assertThat(stack.test.available()).isEqualTo(before);
        assertThat(stack.test.outcomes).isEmpty();
        RecordedRequest upstream = stack.sim.recentRequests().getLast();
        assertThat(upstream.path()).isEqualTo("/v1/messages/count_tokens");
        // A metered request after it: its outcome is the first and only one, so count_tokens published none.
        anthropic.messages().create(MessageCreateParams.builder().model("claude-haiku-4-5").maxTokens(10)
                .addUserMessage("[sim:events=2]").build());
        Outcome only = outcome(1);
        assertThat(only.endpoint()).isEqualTo("/v1/messages");
        assertThat(only.status()).isEqualTo(Outcome.SETTLED);
    }

    // ------------------------------------------------------------------ errors as the SDKs raise them

    @Test
    void wrongTollgateKeyIsUnauthorizedInBothSdks() throws Exception {
        String wrongKey = ApiKeys.newRawKey(new SecureRandom());
        OpenAIClient wrongOpenAi = openAi(stack, wrongKey);
        AnthropicClient wrongAnthropic = anthropic(stack, wrongKey);

        UnauthorizedException openAiError = catchThrowableOfType(UnauthorizedException.class, () -> wrongOpenAi.chat().completions()
                .create(ChatCompletionCreateParams.builder().model("gpt-4o-mini").addUserMessage("Hi").build()));
        assertThat(openAiError).isNotNull();
        assertThat(openAiError.statusCode()).isEqualTo(401);
        assertThat(openAiError.code()).hasValue("invalid_api_key");
        assertThat(openAiError.getMessage()).doesNotContain(wrongKey);

        com.anthropic.errors.UnauthorizedException anthropicError = catchThrowableOfType(com.anthropic.errors.UnauthorizedException.class,
                () -> wrongAnthropic.messages().create(MessageCreateParams.builder().model("claude-haiku-4-5").maxTokens(10)
                        .addUserMessage("Hi").build()));
        assertThat(anthropicError).isNotNull();
        assertThat(anthropicError.statusCode()).isEqualTo(401);
        assertThat(anthropicError.errorType()).hasValue(ErrorType.AUTHENTICATION_ERROR);
        assertThat(anthropicError.getMessage()).doesNotContain(wrongKey);

        assertThat(stack.sim.recentRequests()).isEmpty();
        assertThat(stack.test.outcomes).isEmpty();
        assertThat(stack.test.available()).isEqualTo(BALANCE_MICROS);
    }

    @Test
    void insufficientBalanceIsInsufficientQuotaForOpenAiAndABadRequestForAnthropic() throws Exception {
        ProxyStack poor = newStack(1);
        OpenAIClient poorOpenAi = openAi(poor, poor.test.key);
        AnthropicClient poorAnthropic = anthropic(poor, poor.test.key);

        RateLimitException openAiError = catchThrowableOfType(RateLimitException.class, () -> poorOpenAi.chat().completions()
                .create(ChatCompletionCreateParams.builder().model("gpt-4o-mini").addUserMessage("Hi").build()));
        assertThat(openAiError).isNotNull();
        assertThat(openAiError.statusCode()).isEqualTo(429);
        assertThat(openAiError.code()).hasValue("insufficient_quota");
        assertThat(openAiError.type()).hasValue("insufficient_quota");
        assertThat(openAiError.headers().values("x-should-retry")).containsExactly("false");

        com.anthropic.errors.BadRequestException anthropicError = catchThrowableOfType(com.anthropic.errors.BadRequestException.class,
                () -> poorAnthropic.messages().create(MessageCreateParams.builder().model("claude-haiku-4-5").maxTokens(10)
                        .addUserMessage("Hi").build()));
        assertThat(anthropicError).isNotNull();
        assertThat(anthropicError.statusCode()).isEqualTo(400);
        assertThat(anthropicError.errorType()).hasValue(ErrorType.INVALID_REQUEST_ERROR);
        assertThat(anthropicError.apiMessage()).hasValueSatisfying(message -> assertThat(message).containsIgnoringCase("balance"));

        assertThat(poor.sim.recentRequests()).isEmpty();
        assertThat(poor.test.outcomes).isEmpty();
        assertThat(poor.test.available()).isEqualTo(1);
    }

    @Test
    void unknownModelIsNotFound() throws Exception {
        NotFoundException openAiError = catchThrowableOfType(NotFoundException.class, () -> openAi.chat().completions()
                .create(ChatCompletionCreateParams.builder().model("gpt-no-such-model").addUserMessage("Hi").build()));
        assertThat(openAiError).isNotNull();
        assertThat(openAiError.statusCode()).isEqualTo(404);
        assertThat(openAiError.code()).hasValue("model_not_found");

        assertThatThrownBy(() -> anthropic.messages().create(MessageCreateParams.builder().model("claude-no-such-model")
                .maxTokens(10).addUserMessage("Hi").build()))
                .isInstanceOf(com.anthropic.errors.NotFoundException.class);

        assertThat(stack.sim.recentRequests()).isEmpty();
        assertThat(stack.test.outcomes).isEmpty();
        assertThat(stack.test.available()).isEqualTo(BALANCE_MICROS);
    }

    @Test
    void upstreamErrorBeforeOutputIsRaisedAndReleased() throws Exception {
        long before = stack.test.available();

        assertThatThrownBy(() -> openAi.chat().completions().create(ChatCompletionCreateParams.builder()
                .model("gpt-4o-mini").addUserMessage("Hi [sim:error=500]").build()))
                .isInstanceOf(InternalServerException.class);
        assertReleased(outcome(1), "/v1/chat/completions", before);

        assertThatThrownBy(() -> {
            try (StreamResponse<ChatCompletionChunk> stream = openAi.chat().completions().createStreaming(ChatCompletionCreateParams.builder()
                    .model("gpt-4o-mini").addUserMessage("Hi [sim:error=500]").build())) {
                stream.stream().forEach(chunk -> { });
            }
        }).isInstanceOf(InternalServerException.class);
        assertReleased(outcome(2), "/v1/chat/completions", before);

        assertThatThrownBy(() -> anthropic.messages().create(MessageCreateParams.builder().model("claude-haiku-4-5")
                .maxTokens(10).addUserMessage("Hi [sim:error=500]").build()))
                .isInstanceOf(com.anthropic.errors.InternalServerException.class);
        assertReleased(outcome(3), "/v1/messages", before);

        assertThat(stack.sim.recentRequests()).hasSize(3);
    }

    // ------------------------------------------------------------------ streams cut at the reservation

    /*
     * A balance that affords the prompt bound and some output, but not the request's output cap: Tollgate
     * lowers the cap it sends; a provider that ignores it ([sim:ignore-max-tokens]) is cut off where the
     * balance runs out, and the client gets the provider's own ending for a stream that hit its cap. The
     * SDKs must read that ending like the provider's.
     */

    @Test
    void chatStreamCutAtTheReservationEndsAsTheSdkExpects() throws Exception {
        ProxyStack poor = newStack(100);
        OpenAIClient client = openAi(poor, poor.test.key);

        List<ChatCompletionChunk> chunks;
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(ChatCompletionCreateParams.builder()
                .model("gpt-4o-mini").addUserMessage("Hi [sim:events=400] [sim:ignore-max-tokens]").build())) {
            chunks = stream.stream().map(ChatCompletionChunk::validate).toList();
        }

        Outcome outcome = outcome(poor, 1);
        assertCut(outcome, poor, 100);
        long delivered = chunks.stream().flatMap(c -> c.choices().stream()).filter(c -> c.delta().content().isPresent()
                && !c.delta().content().get().isEmpty()).count();
        assertThat(delivered).isBetween(1L, 399L);
        assertThat(chunkText(chunks)).isEqualTo(simText((int) delivered));
        assertBilledDeliveredPlusTheCutEvent(outcome, delivered);
        assertThat(chunks.getLast().choices().getFirst().finishReason()).hasValue(ChatCompletionChunk.Choice.FinishReason.LENGTH);
    }

    @Test
    void responseStreamCutAtTheReservationEndsAsTheSdkExpects() throws Exception {
        ProxyStack poor = newStack(100);
        OpenAIClient client = openAi(poor, poor.test.key);

        List<ResponseStreamEvent> events;
        try (StreamResponse<ResponseStreamEvent> stream = client.responses().createStreaming(ResponseCreateParams.builder()
                .model("gpt-4o-mini").input("Hi [sim:events=400] [sim:ignore-max-tokens]").build())) {
            events = stream.stream().toList();
        }

        Outcome outcome = outcome(poor, 1);
        assertCut(outcome, poor, 100);
        long delivered = events.stream().filter(ResponseStreamEvent::isOutputTextDelta).count();
        assertThat(delivered).isBetween(1L, 399L);
        assertBilledDeliveredPlusTheCutEvent(outcome, delivered);
        assertThat(events.getLast().isIncomplete()).isTrue();
        Response incomplete = events.getLast().asIncomplete().response();
        assertThat(incomplete.status()).hasValue(ResponseStatus.INCOMPLETE);
        assertThat(incomplete.usage().orElseThrow().outputTokens()).isEqualTo(outcome.usage().outputTokens());
        assertThat(responseText(incomplete)).as("the incomplete response's output").isEqualTo(simText((int) delivered));
    }

    @Test
    void anthropicStreamCutAtTheReservationEndsAsTheSdkExpects() throws Exception {
        ProxyStack poor = newStack(1_000);
        AnthropicClient client = anthropic(poor, poor.test.key);

        MessageAccumulator accumulator = MessageAccumulator.create();
        try (com.anthropic.core.http.StreamResponse<RawMessageStreamEvent> stream = client.messages().createStreaming(
                MessageCreateParams.builder().model("claude-haiku-4-5").maxTokens(1_000)
                        .addUserMessage("Hi [sim:events=400] [sim:ignore-max-tokens]").build())) {
            stream.stream().map(RawMessageStreamEvent::validate).forEach(accumulator::accumulate);
        }
        Message message = accumulator.message();

        Outcome outcome = outcome(poor, 1);
        assertCut(outcome, poor, 1_000);
        String text = message.content().getFirst().asText().text();
        long delivered = text.chars().filter(c -> c == ' ').count(); // each generated word is one token, after a space
        assertThat(delivered).isBetween(1L, 399L);
        assertThat(text).isEqualTo(simText((int) delivered));
        assertThat(message.stopReason()).hasValue(StopReason.MAX_TOKENS);
        assertBilledDeliveredPlusTheCutEvent(outcome, delivered);
        assertThat(message.usage().outputTokens()).as("output_tokens the SDK was told").isEqualTo(outcome.usage().outputTokens());
        assertThat(outcome.usage().inputTokens()).isEqualTo(message.usage().inputTokens());
    }

    // ------------------------------------------------------------------ streams that end early

    @Test
    void chatStreamAbandonedByTheClientBillsTheOutputGenerated() throws Exception {
        int read = 0;
        try (StreamResponse<ChatCompletionChunk> stream = openAi.chat().completions().createStreaming(ChatCompletionCreateParams.builder()
                .model("gpt-4o-mini").addUserMessage("Hi [sim:events=400] [sim:delay-ms=10]").build())) {
            Iterator<ChatCompletionChunk> chunks = stream.stream().iterator();
            while (read < 10) {
                if (chunks.next().choices().getFirst().delta().content().filter(text -> !text.isEmpty()).isPresent()) {
                    read++;
                }
            }
        } // closing an unfinished stream closes the connection

        Outcome outcome = outcome(1);
        assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
        assertThat(outcome.reason()).isEqualTo("client_disconnected");
        assertThat(outcome.usage().outputTokens()).isBetween(10L, 399L);
        assertThat(stack.test.available()).isEqualTo(BALANCE_MICROS - outcome.costMicros());
    }

    @Test
    void anthropicStreamAbandonedByTheClientBillsTheOutputGenerated() throws Exception {
        int read = 0;
        try (com.anthropic.core.http.StreamResponse<RawMessageStreamEvent> stream = anthropic.messages().createStreaming(
                MessageCreateParams.builder().model("claude-haiku-4-5").maxTokens(1_000)
                        .addUserMessage("Hi [sim:events=400] [sim:delay-ms=10]").build())) {
            Iterator<RawMessageStreamEvent> events = stream.stream().iterator();
            while (read < 10) {
                if (events.next().isContentBlockDelta()) {
                    read++;
                }
            }
        }

        Outcome outcome = outcome(1);
        assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
        assertThat(outcome.reason()).isEqualTo("client_disconnected");
        assertThat(outcome.usage().outputTokens()).isBetween(10L, 399L);
        assertThat(stack.test.available()).isEqualTo(BALANCE_MICROS - outcome.costMicros());
    }

    @Test
    void chatStreamLostUpstreamMidwayBillsTheOutputDelivered() throws Exception {
        StringBuilder text = new StringBuilder();
        Throwable thrown = catchThrowable(() -> {
            try (StreamResponse<ChatCompletionChunk> stream = openAi.chat().completions().createStreaming(ChatCompletionCreateParams.builder()
                    .model("gpt-4o-mini").addUserMessage("Hi [sim:events=400] [sim:fail-after=10]").build())) {
                stream.stream().forEach(chunk -> chunk.choices().forEach(choice -> choice.delta().content().ifPresent(text::append)));
            }
        });

        assertThat(thrown).as("the SDK raises Tollgate's closing error event").isInstanceOf(com.openai.errors.OpenAIException.class);
        assertThat(text.toString()).isEqualTo(simText(10));
        Outcome outcome = outcome(1);
        assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
        assertThat(outcome.reason()).isEqualTo("upstream_connection_lost");
        assertThat(outcome.usage().outputTokens()).isEqualTo(10);
        assertThat(stack.test.available()).isEqualTo(BALANCE_MICROS - outcome.costMicros());
    }

    @Test
    void anthropicStreamLostUpstreamMidwayBillsTheOutputDelivered() throws Exception {
        StringBuilder text = new StringBuilder();
        Throwable thrown = catchThrowable(() -> {
            try (com.anthropic.core.http.StreamResponse<RawMessageStreamEvent> stream = anthropic.messages().createStreaming(
                    MessageCreateParams.builder().model("claude-haiku-4-5").maxTokens(1_000)
                            .addUserMessage("Hi [sim:events=400] [sim:fail-after=10]").build())) {
                stream.stream().filter(RawMessageStreamEvent::isContentBlockDelta)
                        .forEach(event -> event.asContentBlockDelta().delta().text().ifPresent(delta -> text.append(delta.text())));
            }
        });

        assertThat(thrown).as("the SDK raises Tollgate's closing error event").isInstanceOf(com.anthropic.errors.AnthropicException.class);
        assertThat(text.toString()).isEqualTo(simText(10));
        Outcome outcome = outcome(1);
        assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
        assertThat(outcome.reason()).isEqualTo("upstream_connection_lost");
        assertThat(outcome.usage().outputTokens()).isEqualTo(10);
        assertThat(stack.test.available()).isEqualTo(BALANCE_MICROS - outcome.costMicros());
    }

    /** Billed: every token delivered, plus the tokens of the one event generated but held back when the stream was cut. */
    private static void assertBilledDeliveredPlusTheCutEvent(Outcome outcome, long delivered) {
        assertThat(outcome.usage().outputTokens()).isBetween(delivered, delivered + 1);
    }

    private static void assertCut(Outcome outcome, ProxyStack s, long balance) {
        assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
        assertThat(outcome.reason()).isEqualTo("cut_at_reservation");
        assertThat(outcome.debitedMicros() + outcome.writtenOffMicros()).isEqualTo(outcome.costMicros());
        assertThat(s.test.available()).isEqualTo(balance - outcome.debitedMicros()).isNotNegative();
    }

    // ------------------------------------------------------------------ helpers

    private ProxyStack newStack(long balanceMicros) throws InterruptedException {
        ProxyStack s = new ProxyStack(balanceMicros);
        stacks.add(s);
        return s;
    }

    private OpenAIClient openAi(ProxyStack s, String key) {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(s.baseUrl() + "/v1").apiKey(key)
                .maxRetries(0).responseValidation(true).build();
        clients.add(client::close);
        return client;
    }

    private AnthropicClient anthropic(ProxyStack s, String key) {
        AnthropicClient client = AnthropicOkHttpClient.builder().baseUrl(s.baseUrl()).apiKey(key)
                .maxRetries(0).responseValidation(true).build();
        clients.add(client::close);
        return client;
    }

    private static ModelRow row(String provider, String model) {
        return CATALOG.find(provider, model);
    }

    /** What the simulator generates for {@code tokens} output tokens (its generator is package-private, hence reflection). */
    private static String simText(int tokens) {
        try {
            Method text = Class.forName("dev.tollgate.proxy.sim.SimTokens").getDeclaredMethod("text", int.class);
            text.setAccessible(true);
            return (String) text.invoke(null, tokens);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError("cannot read the simulator's generated text", e);
        }
    }

    /** {@code ceil(sum(tokens_k * price_k) / 1e6)}, in exact integers, from the catalog row's prices. */
    private static long expectedCost(ModelRow row, long plainInput, long cacheRead, long cacheWrite, long output) {
        BigInteger numerator = BigInteger.valueOf(plainInput).multiply(BigInteger.valueOf(row.inputMicrosPerMillionTokens()))
                .add(BigInteger.valueOf(cacheRead).multiply(BigInteger.valueOf(row.cacheReadMicrosPerMillionTokens())))
                .add(BigInteger.valueOf(cacheWrite).multiply(BigInteger.valueOf(row.cacheWriteMicrosPerMillionTokens())))
                .add(BigInteger.valueOf(output).multiply(BigInteger.valueOf(row.outputMicrosPerMillionTokens())));
        BigInteger[] quotientAndRemainder = numerator.divideAndRemainder(TOKENS_PER_PRICE_UNIT);
        BigInteger ceil = quotientAndRemainder[1].signum() > 0 ? quotientAndRemainder[0].add(BigInteger.ONE) : quotientAndRemainder[0];
        return ceil.longValueExact();
    }

    /** The {@code n}-th outcome of this stack (from 1), once published; fails if more than {@code n} were. */
    private Outcome outcome(int n) throws InterruptedException {
        return outcome(stack, n);
    }

    private static Outcome outcome(ProxyStack s, int n) throws InterruptedException {
        List<Outcome> outcomes = s.awaitOutcomes(n);
        assertThat(outcomes).as("outcomes published").hasSize(n);
        return outcomes.get(n - 1);
    }

    private void assertSettled(Outcome outcome, String endpoint, ModelRow row, Usage usage, long costMicros, long balanceBefore) {
        assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
        assertThat(outcome.reason()).isEqualTo("completed");
        assertThat(outcome.accountId()).isEqualTo(TestGateways.ACCOUNT);
        assertThat(outcome.provider()).isEqualTo(row.provider());
        assertThat(outcome.model()).isEqualTo(row.model());
        assertThat(outcome.endpoint()).isEqualTo(endpoint);
        assertThat(outcome.usage()).isEqualTo(usage);
        assertThat(outcome.usageReportedByProvider()).as("usage reported by the provider").isTrue();
        assertThat(outcome.costMicros()).isEqualTo(costMicros);
        assertThat(outcome.debitedMicros()).isEqualTo(costMicros);
        assertThat(outcome.writtenOffMicros()).isZero();
        assertThat(outcome.heldMicros()).isGreaterThanOrEqualTo(costMicros);
        assertThat(stack.test.available()).as("balance after").isEqualTo(balanceBefore - costMicros);
        assertThat(outcome.balanceAfterMicros()).isEqualTo(balanceBefore - costMicros);
    }

    private void assertReleased(Outcome outcome, String endpoint, long balanceBefore) {
        assertThat(outcome.status()).isEqualTo(Outcome.RELEASED);
        assertThat(outcome.reason()).isEqualTo("upstream_status_500");
        assertThat(outcome.endpoint()).isEqualTo(endpoint);
        assertThat(outcome.usage()).isEqualTo(Usage.ZERO);
        assertThat(outcome.costMicros()).isZero();
        assertThat(outcome.debitedMicros()).isZero();
        assertThat(outcome.heldMicros()).isPositive();
        assertThat(stack.test.available()).isEqualTo(balanceBefore);
        assertThat(outcome.balanceAfterMicros()).isEqualTo(balanceBefore);
        assertThat(stack.test.reserved()).isZero();
    }

    /** Anthropic's usage, whose input_tokens exclude cache reads and writes, billed with each at its own price. */
    private void assertAnthropicSettled(com.anthropic.models.messages.Usage usage, ModelRow row, long before) throws InterruptedException {
        long cacheRead = usage.cacheReadInputTokens().orElseThrow();
        long cacheWrite = usage.cacheCreationInputTokens().orElseThrow();
        assertThat(cacheRead).isEqualTo(401);
        assertThat(cacheWrite).isEqualTo(203);
        assertThat(usage.outputTokens()).isEqualTo(41);
        assertThat(usage.inputTokens()).isPositive();
        assertSettled(outcome(1), "/v1/messages", row,
                new Usage(usage.inputTokens(), cacheRead, cacheWrite, usage.outputTokens(), 0),
                expectedCost(row, usage.inputTokens(), cacheRead, cacheWrite, usage.outputTokens()), before);
    }

    private static void assertResponsesUsage(ResponseUsage usage, long cached, long output, long reasoning) {
        assertThat(usage.inputTokensDetails().cachedTokens()).isEqualTo(cached);
        assertThat(usage.inputTokens()).isGreaterThan(cached);
        assertThat(usage.outputTokens()).isEqualTo(output);
        assertThat(usage.outputTokensDetails().reasoningTokens()).isEqualTo(reasoning);
    }

    private List<ChatCompletionChunk> streamChat(String prompt, boolean includeUsage) {
        ChatCompletionCreateParams.Builder params = ChatCompletionCreateParams.builder().model("gpt-4o-mini").addUserMessage(prompt);
        if (includeUsage) {
            params.streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build());
        }
        try (StreamResponse<ChatCompletionChunk> stream = openAi.chat().completions().createStreaming(params.build())) {
            return stream.stream().map(ChatCompletionChunk::validate).toList();
        }
    }

    private static String chunkText(List<ChatCompletionChunk> chunks) {
        StringBuilder text = new StringBuilder();
        chunks.stream().flatMap(chunk -> chunk.choices().stream()).forEach(choice -> choice.delta().content().ifPresent(text::append));
        return text.toString();
    }

    private static String responseText(Response response) {
        StringBuilder text = new StringBuilder();
        for (ResponseOutputItem item : response.output()) {
            if (item.isMessage()) {
                item.asMessage().content().forEach(content -> text.append(content.asOutputText().text()));
            }
        }
        return text.toString();
    }

    private static boolean includeUsageSentUpstream(RecordedRequest request) throws Exception {
        JsonNode body = JSON.readTree(request.body());
        return body.path("stream").asBoolean(false) && body.path("stream_options").path("include_usage").asBoolean(false);
    }

    private static String header(List<String> values) {
        assertThat(values).hasSize(1);
        return values.getFirst();
    }

    /** No header or body the provider received carries the Tollgate key; each carries the provider key, as its protocol sends it. */
    private static void assertProviderSawOnlyTheProviderKey(ProxyStack s) {
        for (RecordedRequest request : s.sim.recentRequests()) {
            for (Map.Entry<String, List<String>> header : request.headers().entrySet()) {
                assertThat(header.getValue()).as("upstream header %s of %s", header.getKey(), request.path())
                        .noneSatisfy(value -> assertThat(value).contains(s.test.key));
            }
            assertThat(request.body()).doesNotContain(s.test.key);
            if (request.path().startsWith("/v1/messages")) {
                assertThat(request.headers().get("x-api-key")).as("x-api-key of %s", request.path()).containsExactly(PROVIDER_KEY);
                assertThat(request.headers()).as("headers of %s", request.path()).doesNotContainKey("authorization");
            } else {
                assertThat(request.headers().get("authorization")).as("authorization of %s", request.path())
                        .containsExactly("Bearer " + PROVIDER_KEY);
                assertThat(request.headers()).as("headers of %s", request.path()).doesNotContainKey("x-api-key");
            }
        }
    }
}
