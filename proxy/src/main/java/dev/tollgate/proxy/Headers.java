package dev.tollgate.proxy;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.Map;
import java.util.Set;

/** Which headers cross the proxy, in each direction. */
public final class Headers {
    public static final AsciiString TOLLGATE_REQUEST_ID = AsciiString.cached("x-tollgate-request-id");
    public static final AsciiString TOLLGATE_RESERVED = AsciiString.cached("x-tollgate-reserved-micros");
    public static final AsciiString TOLLGATE_BALANCE = AsciiString.cached("x-tollgate-balance-micros");
    /** The lane a request asks to run in (one its key may pick); Tollgate's own, never sent upstream. */
    public static final AsciiString TOLLGATE_LANE = AsciiString.cached("x-tollgate-lane");

    /** Hop-by-hop headers (RFC 9110 section 7.6.1) and framing the proxy recomputes. */
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection", "proxy-authenticate",
            "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "content-length", "host", "expect");
    /**
     * Client headers that never go upstream: the client's credentials (the provider key is injected
     * instead), the client's organisation at the provider, cookies, client addresses, encodings
     * (the proxy must read the response to meter it), and Tollgate's own lane header.
     */
    private static final Set<String> NOT_FORWARDED_UPSTREAM = Set.of("authorization", "x-api-key", "api-key", "cookie",
            "openai-organization", "openai-project", "x-goog-api-key", "accept-encoding", "forwarded", "x-forwarded-for",
            "x-forwarded-host", "x-forwarded-proto", "x-real-ip", "x-tollgate-lane");
    /**
     * Upstream response headers the client does not get: cookies of the provider's edge, its framing, and the names of the
     * operator's own organisation and project at the provider (which a key holder has no business knowing).
     */
    private static final Set<String> NOT_RETURNED = Set.of("set-cookie", "content-encoding", "alt-svc", "openai-organization", "openai-project",
            "anthropic-organization-id");
    /**
     * The provider's rate-limit headers ({@code x-ratelimit-limit-requests}, {@code anthropic-ratelimit-tokens-remaining},
     * ...) describe Tollgate's account at the provider, not the client's key, so none reaches the client; Tollgate sets its
     * own ({@link RateLimitHeaders}). Matched by prefix, as providers add families (Anthropic's input- and output-tokens).
     * {@code retry-after} is kept: a provider's 429 is passed through and the client's retry goes back to the same account,
     * so the provider's wait is the client's.
     */
    private static final String OPENAI_RATE_LIMIT_PREFIX = "x-ratelimit-";
    private static final String ANTHROPIC_RATE_LIMIT_PREFIX = "anthropic-ratelimit-";

    private Headers() {
    }

    /** Copies the client's headers that may go upstream. */
    public static void copyRequestHeaders(HttpHeaders from, HttpHeaders to) {
        Set<String> named = connectionTokens(from);
        for (Map.Entry<String, String> header : from) {
            String name = header.getKey().toLowerCase(java.util.Locale.ROOT);
            if (!HOP_BY_HOP.contains(name) && !NOT_FORWARDED_UPSTREAM.contains(name) && !named.contains(name)) {
                to.add(name, header.getValue());
            }
        }
    }

    /** Copies the provider's response headers that may go to the client (framing excluded: the proxy sets it). */
    public static void copyResponseHeaders(HttpHeaders from, HttpHeaders to) {
        Set<String> named = connectionTokens(from);
        for (Map.Entry<String, String> header : from) {
            String name = header.getKey().toLowerCase(java.util.Locale.ROOT);
            if (!HOP_BY_HOP.contains(name) && !NOT_RETURNED.contains(name) && !named.contains(name) && !isProviderRateLimit(name)) {
                to.add(name, header.getValue());
            }
        }
    }

    /** {@code lowerCaseName} is already lower case, so a plain prefix test is case-insensitive and allocates nothing. */
    private static boolean isProviderRateLimit(String lowerCaseName) {
        return lowerCaseName.startsWith(OPENAI_RATE_LIMIT_PREFIX) || lowerCaseName.startsWith(ANTHROPIC_RATE_LIMIT_PREFIX);
    }

    private static Set<String> connectionTokens(HttpHeaders headers) {
        String connection = headers.get(HttpHeaderNames.CONNECTION);
        if (connection == null || connection.isEmpty()) {
            return Set.of();
        }
        java.util.HashSet<String> tokens = new java.util.HashSet<>();
        for (String token : connection.split(",")) {
            tokens.add(token.strip().toLowerCase(java.util.Locale.ROOT));
        }
        return tokens;
    }
}
