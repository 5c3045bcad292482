package dev.tollgate.proxy;

import dev.tollgate.config.EndpointFamily;
import dev.tollgate.config.Protocol;
import io.netty.handler.codec.http.HttpMethod;

/** Every path Tollgate answers, with the surface whose error shape it uses. */
public enum Endpoint {
    CHAT_COMPLETIONS(HttpMethod.POST, "/v1/chat/completions", Protocol.OPENAI, EndpointFamily.CHAT_COMPLETIONS),
    COMPLETIONS(HttpMethod.POST, "/v1/completions", Protocol.OPENAI, EndpointFamily.COMPLETIONS),
    EMBEDDINGS(HttpMethod.POST, "/v1/embeddings", Protocol.OPENAI, EndpointFamily.EMBEDDINGS),
    RESPONSES(HttpMethod.POST, "/v1/responses", Protocol.OPENAI, EndpointFamily.RESPONSES),
    MESSAGES(HttpMethod.POST, "/v1/messages", Protocol.ANTHROPIC, EndpointFamily.MESSAGES),
    /** Free at Anthropic, so forwarded without a reservation; still needs a Tollgate key and a known model. */
    COUNT_TOKENS(HttpMethod.POST, "/v1/messages/count_tokens", Protocol.ANTHROPIC, null),
    /** The models this key may use, answered by Tollgate from the catalog (OpenAI or Anthropic shape). */
    MODELS(HttpMethod.GET, "/v1/models", Protocol.OPENAI, null),
    /** Tollgate's own: the balance of the key's account. */
    BALANCE(HttpMethod.GET, "/tollgate/v1/balance", Protocol.OPENAI, null),
    /** The process answers; no key needed (see {@link Health}). */
    HEALTHZ(HttpMethod.GET, "/healthz", Protocol.OPENAI, null),
    /** Recovered and the journal takes records; no key needed. */
    READYZ(HttpMethod.GET, "/readyz", Protocol.OPENAI, null);

    private final HttpMethod method;
    private final String path;
    private final Protocol surface;
    private final EndpointFamily family;

    Endpoint(HttpMethod method, String path, Protocol surface, EndpointFamily family) {
        this.method = method;
        this.path = path;
        this.surface = surface;
        this.family = family;
    }

    public HttpMethod method() {
        return method;
    }

    public String path() {
        return path;
    }

    public Protocol surface() {
        return surface;
    }

    /** The metered family, or null for endpoints that cost nothing. */
    public EndpointFamily family() {
        return family;
    }

    /** The endpoint at a path (query excluded), or null. */
    public static Endpoint atPath(String path) {
        for (Endpoint endpoint : values()) {
            if (endpoint.path.equals(path)) {
                return endpoint;
            }
        }
        return null;
    }
}
