package dev.tollgate.metering.request;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tollgate.metering.TokenCounter;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * Estimates a prompt's tokens from the request body, for the rare settlement where the provider
 * reported no prompt usage (a stream cut before its usage chunk, a provider that sends none).
 * Counts the text of every string value except structural fields and inline binary data, plus
 * {@link #TOKENS_PER_MESSAGE} for each message, as OpenAI documents for its chat format.
 */
public final class PromptEstimator {
    static final int TOKENS_PER_MESSAGE = 3;
    private static final Set<String> NOT_PROMPT_TEXT = Set.of("model", "role", "type", "id", "url", "image_url", "detail",
            "media_type", "data", "file_id", "user", "service_tier", "previous_response_id", "tool_choice", "cache_control");

    private PromptEstimator() {
    }

    public static long estimateTokens(JsonNode body, TokenCounter counter) {
        long tokens = TOKENS_PER_MESSAGE;
        JsonNode messages = body.get("messages");
        if (messages != null && messages.isArray()) {
            tokens += (long) TOKENS_PER_MESSAGE * messages.size();
        }
        return tokens + countText(body, counter, 0);
    }

    private static long countText(JsonNode node, TokenCounter counter, int depth) {
        if (depth > RequestInspector.MAX_NESTING_DEPTH) {
            return 0;
        }
        long tokens = 0;
        if (node.isObject()) {
            Iterator<Map.Entry<String, JsonNode>> fields = node.fields();
            while (fields.hasNext()) {
                Map.Entry<String, JsonNode> field = fields.next();
                if (!NOT_PROMPT_TEXT.contains(field.getKey())) {
                    tokens += countText(field.getValue(), counter, depth + 1);
                }
            }
        } else if (node.isArray()) {
            for (JsonNode element : node) {
                tokens += countText(element, counter, depth + 1);
            }
        } else if (node.isTextual() && !node.textValue().startsWith("data:")) {
            tokens += counter.count(node.textValue());
        } else if (node.isNumber()) {
            tokens += 1; // token-id arrays (embeddings input) count one token per id
        }
        return tokens;
    }
}
