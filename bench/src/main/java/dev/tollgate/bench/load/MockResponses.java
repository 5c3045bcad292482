package dev.tollgate.bench.load;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The mock provider's answers, serialized once per distinct shape and then only copied: the shapes
 * and usage fields of the simulated provider ({@code dev.tollgate.proxy.sim}), without its per-request
 * JSON parsing, tokenizing and id generation, so that the mock costs as little CPU as possible.
 *
 * <p>Every generated word is one token in both {@code o200k_base} and {@code cl100k_base} (the
 * simulator's word list), so a metering proxy's inline count agrees with the usage reported here.
 */
final class MockResponses {

    /** The simulator's words ({@code SimTokens.OUTPUT_WORDS}): each exactly one token. */
    static final List<String> WORDS = List.of(
            " alpha", " beta", " gamma", " delta", " river", " stone", " cloud", " light",
            " green", " house", " water", " north", " south", " paper", " music", " table",
            " field", " metal", " glass", " story", " orange", " silver", " garden", " window",
            " market", " bridge", " forest", " summer", " winter", " number", " simple", " little");

    static final long CREATED_EPOCH_SECONDS = 1_795_758_083L;
    /** A bound on the distinct shapes kept; the harness uses a handful. */
    private static final int MAX_CACHED = 4096;

    enum Dialect { OPENAI, ANTHROPIC }

    /**
     * What an answer depends on. {@code model} is the request's JSON string content as it was
     * written (still escaped), so it can be written back verbatim.
     */
    record Shape(Dialect dialect, String model, int outputTokens, boolean truncated, int promptTokens,
                 boolean stream, boolean includeUsage) {
    }

    /** A whole JSON body, or a stream's events (each a complete SSE event, blank line included). */
    record Prepared(byte[] body, byte[][] events) {
    }

    private final Map<Shape, Prepared> cache = new ConcurrentHashMap<>();

    Prepared get(Shape shape) {
        Prepared prepared = cache.get(shape);
        if (prepared == null) {
            if (cache.size() >= MAX_CACHED) {
                cache.clear();
            }
            prepared = build(shape);
            cache.put(shape, prepared);
        }
        return prepared;
    }

    static Prepared build(Shape shape) {
        if (shape.dialect() == Dialect.OPENAI) {
            return shape.stream() ? new Prepared(null, openAiEvents(shape)) : new Prepared(bytes(openAiJson(shape)), null);
        }
        return shape.stream() ? new Prepared(null, anthropicEvents(shape)) : new Prepared(bytes(anthropicJson(shape)), null);
    }

    static String text(int tokens) {
        StringBuilder text = new StringBuilder(tokens * 7);
        for (int i = 0; i < tokens; i++) {
            text.append(WORDS.get(i % WORDS.size()));
        }
        return text.toString();
    }

    private static String openAiJson(Shape s) {
        return "{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion\",\"created\":" + CREATED_EPOCH_SECONDS
                + ",\"model\":\"" + s.model() + "\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\""
                + text(s.outputTokens()) + "\",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\""
                + (s.truncated() ? "length" : "stop") + "\"}]," + openAiUsage(s)
                + ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\"}";
    }

    private static String openAiUsage(Shape s) {
        return "\"usage\":{\"prompt_tokens\":" + s.promptTokens() + ",\"completion_tokens\":" + s.outputTokens()
                + ",\"total_tokens\":" + (s.promptTokens() + s.outputTokens())
                + ",\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":"
                + "{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}";
    }

    /**
     * role chunk, one chunk per token, the finish chunk, the usage chunk (only with
     * {@code stream_options.include_usage}, and then every earlier chunk has {@code "usage":null}), {@code [DONE]}.
     */
    private static byte[][] openAiEvents(Shape s) {
        int count = 1 + s.outputTokens() + 1 + (s.includeUsage() ? 1 : 0) + 1;
        byte[][] events = new byte[count][];
        String head = "data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"created\":" + CREATED_EPOCH_SECONDS
                + ",\"model\":\"" + s.model() + "\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\",";
        String tail = (s.includeUsage() ? ",\"usage\":null" : "") + "}\n\n";
        int i = 0;
        events[i++] = bytes(head + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
                + "\"logprobs\":null,\"finish_reason\":null}]" + tail);
        for (int token = 0; token < s.outputTokens(); token++) {
            events[i++] = bytes(head + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + WORDS.get(token % WORDS.size())
                    + "\"},\"logprobs\":null,\"finish_reason\":null}]" + tail);
        }
        events[i++] = bytes(head + "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\""
                + (s.truncated() ? "length" : "stop") + "\"}]" + tail);
        if (s.includeUsage()) {
            events[i++] = bytes(head + "\"choices\":[]," + openAiUsage(s) + "}\n\n");
        }
        events[i++] = bytes("data: [DONE]\n\n");
        if (i != count) {
            throw new IllegalStateException("built " + i + " events, expected " + count);
        }
        return events;
    }

    private static String anthropicJson(Shape s) {
        return "{\"id\":\"msg_mock\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"" + s.model()
                + "\",\"content\":[{\"type\":\"text\",\"text\":\"" + text(s.outputTokens()) + "\"}],\"stop_reason\":\""
                + anthropicStop(s) + "\",\"stop_sequence\":null,\"usage\":" + anthropicUsage(s, s.outputTokens()) + "}";
    }

    private static String anthropicStop(Shape s) {
        return s.truncated() ? "max_tokens" : "end_turn";
    }

    private static String anthropicUsage(Shape s, int outputTokens) {
        return "{\"input_tokens\":" + s.promptTokens() + ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
                + "\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,\"ephemeral_1h_input_tokens\":0},\"output_tokens\":"
                + outputTokens + ",\"service_tier\":\"standard\"}";
    }

    /** message_start, content_block_start, ping, one content_block_delta per token, content_block_stop, message_delta, message_stop. */
    private static byte[][] anthropicEvents(Shape s) {
        int count = 3 + s.outputTokens() + 3;
        byte[][] events = new byte[count][];
        int i = 0;
        events[i++] = event("message_start", "\"message\":{\"id\":\"msg_mock\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\""
                + s.model() + "\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":" + anthropicUsage(s, 1) + "}");
        events[i++] = event("content_block_start", "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}");
        events[i++] = event("ping", "");
        for (int token = 0; token < s.outputTokens(); token++) {
            events[i++] = event("content_block_delta", "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\""
                    + WORDS.get(token % WORDS.size()) + "\"}");
        }
        events[i++] = event("content_block_stop", "\"index\":0");
        events[i++] = event("message_delta", "\"delta\":{\"stop_reason\":\"" + anthropicStop(s) + "\",\"stop_sequence\":null},"
                + "\"usage\":{\"input_tokens\":" + s.promptTokens() + ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
                + "\"output_tokens\":" + s.outputTokens() + "}");
        events[i++] = event("message_stop", "");
        if (i != count) {
            throw new IllegalStateException("built " + i + " events, expected " + count);
        }
        return events;
    }

    private static byte[] event(String type, String fields) {
        return bytes("event: " + type + "\ndata: {\"type\":\"" + type + "\"" + (fields.isEmpty() ? "" : "," + fields) + "}\n\n");
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
