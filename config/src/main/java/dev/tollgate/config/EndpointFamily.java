package dev.tollgate.config;

import java.util.Locale;

/**
 * The metered API endpoints, each under the {@code /v1} prefix of its protocol. A catalog row lists
 * the families its model serves, so a chat model cannot be billed through the embeddings endpoint.
 */
public enum EndpointFamily {
    CHAT_COMPLETIONS(Protocol.OPENAI, "/v1/chat/completions"),
    COMPLETIONS(Protocol.OPENAI, "/v1/completions"),
    EMBEDDINGS(Protocol.OPENAI, "/v1/embeddings"),
    RESPONSES(Protocol.OPENAI, "/v1/responses"),
    MESSAGES(Protocol.ANTHROPIC, "/v1/messages");

    private final Protocol protocol;
    private final String path;

    EndpointFamily(Protocol protocol, String path) {
        this.protocol = protocol;
        this.path = path;
    }

    public Protocol protocol() {
        return protocol;
    }

    /** The path a client posts to, relative to the host: always starts with {@code /v1/}. */
    public String path() {
        return path;
    }

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    static EndpointFamily parse(String text, Class<EndpointFamily> type) {
        for (EndpointFamily family : values()) {
            if (family.wireName().equals(text)) {
                return family;
            }
        }
        return null;
    }
}
