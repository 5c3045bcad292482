package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import io.netty.buffer.ByteBuf;

import java.io.IOException;

/**
 * {@code POST /v1/completions}, the legacy {@code text_completion}. {@code max_tokens} defaults to
 * 16 as OpenAI's does. The stream is one chunk per token with {@code choices[0].text}, a last chunk
 * with empty text and the finish reason, the usage chunk when {@code stream_options.include_usage},
 * then {@code [DONE]}.
 *
 * <p>Prompt tokens: the prompt's own tokens (strings tokenized, token arrays counted as given)
 * with no per-message overhead, since there are no messages.
 */
final class OpenAiCompletions {

    private static final int DEFAULT_MAX_TOKENS = 16;

    private OpenAiCompletions() {
    }

    static void handle(Exchange exchange, JsonNode body) {
        String model = Json.text(body, "model");
        JsonNode promptNode = body.get("prompt");
        if (model == null) {
            exchange.missingParameter("model");
            return;
        }
        if (promptNode == null || promptNode.isNull()) {
            exchange.missingParameter("prompt");
            return;
        }
        Prompt prompt = new Prompt();
        addPrompt(prompt, promptNode);
        Directives directives = prompt.directives();
        if (directives.hasError()) {
            exchange.simulatedError(directives.errorStatus());
            return;
        }
        int outputCapTokens = Json.count(body, "max_tokens");
        if (outputCapTokens == Directives.ABSENT) {
            outputCapTokens = DEFAULT_MAX_TOKENS;
        }
        Turn turn = Turn.plan(model, directives, prompt.textTokens(SimTokens.encodingFor(model)),
                exchange.settings().defaultEvents(), outputCapTokens);
        String id = exchange.ids().completion();
        if (Json.flag(body, "stream")) {
            JsonNode streamOptions = body.get("stream_options");
            boolean includeUsage = streamOptions != null && Json.flag(streamOptions, "include_usage");
            exchange.stream(directives, new TextStream(id, turn, includeUsage && turn.reportsUsage()));
        } else {
            exchange.json(directives, g -> {
                head(g, id, turn);
                writeChoices(g, turn.text(), OpenAiChat.finishReason(turn));
                if (turn.reportsUsage()) {
                    OpenAiChat.writeUsage(g, turn);
                }
                g.writeEndObject();
            });
        }
    }

    /** A string, an array of strings, an array of token ids, or an array of token-id arrays. */
    private static void addPrompt(Prompt prompt, JsonNode node) {
        if (node.isTextual()) {
            prompt.text(node.textValue());
        } else if (node.isArray()) {
            for (JsonNode element : node) {
                if (element.isTextual()) {
                    prompt.text(element.textValue());
                } else if (element.isIntegralNumber()) {
                    prompt.tokens(1);
                } else if (element.isArray()) {
                    prompt.tokens(element.size());
                }
            }
        }
    }

    private static void head(JsonGenerator g, String id, Turn turn) throws IOException {
        g.writeStartObject();
        g.writeStringField("id", id);
        g.writeStringField("object", "text_completion");
        g.writeNumberField("created", turn.createdEpochSeconds());
        g.writeStringField("model", turn.model());
        g.writeStringField("system_fingerprint", SimIds.SYSTEM_FINGERPRINT);
    }

    private static void writeChoices(JsonGenerator g, String text, String finishReason) throws IOException {
        g.writeArrayFieldStart("choices");
        g.writeStartObject();
        g.writeStringField("text", text);
        g.writeNumberField("index", 0);
        g.writeNullField("logprobs");
        Dialect.writeNullableString(g, "finish_reason", finishReason);
        g.writeEndObject();
        g.writeEndArray();
    }

    private static final class TextStream extends StreamScript {
        private final String id;
        private final Turn turn;
        private final boolean includeUsage;

        TextStream(String id, Turn turn, boolean includeUsage) {
            this.id = id;
            this.turn = turn;
            this.includeUsage = includeUsage;
        }

        @Override
        int preludeEvents() {
            return 0;
        }

        @Override
        void writePrelude(int index, ByteBuf out) {
            throw new IllegalStateException("legacy completion streams have no prelude");
        }

        @Override
        int deltaEvents() {
            return turn.contentTokens();
        }

        @Override
        void writeDelta(int index, ByteBuf out) {
            Json.sse(out, null, g -> chunk(g, SimTokens.word(index), null));
        }

        @Override
        int trailerEvents() {
            return includeUsage ? 3 : 2;
        }

        @Override
        void writeTrailer(int index, ByteBuf out) {
            if (index == 0) {
                Json.sse(out, null, g -> chunk(g, "", OpenAiChat.finishReason(turn)));
            } else if (index == 1 && includeUsage) {
                Json.sse(out, null, g -> {
                    head(g, id, turn);
                    g.writeArrayFieldStart("choices");
                    g.writeEndArray();
                    OpenAiChat.writeUsage(g, turn);
                    g.writeEndObject();
                });
            } else {
                Json.sseDone(out);
            }
        }

        private void chunk(JsonGenerator g, String text, String finishReason) throws IOException {
            head(g, id, turn);
            writeChoices(g, text, finishReason);
            if (includeUsage) {
                g.writeNullField("usage");
            }
            g.writeEndObject();
        }
    }
}
