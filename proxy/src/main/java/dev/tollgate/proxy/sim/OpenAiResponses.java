package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import io.netty.buffer.ByteBuf;

import java.io.IOException;

/**
 * {@code POST /v1/responses}: a {@code response} object, or its event stream, each event an
 * {@code event: <type>} line and a {@code data:} line carrying the same {@code type} and a
 * {@code sequence_number} counting from 0:
 * <pre>
 * response.created, response.in_progress                         (response with status in_progress, no output)
 * [response.output_item.added, response.output_item.done]...     (one web_search_call item per [sim:web-search=N])
 * [response.output_item.added, response.output_item.done]        (reasoning item, only with [sim:reasoning])
 * response.output_item.added, response.content_part.added
 * response.output_text.delta                                     one per output token
 * response.output_text.done, response.content_part.done, response.output_item.done
 * response.completed | response.incomplete                       (full response with usage)
 * </pre>
 * The response carries every field the official SDKs require (openai-java checks
 * {@code parallel_tool_calls}, {@code tool_choice}, {@code tools}, {@code temperature},
 * {@code top_p}, {@code input_tokens_details.cache_write_tokens}, ...).
 */
final class OpenAiResponses {

    private OpenAiResponses() {
    }

    static void handle(Exchange exchange, JsonNode body) {
        String model = Json.text(body, "model");
        if (model == null) {
            exchange.missingParameter("model");
            return;
        }
        Prompt prompt = new Prompt();
        String instructions = Json.text(body, "instructions");
        if (instructions != null) {
            prompt.message().text(instructions);
        }
        JsonNode input = body.get("input");
        if (input != null && input.isTextual()) {
            prompt.message().text(input.textValue());
        } else if (input != null && input.isArray()) {
            for (JsonNode item : input) {
                prompt.message().content(item.get("content"));
                // function_call_output items carry their text in "output".
                JsonNode output = item.get("output");
                if (output != null && output.isTextual()) {
                    prompt.text(output.textValue());
                }
            }
        }
        Directives directives = prompt.directives();
        if (directives.hasError()) {
            exchange.simulatedError(directives.errorStatus());
            return;
        }
        int maxOutputTokens = Json.count(body, "max_output_tokens");
        Turn turn = Turn.plan(model, directives, prompt.conversationTokens(SimTokens.encodingFor(model)),
                exchange.settings().defaultEvents(), maxOutputTokens);
        SimIds ids = exchange.ids();
        Shape shape = new Shape(ids.response(), turn.reasoningTokens() > 0 ? ids.reasoningItem() : null,
                ids.outputMessage(), turn, instructions, maxOutputTokens);
        if (Json.flag(body, "stream")) {
            exchange.stream(directives, new EventStream(shape));
        } else {
            exchange.json(directives, g -> shape.writeResponse(g, true));
        }
    }

    /** Everything about one response that its events repeat. */
    private record Shape(String id, String reasoningItemId, String messageId, Turn turn, String instructions,
                         int maxOutputTokens) {

        String status() {
            return turn.truncated() ? "incomplete" : "completed";
        }

        /** The web search calls come first, then the reasoning item, then the message. */
        int reasoningOutputIndex() {
            return turn.webSearches();
        }

        int messageOutputIndex() {
            return reasoningOutputIndex() + (reasoningItemId == null ? 0 : 1);
        }

        /** The response object: while in progress it has no output and null usage. */
        void writeResponse(JsonGenerator g, boolean finished) throws IOException {
            g.writeStartObject();
            g.writeStringField("id", id);
            g.writeStringField("object", "response");
            g.writeNumberField("created_at", turn.createdEpochSeconds());
            g.writeStringField("status", finished ? status() : "in_progress");
            g.writeBooleanField("background", false);
            if (finished && !turn.truncated()) {
                g.writeNumberField("completed_at", turn.createdEpochSeconds());
            } else {
                g.writeNullField("completed_at");
            }
            g.writeNullField("error");
            if (finished && turn.truncated()) {
                g.writeObjectFieldStart("incomplete_details");
                g.writeStringField("reason", "max_output_tokens");
                g.writeEndObject();
            } else {
                g.writeNullField("incomplete_details");
            }
            Dialect.writeNullableString(g, "instructions", instructions);
            if (maxOutputTokens == Directives.ABSENT) {
                g.writeNullField("max_output_tokens");
            } else {
                g.writeNumberField("max_output_tokens", maxOutputTokens);
            }
            g.writeNullField("max_tool_calls");
            g.writeStringField("model", turn.model());
            g.writeArrayFieldStart("output");
            if (finished) {
                for (int call = 0; call < turn.webSearches(); call++) {
                    writeWebSearchCallItem(g, call, true);
                }
                if (reasoningItemId != null) {
                    writeReasoningItem(g);
                }
                writeMessageItem(g, true);
            }
            g.writeEndArray();
            g.writeBooleanField("parallel_tool_calls", true);
            g.writeNullField("previous_response_id");
            g.writeNullField("prompt_cache_key");
            g.writeObjectFieldStart("reasoning");
            g.writeNullField("effort");
            g.writeNullField("summary");
            g.writeEndObject();
            g.writeNullField("safety_identifier");
            g.writeStringField("service_tier", turn.directives().serviceTier("default"));
            g.writeBooleanField("store", true);
            g.writeNumberField("temperature", 1.0);
            g.writeObjectFieldStart("text");
            g.writeObjectFieldStart("format");
            g.writeStringField("type", "text");
            g.writeEndObject();
            g.writeStringField("verbosity", "medium");
            g.writeEndObject();
            g.writeStringField("tool_choice", "auto");
            g.writeArrayFieldStart("tools");
            g.writeEndArray();
            g.writeNumberField("top_logprobs", 0);
            g.writeNumberField("top_p", 1.0);
            g.writeStringField("truncation", "disabled");
            if (finished && turn.reportsUsage()) {
                writeUsage(g);
            } else {
                g.writeNullField("usage");
            }
            g.writeNullField("user");
            g.writeObjectFieldStart("metadata");
            g.writeEndObject();
            g.writeEndObject();
        }

        private void writeUsage(JsonGenerator g) throws IOException {
            int inputTokens = turn.openAiPromptTokens();
            g.writeObjectFieldStart("usage");
            g.writeNumberField("input_tokens", inputTokens);
            g.writeObjectFieldStart("input_tokens_details");
            g.writeNumberField("cached_tokens", turn.cachedTokens());
            g.writeNumberField("cache_write_tokens", 0);
            g.writeEndObject();
            turn.writeOutputTokens(g, "output_tokens");
            g.writeObjectFieldStart("output_tokens_details");
            g.writeNumberField("reasoning_tokens", turn.reasoningTokens());
            g.writeEndObject();
            g.writeNumberField("total_tokens", (long) inputTokens + turn.outputTokens());
            g.writeEndObject();
        }

        /**
         * A web search the model ran: OpenAI bills it per call and reports it only as this item, not in the usage.
         * While in progress the item has no action yet.
         */
        void writeWebSearchCallItem(JsonGenerator g, int call, boolean finished) throws IOException {
            g.writeStartObject();
            g.writeStringField("id", "ws_" + call + "_" + id);
            g.writeStringField("type", "web_search_call");
            g.writeStringField("status", finished ? "completed" : "in_progress");
            if (finished) {
                g.writeObjectFieldStart("action");
                g.writeStringField("type", "search");
                g.writeStringField("query", "simulated search " + call);
                g.writeEndObject();
            }
            g.writeEndObject();
        }

        /** Reasoning stays hidden: an item with an empty summary, its tokens only in the usage. */
        void writeReasoningItem(JsonGenerator g) throws IOException {
            g.writeStartObject();
            g.writeStringField("id", reasoningItemId);
            g.writeStringField("type", "reasoning");
            g.writeArrayFieldStart("summary");
            g.writeEndArray();
            g.writeEndObject();
        }

        void writeMessageItem(JsonGenerator g, boolean finished) throws IOException {
            g.writeStartObject();
            g.writeStringField("id", messageId);
            g.writeStringField("type", "message");
            g.writeStringField("status", !finished ? "in_progress" : turn.truncated() ? "incomplete" : "completed");
            g.writeArrayFieldStart("content");
            if (finished) {
                writeTextPart(g, turn.text());
            }
            g.writeEndArray();
            g.writeStringField("role", "assistant");
            g.writeEndObject();
        }

        void writeTextPart(JsonGenerator g, String text) throws IOException {
            g.writeStartObject();
            g.writeStringField("type", "output_text");
            g.writeArrayFieldStart("annotations");
            g.writeEndArray();
            g.writeArrayFieldStart("logprobs");
            g.writeEndArray();
            g.writeStringField("text", text);
            g.writeEndObject();
        }
    }

    private static final class EventStream extends StreamScript {
        private final Shape shape;
        private final int preludeEvents;
        private int sequenceNumber;

        EventStream(Shape shape) {
            this.shape = shape;
            this.preludeEvents = 4 + 2 * shape.turn().webSearches() + (shape.reasoningItemId() == null ? 0 : 2);
        }

        @Override
        int preludeEvents() {
            return preludeEvents;
        }

        @Override
        void writePrelude(int index, ByteBuf out) {
            // created, in_progress, an added/done pair per web search call, one for the reasoning item, then the message.
            if (index < 2) {
                event(out, index == 0 ? "response.created" : "response.in_progress", g -> responseField(g, false));
                return;
            }
            int step = index - 2;
            int webSearchEvents = 2 * shape.turn().webSearches();
            if (step < webSearchEvents) {
                int call = step / 2;
                boolean done = step % 2 == 1;
                event(out, done ? "response.output_item.done" : "response.output_item.added", g -> {
                    g.writeNumberField("output_index", call);
                    g.writeFieldName("item");
                    shape.writeWebSearchCallItem(g, call, done);
                });
                return;
            }
            step -= webSearchEvents;
            if (shape.reasoningItemId() != null) {
                if (step < 2) {
                    event(out, step == 0 ? "response.output_item.added" : "response.output_item.done", g -> {
                        g.writeNumberField("output_index", shape.reasoningOutputIndex());
                        g.writeFieldName("item");
                        shape.writeReasoningItem(g);
                    });
                    return;
                }
                step -= 2;
            }
            switch (step) {
                case 0 -> event(out, "response.output_item.added", g -> {
                    g.writeNumberField("output_index", shape.messageOutputIndex());
                    g.writeFieldName("item");
                    shape.writeMessageItem(g, false);
                });
                case 1 -> event(out, "response.content_part.added", g -> {
                    partLocation(g);
                    g.writeFieldName("part");
                    shape.writeTextPart(g, "");
                });
                default -> throw new IllegalStateException("no prelude event " + index);
            }
        }

        @Override
        int deltaEvents() {
            return shape.turn().contentTokens();
        }

        @Override
        void writeDelta(int index, ByteBuf out) {
            event(out, "response.output_text.delta", g -> {
                partLocation(g);
                g.writeStringField("delta", SimTokens.word(index));
                g.writeArrayFieldStart("logprobs");
                g.writeEndArray();
            });
        }

        @Override
        int trailerEvents() {
            return 4;
        }

        @Override
        void writeTrailer(int index, ByteBuf out) {
            switch (index) {
                case 0 -> event(out, "response.output_text.done", g -> {
                    partLocation(g);
                    g.writeStringField("text", shape.turn().text());
                    g.writeArrayFieldStart("logprobs");
                    g.writeEndArray();
                });
                case 1 -> event(out, "response.content_part.done", g -> {
                    partLocation(g);
                    g.writeFieldName("part");
                    shape.writeTextPart(g, shape.turn().text());
                });
                case 2 -> event(out, "response.output_item.done", g -> {
                    g.writeNumberField("output_index", shape.messageOutputIndex());
                    g.writeFieldName("item");
                    shape.writeMessageItem(g, true);
                });
                case 3 -> event(out, shape.turn().truncated() ? "response.incomplete" : "response.completed",
                        g -> responseField(g, true));
                default -> throw new IllegalStateException("no trailer event " + index);
            }
        }

        @Override
        void writeProviderError(ByteBuf out) {
            event(out, "error", g -> {
                g.writeStringField("code", "server_error");
                g.writeStringField("message", "The server had an error while processing your request.");
                g.writeNullField("param");
            });
        }

        /** {@code event: type}, then {@code {"type":..., "sequence_number":..., <fields>}}. */
        private void event(ByteBuf out, String type, Json.Body fields) {
            int sequence = sequenceNumber++;
            Json.sse(out, type, g -> {
                g.writeStartObject();
                g.writeStringField("type", type);
                g.writeNumberField("sequence_number", sequence);
                fields.write(g);
                g.writeEndObject();
            });
        }

        private void responseField(JsonGenerator g, boolean finished) throws IOException {
            g.writeFieldName("response");
            shape.writeResponse(g, finished);
        }

        private void partLocation(JsonGenerator g) throws IOException {
            g.writeStringField("item_id", shape.messageId());
            g.writeNumberField("output_index", shape.messageOutputIndex());
            g.writeNumberField("content_index", 0);
        }
    }
}
