package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import io.netty.buffer.ByteBuf;

import java.io.IOException;

/**
 * {@code POST /v1/chat/completions}: a {@code chat.completion}, or a stream of
 * {@code chat.completion.chunk} events:
 * <pre>
 * data: {... "choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},...}]}
 * data: {... "delta":{"content":" alpha"} ...}          one per output token
 * data: {... "delta":{},"logprobs":null,"finish_reason":"stop"}
 * data: {... "choices":[],"usage":{...}}                 only with stream_options.include_usage
 * data: [DONE]
 * </pre>
 * With {@code include_usage} every earlier chunk carries {@code "usage":null}, as OpenAI's do.
 */
final class OpenAiChat {

    private OpenAiChat() {
    }

    static void handle(Exchange exchange, JsonNode body) {
        String model = Json.text(body, "model");
        JsonNode messages = body.get("messages");
        if (model == null) {
            exchange.missingParameter("model");
            return;
        }
        if (messages == null || !messages.isArray()) {
            exchange.missingParameter("messages");
            return;
        }
        Prompt prompt = new Prompt();
        for (JsonNode message : messages) {
            prompt.message().content(message.get("content"));
        }
        Directives directives = prompt.directives();
        if (directives.hasError()) {
            exchange.simulatedError(directives.errorStatus());
            return;
        }
        // max_tokens is the deprecated spelling of max_completion_tokens; the new one wins.
        int outputCapTokens = Json.count(body, "max_completion_tokens");
        if (outputCapTokens == Directives.ABSENT) {
            outputCapTokens = Json.count(body, "max_tokens");
        }
        Turn turn = Turn.plan(model, directives, prompt.conversationTokens(SimTokens.encodingFor(model)),
                exchange.settings().defaultEvents(), outputCapTokens);
        String id = exchange.ids().chatCompletion();
        if (Json.flag(body, "stream")) {
            JsonNode streamOptions = body.get("stream_options");
            boolean includeUsage = streamOptions != null && Json.flag(streamOptions, "include_usage");
            exchange.stream(directives, new ChunkStream(id, turn, includeUsage && turn.reportsUsage()));
        } else {
            exchange.json(directives, g -> writeCompletion(g, id, turn));
        }
    }

    private static void writeCompletion(JsonGenerator g, String id, Turn turn) throws IOException {
        g.writeStartObject();
        g.writeStringField("id", id);
        g.writeStringField("object", "chat.completion");
        g.writeNumberField("created", turn.createdEpochSeconds());
        g.writeStringField("model", turn.model());
        g.writeArrayFieldStart("choices");
        g.writeStartObject();
        g.writeNumberField("index", 0);
        g.writeObjectFieldStart("message");
        g.writeStringField("role", "assistant");
        g.writeStringField("content", turn.text());
        g.writeNullField("refusal");
        g.writeArrayFieldStart("annotations");
        g.writeEndArray();
        g.writeEndObject();
        g.writeNullField("logprobs");
        g.writeStringField("finish_reason", finishReason(turn));
        g.writeEndObject();
        g.writeEndArray();
        if (turn.reportsUsage()) {
            writeUsage(g, turn);
        }
        g.writeStringField("service_tier", turn.directives().serviceTier("default"));
        g.writeStringField("system_fingerprint", SimIds.SYSTEM_FINGERPRINT);
        g.writeEndObject();
    }

    static String finishReason(Turn turn) {
        return turn.truncated() ? "length" : "stop";
    }

    /** The {@code usage} field of chat and legacy completions: cached tokens are inside the prompt tokens, reasoning inside the completion tokens. */
    static void writeUsage(JsonGenerator g, Turn turn) throws IOException {
        int promptTokens = turn.openAiPromptTokens();
        g.writeObjectFieldStart("usage");
        g.writeNumberField("prompt_tokens", promptTokens);
        turn.writeOutputTokens(g, "completion_tokens");
        g.writeNumberField("total_tokens", (long) promptTokens + turn.outputTokens());
        g.writeObjectFieldStart("prompt_tokens_details");
        g.writeNumberField("cached_tokens", turn.cachedTokens());
        g.writeNumberField("audio_tokens", turn.audioInputTokens());
        g.writeEndObject();
        g.writeObjectFieldStart("completion_tokens_details");
        g.writeNumberField("reasoning_tokens", turn.reasoningTokens());
        g.writeNumberField("audio_tokens", turn.audioOutputTokens());
        g.writeNumberField("accepted_prediction_tokens", 0);
        g.writeNumberField("rejected_prediction_tokens", 0);
        g.writeEndObject();
        g.writeEndObject();
    }

    private static final class ChunkStream extends StreamScript {
        private final String id;
        private final Turn turn;
        private final boolean includeUsage;

        ChunkStream(String id, Turn turn, boolean includeUsage) {
            this.id = id;
            this.turn = turn;
            this.includeUsage = includeUsage;
        }

        @Override
        int preludeEvents() {
            return 1;
        }

        @Override
        void writePrelude(int index, ByteBuf out) {
            Json.sse(out, null, g -> chunk(g, Delta.ROLE, null));
        }

        @Override
        int deltaEvents() {
            return turn.contentTokens();
        }

        @Override
        void writeDelta(int index, ByteBuf out) {
            Json.sse(out, null, g -> chunk(g, Delta.CONTENT, SimTokens.word(index)));
        }

        @Override
        int trailerEvents() {
            // finish chunk, [usage chunk], [DONE]
            return includeUsage ? 3 : 2;
        }

        @Override
        void writeTrailer(int index, ByteBuf out) {
            if (index == 0) {
                Json.sse(out, null, g -> chunk(g, Delta.FINISH, null));
            } else if (index == 1 && includeUsage) {
                Json.sse(out, null, this::usageChunk);
            } else {
                Json.sseDone(out);
            }
        }

        private enum Delta { ROLE, CONTENT, FINISH }

        private void chunk(JsonGenerator g, Delta kind, String content) throws IOException {
            head(g);
            g.writeArrayFieldStart("choices");
            g.writeStartObject();
            g.writeNumberField("index", 0);
            g.writeObjectFieldStart("delta");
            switch (kind) {
                case ROLE -> {
                    g.writeStringField("role", "assistant");
                    g.writeStringField("content", "");
                    g.writeNullField("refusal");
                }
                case CONTENT -> g.writeStringField("content", content);
                case FINISH -> { }
            }
            g.writeEndObject();
            g.writeNullField("logprobs");
            if (kind == Delta.FINISH) {
                g.writeStringField("finish_reason", finishReason(turn));
            } else {
                g.writeNullField("finish_reason");
            }
            g.writeEndObject();
            g.writeEndArray();
            if (includeUsage) {
                g.writeNullField("usage");
            }
            g.writeEndObject();
        }

        private void usageChunk(JsonGenerator g) throws IOException {
            head(g);
            g.writeArrayFieldStart("choices");
            g.writeEndArray();
            writeUsage(g, turn);
            g.writeEndObject();
        }

        private void head(JsonGenerator g) throws IOException {
            g.writeStartObject();
            g.writeStringField("id", id);
            g.writeStringField("object", "chat.completion.chunk");
            g.writeNumberField("created", turn.createdEpochSeconds());
            g.writeStringField("model", turn.model());
            g.writeStringField("service_tier", turn.directives().serviceTier("default"));
            g.writeStringField("system_fingerprint", SimIds.SYSTEM_FINGERPRINT);
        }
    }
}
