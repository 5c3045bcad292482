package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.core.JsonGenerator;
import io.netty.handler.codec.http.HttpHeaders;

import java.io.IOException;

/** Which provider a path belongs to: it decides authentication, the error shape and the request-id header. */
enum Dialect {

    /**
     * {@code Authorization: Bearer <key>}; errors {@code {"error":{"message","type","param","code"}}};
     * {@code x-request-id}.
     */
    OPENAI {
        @Override
        String apiKey(HttpHeaders headers) {
            String authorization = headers.get("authorization");
            if (authorization == null || authorization.length() <= BEARER.length()
                    || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
                return null;
            }
            String key = authorization.substring(BEARER.length()).trim();
            return key.isEmpty() ? null : key;
        }

        @Override
        String requestIdHeader() {
            return "x-request-id";
        }

        @Override
        String newRequestId(SimIds ids) {
            return ids.openAiRequestId();
        }

        @Override
        void rateLimitHeaders(HttpHeaders headers, boolean limited) {
            headers.set("x-ratelimit-limit-requests", "10000");
            headers.set("x-ratelimit-limit-tokens", "30000000");
            headers.set("x-ratelimit-remaining-requests", limited ? "0" : "9999");
            headers.set("x-ratelimit-remaining-tokens", "29999950");
            headers.set("x-ratelimit-reset-requests", limited ? "1s" : "6ms");
            headers.set("x-ratelimit-reset-tokens", "0s");
            if (limited) {
                headers.set("retry-after", "1");
            }
        }

        @Override
        Json.Body missingKeyError(String requestId) {
            return error(401, "You didn't provide an API key. You need to provide your API key in an Authorization header"
                    + " using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", null, null, requestId);
        }

        @Override
        Json.Body wrongKeyError(String requestId) {
            return openAi("Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                    "invalid_request_error", null, "invalid_api_key");
        }

        @Override
        Json.Body error(int status, String message, String param, String code, String requestId) {
            return switch (status) {
                case 404 -> openAi(message, "invalid_request_error", param, code);
                case 429 -> openAi(message, "requests", param, code != null ? code : "rate_limit_exceeded");
                default -> openAi(message, status >= 500 ? "server_error" : "invalid_request_error", param, code);
            };
        }

        private Json.Body openAi(String message, String type, String param, String code) {
            return g -> {
                g.writeStartObject();
                g.writeObjectFieldStart("error");
                g.writeStringField("message", message);
                g.writeStringField("type", type);
                writeNullableString(g, "param", param);
                writeNullableString(g, "code", code);
                g.writeEndObject();
                g.writeEndObject();
            };
        }
    },

    /**
     * {@code x-api-key: <key>} or, as the official anthropic-java 3.x SDK sends an API key,
     * {@code Authorization: Bearer <key>}; errors
     * {@code {"type":"error","error":{"type","message"},"request_id"}}; {@code request-id}.
     */
    ANTHROPIC {
        @Override
        String apiKey(HttpHeaders headers) {
            String key = headers.get("x-api-key");
            if (key != null && !key.isBlank()) {
                return key.trim();
            }
            return OPENAI.apiKey(headers);
        }

        @Override
        String requestIdHeader() {
            return "request-id";
        }

        @Override
        String newRequestId(SimIds ids) {
            return ids.anthropicRequestId();
        }

        @Override
        void rateLimitHeaders(HttpHeaders headers, boolean limited) {
            String reset = java.time.Instant.ofEpochSecond(System.currentTimeMillis() / 1000 + 1).toString();
            headers.set("anthropic-ratelimit-requests-limit", "4000");
            headers.set("anthropic-ratelimit-requests-remaining", limited ? "0" : "3999");
            headers.set("anthropic-ratelimit-requests-reset", reset);
            headers.set("anthropic-ratelimit-tokens-limit", "2000000");
            headers.set("anthropic-ratelimit-tokens-remaining", "1999950");
            headers.set("anthropic-ratelimit-tokens-reset", reset);
            headers.set("anthropic-ratelimit-input-tokens-limit", "1600000");
            headers.set("anthropic-ratelimit-input-tokens-remaining", "1599970");
            headers.set("anthropic-ratelimit-input-tokens-reset", reset);
            headers.set("anthropic-ratelimit-output-tokens-limit", "400000");
            headers.set("anthropic-ratelimit-output-tokens-remaining", "399980");
            headers.set("anthropic-ratelimit-output-tokens-reset", reset);
            if (limited) {
                headers.set("retry-after", "1");
            }
        }

        @Override
        Json.Body missingKeyError(String requestId) {
            return error(401, "x-api-key header is required", null, null, requestId);
        }

        @Override
        Json.Body wrongKeyError(String requestId) {
            return error(401, "invalid x-api-key", null, null, requestId);
        }

        @Override
        Json.Body error(int status, String message, String param, String code, String requestId) {
            String type = switch (status) {
                case 401 -> "authentication_error";
                case 402 -> "billing_error";
                case 403 -> "permission_error";
                case 404 -> "not_found_error";
                case 413 -> "request_too_large";
                case 429 -> "rate_limit_error";
                case 504 -> "timeout_error";
                case 529 -> "overloaded_error";
                default -> status >= 500 ? "api_error" : "invalid_request_error";
            };
            return g -> writeAnthropic(g, type, message, requestId);
        }
    };

    private static final String BEARER = "Bearer ";

    /** The API key the request carries, or null when it carries none. */
    abstract String apiKey(HttpHeaders headers);

    abstract String requestIdHeader();

    abstract String newRequestId(SimIds ids);

    /**
     * The rate-limit headers the real provider puts on its answers (and {@code retry-after} on a 429), so a proxy's
     * handling of them is tested: they describe the caller's account at the provider. {@code limited}: a 429 answer.
     */
    abstract void rateLimitHeaders(HttpHeaders headers, boolean limited);

    abstract Json.Body missingKeyError(String requestId);

    abstract Json.Body wrongKeyError(String requestId);

    /**
     * The provider's error body for an HTTP status; {@code code} is OpenAI's machine-readable
     * code (null for none; Anthropic has no such field). OpenAI: 429 is type {@code requests} / code
     * {@code rate_limit_exceeded}, 5xx {@code server_error}, other 4xx {@code invalid_request_error}.
     * Anthropic: the documented status-to-type table (429 {@code rate_limit_error}, 500
     * {@code api_error}, 529 {@code overloaded_error}, ...).
     */
    abstract Json.Body error(int status, String message, String param, String code, String requestId);

    /** The message a {@code [sim:error=STATUS]} answer carries. */
    static String simulatedErrorMessage(int status) {
        return switch (status) {
            case 400 -> "Simulated invalid request ([sim:error=400]).";
            case 401 -> "Simulated authentication failure ([sim:error=401]).";
            case 404 -> "Simulated: the model does not exist or you do not have access to it ([sim:error=404]).";
            case 429 -> "Simulated rate limit reached ([sim:error=429]). Please try again later.";
            case 500 -> "The server had an error while processing your request. Sorry about that! ([sim:error=500])";
            case 529 -> "Overloaded ([sim:error=529]).";
            default -> "Simulated error " + status + " ([sim:error=" + status + "]).";
        };
    }

    static void writeAnthropic(JsonGenerator g, String type, String message, String requestId) throws IOException {
        g.writeStartObject();
        g.writeStringField("type", "error");
        g.writeObjectFieldStart("error");
        g.writeStringField("type", type);
        g.writeStringField("message", message);
        g.writeEndObject();
        if (requestId != null) {
            g.writeStringField("request_id", requestId);
        }
        g.writeEndObject();
    }

    static void writeNullableString(JsonGenerator g, String field, String value) throws IOException {
        if (value == null) {
            g.writeNullField(field);
        } else {
            g.writeStringField(field, value);
        }
    }
}
