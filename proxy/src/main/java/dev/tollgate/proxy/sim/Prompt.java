package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.knuddels.jtokkit.api.Encoding;

import java.util.ArrayList;
import java.util.List;

/**
 * The countable text of a request, gathered per endpoint.
 *
 * <p>The documented rule (deterministic; it does not try to match the providers' own counts):
 * <pre>
 *   prompt tokens = sum over text pieces of tokens(piece)   // each piece counted on its own
 *                 + tokens given directly as token arrays
 *                 + 3 per message + 3                       // only for conversational endpoints
 * </pre>
 * A "text piece" is a string content, or the {@code text} of a content part ({@code text},
 * {@code input_text}, {@code output_text}, ...), a system prompt or instructions. Parts without
 * text (images, tool calls) count nothing.
 */
final class Prompt {

    private final List<String> texts = new ArrayList<>();
    private int messages;
    private int directTokens;

    /** A text piece, counted on its own. */
    Prompt text(String text) {
        if (text != null && !text.isEmpty()) {
            texts.add(text);
        }
        return this;
    }

    /** One more message (or system prompt / instructions block): adds {@value SimTokens#TOKENS_PER_MESSAGE} tokens. */
    Prompt message() {
        messages++;
        return this;
    }

    /** Tokens the request gave as token ids rather than text. */
    Prompt tokens(int count) {
        directTokens += count;
        return this;
    }

    /**
     * Adds the text of a message's {@code content}: a string, or an array of parts whose
     * {@code text} is taken (and whose nested {@code content}, as in Anthropic tool results, is
     * walked the same way).
     */
    Prompt content(JsonNode content) {
        if (content == null) {
            return this;
        }
        if (content.isTextual()) {
            text(content.textValue());
        } else if (content.isArray()) {
            for (JsonNode part : content) {
                if (part.isTextual()) {
                    text(part.textValue());
                } else if (part.isObject()) {
                    JsonNode text = part.get("text");
                    if (text != null && text.isTextual()) {
                        text(text.textValue());
                    }
                    JsonNode nested = part.get("content");
                    if (nested != null) {
                        content(nested);
                    }
                }
            }
        }
        return this;
    }

    List<String> texts() {
        return texts;
    }

    Directives directives() {
        return Directives.parse(texts);
    }

    /** Conversational endpoints: text + direct tokens + 3 per message + 3. */
    int conversationTokens(Encoding encoding) {
        return textTokens(encoding) + SimTokens.TOKENS_PER_MESSAGE * messages + SimTokens.TOKENS_PER_REQUEST;
    }

    /** Plain text endpoints (embeddings): text + direct tokens, no overhead. */
    int textTokens(Encoding encoding) {
        int tokens = directTokens;
        for (String text : texts) {
            tokens += SimTokens.count(encoding, text);
        }
        return tokens;
    }
}
