package dev.tollgate.proxy.upstream;

import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.config.Secret;
import dev.tollgate.proxy.Endpoint;
import dev.tollgate.proxy.Headers;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Builds what goes to a provider from what the client sent: the path under the provider's base URL
 * (only the configuration chooses the host), the query parameters the provider's API defines and
 * nothing else, the client's headers minus credentials and hop-by-hop ones, the provider's extra
 * headers from the configuration, and the provider key Tollgate holds, injected here and nowhere else.
 */
public final class UpstreamRequests {
    /** The version Anthropic's API requires; sent when the client did not say. */
    public static final String DEFAULT_ANTHROPIC_VERSION = "2023-06-01";
    /** Query parameters passed on, per protocol: Anthropic's SDKs mark beta calls with {@code ?beta=true}. */
    private static final Map<Protocol, Set<String>> QUERY_ALLOWED = Map.of(Protocol.ANTHROPIC, Set.of("beta"), Protocol.OPENAI, Set.of());
    private static final Pattern PLAIN_VALUE = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    private UpstreamRequests() {
    }

    /** The call for an admitted request: {@code body} is owned by the call from here. */
    public static UpstreamCall call(ProviderConfig provider, Endpoint endpoint, String clientUri, HttpHeaders clientHeaders, ByteBuf body) {
        return call(provider, endpoint, clientUri, clientHeaders, body, null);
    }

    /** As above, authenticated with {@code credential} (an account's own provider key, on a direct route) instead of Tollgate's; null: Tollgate's. */
    public static UpstreamCall call(ProviderConfig provider, Endpoint endpoint, String clientUri, HttpHeaders clientHeaders, ByteBuf body,
                                    Secret credential) {
        String uri = provider.basePath() + endpoint.path().substring("/v1".length()) + query(provider.protocol(), clientUri);
        return new UpstreamCall(provider, uri, headers(clientHeaders, provider, body.readableBytes(), credential == null ? provider.apiKey() : credential), body);
    }

    /** The client's query string reduced to the parameters the provider's API defines, with plain values only. */
    static String query(Protocol protocol, String clientUri) {
        int mark = clientUri.indexOf('?');
        if (mark < 0) {
            return "";
        }
        Set<String> allowed = QUERY_ALLOWED.getOrDefault(protocol, Set.of());
        StringBuilder query = new StringBuilder();
        for (Map.Entry<String, List<String>> parameter : new QueryStringDecoder(clientUri).parameters().entrySet()) {
            if (!allowed.contains(parameter.getKey())) {
                continue;
            }
            for (String value : parameter.getValue()) {
                if (PLAIN_VALUE.matcher(value).matches()) {
                    query.append(query.isEmpty() ? '?' : '&').append(parameter.getKey()).append('=').append(value);
                }
            }
        }
        return query.toString();
    }

    /**
     * The upstream request's headers: the client's own minus credentials, hop-by-hop headers and
     * encodings; the provider's extra headers in place of any of the same name the client sent (they
     * are the operator's: an {@code OpenAI-Organization} or an OpenRouter {@code X-Title} is not the
     * client's to change); the provider's key injected; the body's real length. The configuration
     * refuses extra headers of the names set after them, so Tollgate's own always stand.
     */
    static HttpHeaders headers(HttpHeaders clientHeaders, ProviderConfig provider, int contentLength) {
        return headers(clientHeaders, provider, contentLength, provider.apiKey());
    }

    private static HttpHeaders headers(HttpHeaders clientHeaders, ProviderConfig provider, int contentLength, Secret apiKey) {
        HttpHeaders headers = new DefaultHttpHeaders();
        Headers.copyRequestHeaders(clientHeaders, headers);
        for (Map.Entry<String, String> header : provider.extraHeaders().entrySet()) {
            headers.set(header.getKey(), header.getValue());
        }
        for (Map.Entry<String, Secret> header : provider.extraHeaderSecrets().entrySet()) {
            headers.set(header.getKey(), header.getValue().reveal());
        }
        String host = provider.baseUrl().getHost();
        int port = provider.baseUrl().getPort();
        headers.set(HttpHeaderNames.HOST, port == -1 ? host : host + ":" + port);
        headers.set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        headers.setInt(HttpHeaderNames.CONTENT_LENGTH, contentLength);
        headers.set(HttpHeaderNames.ACCEPT_ENCODING, HttpHeaderValues.IDENTITY);
        if (provider.protocol() == Protocol.ANTHROPIC) {
            if (!headers.contains("anthropic-version")) {
                headers.set("anthropic-version", DEFAULT_ANTHROPIC_VERSION);
            }
            if (apiKey != null) {
                headers.set("x-api-key", apiKey.reveal());
            }
        } else if (apiKey != null) {
            headers.set(HttpHeaderNames.AUTHORIZATION, "Bearer " + apiKey.reveal());
        }
        return headers;
    }
}
