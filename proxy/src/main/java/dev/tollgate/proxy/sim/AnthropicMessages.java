package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import io.netty.buffer.ByteBuf;

import java.io.IOException;

/**
 * {@code POST /v1/messages} and {@code POST /v1/messages/count_tokens}, Anthropic's Messages API.
 * The stream:
 * <pre>
 * event: message_start        message with empty content and usage (output_tokens 1, as Anthropic reports it)
 * event: content_block_start  index 0, {"type":"text","text":""}
 * event: ping
 * event: content_block_delta  {"type":"text_delta","text":" alpha"}, one per output token
 * event: content_block_stop
 * event: message_delta        stop_reason, stop_sequence; usage with the cumulative output_tokens
 *                             and the input / cache counts, as the current API sends them
 * event: message_stop
 * </pre>
 * Cache reads ({@code [sim:cached]}) and writes ({@code [sim:cache-write]}) are excluded from
 * {@code input_tokens}. {@code [sim:reasoning]} tokens are added to {@code output_tokens} without a
 * thinking block. {@code [sim:no-usage]} drops {@code usage} everywhere, message_start included.
 */
final class AnthropicMessages {

    private AnthropicMessages() {
    }

    static void handle(Exchange exchange, JsonNode body) {
        String model = Json.text(body, "model");
        Prompt prompt = prompt(exchange, body, model);
        if (prompt == null) {
            return;
        }
        Directives directives = prompt.directives();
        if (directives.hasError()) {
            exchange.simulatedError(directives.errorStatus());
            return;
        }
        int maxTokens = Json.count(body, "max_tokens");
        if (maxTokens == Directives.ABSENT) {
            exchange.missingParameter("max_tokens");
            return;
        }
        Turn turn = Turn.plan(model, directives, prompt.conversationTokens(SimTokens.encodingFor(model)),
                exchange.settings().defaultEvents(), maxTokens);
        String id = exchange.ids().anthropicMessage();
        if (Json.flag(body, "stream")) {
            exchange.stream(directives, new EventStream(id, turn));
        } else {
            exchange.json(directives, g -> {
                g.writeStartObject();
                writeMessageHead(g, id, turn);
                g.writeArrayFieldStart("content");
                g.writeStartObject();
                g.writeStringField("type", "text");
                g.writeStringField("text", turn.text());
                g.writeEndObject();
                g.writeEndArray();
                g.writeStringField("stop_reason", stopReason(turn));
                g.writeNullField("stop_sequence");
                if (turn.reportsUsage()) {
                    g.writeFieldName("usage");
                    writeUsage(g, turn, turn.outputTokens());
                }
                g.writeEndObject();
            });
        }
    }

    /** {@code {"input_tokens": n}}: the whole prompt, as a message with no cache activity would report it. */
    static void countTokens(Exchange exchange, JsonNode body) {
        String model = Json.text(body, "model");
        Prompt prompt = prompt(exchange, body, model);
        if (prompt == null) {
            return;
        }
        Directives directives = prompt.directives();
        if (directives.hasError()) {
            exchange.simulatedError(directives.errorStatus());
            return;
        }
        int inputTokens = prompt.conversationTokens(SimTokens.encodingFor(model));
        exchange.json(Directives.NONE, g -> {
            g.writeStartObject();
            g.writeNumberField("input_tokens", inputTokens);
            g.writeEndObject();
        });
    }

    /** The system prompt and messages as countable text, or null after answering 400 for a missing field. */
    private static Prompt prompt(Exchange exchange, JsonNode body, String model) {
        JsonNode messages = body.get("messages");
        if (model == null) {
            exchange.missingParameter("model");
            return null;
        }
        if (messages == null || !messages.isArray()) {
            exchange.missingParameter("messages");
            return null;
        }
        Prompt prompt = new Prompt();
        JsonNode system = body.get("system");
        if (system != null && !system.isNull()) {
            prompt.message().content(system);
        }
        for (JsonNode message : messages) {
            prompt.message().content(message.get("content"));
        }
        return prompt;
    }

    private static String stopReason(Turn turn) {
        return turn.truncated() ? "max_tokens" : "end_turn";
    }

    private static void writeMessageHead(JsonGenerator g, String id, Turn turn) throws IOException {
        g.writeStringField("id", id);
        g.writeStringField("type", "message");
        g.writeStringField("role", "assistant");
        g.writeStringField("model", turn.model());
    }

    /** The {@code usage} object of a message (and of message_start, there with {@code output_tokens} 1). */
    private static void writeUsage(JsonGenerator g, Turn turn, int outputTokens) throws IOException {
        g.writeStartObject();
        g.writeNumberField("input_tokens", turn.anthropicInputTokens());
        g.writeNumberField("cache_creation_input_tokens", turn.cacheWriteTokens());
        g.writeNumberField("cache_read_input_tokens", turn.cachedTokens());
        g.writeObjectFieldStart("cache_creation");
        g.writeNumberField("ephemeral_5m_input_tokens", turn.cacheWrite5mTokens());
        g.writeNumberField("ephemeral_1h_input_tokens", turn.cacheWrite1hTokens());
        g.writeEndObject();
        if (outputTokens == turn.outputTokens()) {
            turn.writeOutputTokens(g, "output_tokens");
            writeServerToolUse(g, turn);
        } else {
            g.writeNumberField("output_tokens", outputTokens); // message_start's placeholder
        }
        g.writeStringField("service_tier", turn.directives().serviceTier("standard"));
        g.writeEndObject();
    }

    /** Anthropic's count of the server tools it ran, in the final usage; absent when it ran none, as the API leaves it out. */
    private static void writeServerToolUse(JsonGenerator g, Turn turn) throws IOException {
        if (turn.webSearches() > 0) {
            g.writeObjectFieldStart("server_tool_use");
            g.writeNumberField("web_search_requests", turn.webSearches());
            g.writeEndObject();
        }
    }

    private static final class EventStream extends StreamScript {
        private final String id;
        private final Turn turn;

        EventStream(String id, Turn turn) {
            this.id = id;
            this.turn = turn;
        }

        @Override
        int preludeEvents() {
            return 3;
        }

        @Override
        void writePrelude(int index, ByteBuf out) {
            switch (index) {
                case 0 -> event(out, "message_start", g -> {
                    g.writeObjectFieldStart("message");
                    writeMessageHead(g, id, turn);
                    g.writeArrayFieldStart("content");
                    g.writeEndArray();
                    g.writeNullField("stop_reason");
                    g.writeNullField("stop_sequence");
                    if (turn.reportsUsage()) {
                        g.writeFieldName("usage");
                        writeUsage(g, turn, 1);
                    }
                    g.writeEndObject();
                });
                case 1 -> event(out, "content_block_start", g -> {
                    g.writeNumberField("index", 0);
                    g.writeObjectFieldStart("content_block");
                    g.writeStringField("type", "text");
                    g.writeStringField("text", "");
                    g.writeEndObject();
                });
                case 2 -> event(out, "ping", g -> { });
                default -> throw new IllegalStateException("no prelude event " + index);
            }
        }

        @Override
        int deltaEvents() {
            return turn.contentTokens();
        }

        @Override
        void writeDelta(int index, ByteBuf out) {
            event(out, "content_block_delta", g -> {
                g.writeNumberField("index", 0);
                g.writeObjectFieldStart("delta");
                g.writeStringField("type", "text_delta");
                g.writeStringField("text", SimTokens.word(index));
                g.writeEndObject();
            });
        }

        @Override
        int trailerEvents() {
            return 3;
        }

        @Override
        void writeTrailer(int index, ByteBuf out) {
            switch (index) {
                case 0 -> event(out, "content_block_stop", g -> g.writeNumberField("index", 0));
                case 1 -> event(out, "message_delta", g -> {
                    g.writeObjectFieldStart("delta");
                    g.writeStringField("stop_reason", stopReason(turn));
                    g.writeNullField("stop_sequence");
                    g.writeEndObject();
                    if (turn.reportsUsage()) {
                        g.writeObjectFieldStart("usage");
                        g.writeNumberField("input_tokens", turn.anthropicInputTokens());
                        g.writeNumberField("cache_creation_input_tokens", turn.cacheWriteTokens());
                        g.writeNumberField("cache_read_input_tokens", turn.cachedTokens());
                        turn.writeOutputTokens(g, "output_tokens");
                        writeServerToolUse(g, turn);
                        g.writeEndObject();
                    }
                });
                case 2 -> event(out, "message_stop", g -> { });
                default -> throw new IllegalStateException("no trailer event " + index);
            }
        }

        @Override
        void writeProviderError(ByteBuf out) {
            event(out, "error", g -> {
                g.writeObjectFieldStart("error");
                g.writeStringField("type", "overloaded_error");
                g.writeStringField("message", "Overloaded");
                g.writeEndObject();
            });
        }

        /** {@code event: type}, then {@code {"type": type, <fields>}}. */
        private static void event(ByteBuf out, String type, Json.Body fields) {
            Json.sse(out, type, g -> {
                g.writeStartObject();
                g.writeStringField("type", type);
                fields.write(g);
                g.writeEndObject();
            });
        }
    }
}
