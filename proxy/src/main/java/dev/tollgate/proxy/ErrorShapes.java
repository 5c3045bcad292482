package dev.tollgate.proxy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.config.Protocol;
import dev.tollgate.metering.request.Rejection;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

/**
 * Errors in each surface's own shape and status, as OpenAI and Anthropic answer them, so that the
 * official SDKs raise their usual exception types:
 * <pre>
 * OpenAI:    {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
 * Anthropic: {"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}
 * </pre>
 */
public final class ErrorShapes {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ErrorShapes() {
    }

    /** An error as both surfaces name it. */
    public record ErrorKind(HttpResponseStatus status, String openAiType, String openAiCode, HttpResponseStatus anthropicStatus, String anthropicType) {
    }

    public static final ErrorKind UPSTREAM_UNAVAILABLE = new ErrorKind(HttpResponseStatus.BAD_GATEWAY, "server_error", "upstream_unavailable",
            HttpResponseStatus.BAD_GATEWAY, "api_error");
    public static final ErrorKind UPSTREAM_TIMEOUT = new ErrorKind(HttpResponseStatus.GATEWAY_TIMEOUT, "server_error", "upstream_timeout",
            HttpResponseStatus.GATEWAY_TIMEOUT, "timeout_error");
    public static final ErrorKind INTERNAL = new ErrorKind(HttpResponseStatus.INTERNAL_SERVER_ERROR, "server_error", null,
            HttpResponseStatus.INTERNAL_SERVER_ERROR, "api_error");
    /** The journal cannot record money now (disk full, read-only): nothing is charged, and the SDKs retry a 503 later. */
    public static final ErrorKind NOT_RECORDED = new ErrorKind(HttpResponseStatus.SERVICE_UNAVAILABLE, "server_error", "service_unavailable",
            HttpResponseStatus.SERVICE_UNAVAILABLE, "api_error");

    /** Every upstream that could serve the request is skipped by its open circuit breaker: nothing was sent anywhere. */
    public static final ErrorKind CIRCUIT_OPEN = new ErrorKind(HttpResponseStatus.SERVICE_UNAVAILABLE, "server_error", "upstream_circuit_open",
            HttpResponseStatus.SERVICE_UNAVAILABLE, "overloaded_error");

    /** A connection over the listener's or its address's cap. */
    public static final ErrorKind TOO_MANY_CONNECTIONS = new ErrorKind(HttpResponseStatus.SERVICE_UNAVAILABLE, "server_error", "too_many_connections",
            HttpResponseStatus.SERVICE_UNAVAILABLE, "overloaded_error");
    /** Request headers beyond the decoder's limit. */
    public static final ErrorKind HEADERS_TOO_LARGE = new ErrorKind(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "invalid_request_error",
            "request_headers_too_large", HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "invalid_request_error");
    /** A request line beyond the decoder's limit. */
    public static final ErrorKind URI_TOO_LONG = new ErrorKind(HttpResponseStatus.REQUEST_URI_TOO_LONG, "invalid_request_error", "request_uri_too_long",
            HttpResponseStatus.REQUEST_URI_TOO_LONG, "invalid_request_error");
    /** A request whose framing is ambiguous or obsolete (an obs-fold header line): refused, since proxies may read it differently. */
    public static final ErrorKind BAD_FRAMING = new ErrorKind(HttpResponseStatus.BAD_REQUEST, "invalid_request_error", "invalid_http",
            HttpResponseStatus.BAD_REQUEST, "invalid_request_error");
    /** A request that did not arrive whole within the head-read timeout. */
    public static final ErrorKind REQUEST_TIMEOUT = new ErrorKind(HttpResponseStatus.REQUEST_TIMEOUT, "invalid_request_error", "request_timeout",
            HttpResponseStatus.REQUEST_TIMEOUT, "invalid_request_error");

    /** Anthropic's own status for an overloaded API. */
    public static final HttpResponseStatus ANTHROPIC_OVERLOADED = new HttpResponseStatus(529, "Overloaded");

    public static ErrorKind kindOf(Rejection.Kind kind) {
        return switch (kind) {
            case MALFORMED_JSON, INVALID_PARAMETER -> new ErrorKind(HttpResponseStatus.BAD_REQUEST, "invalid_request_error", null,
                    HttpResponseStatus.BAD_REQUEST, "invalid_request_error");
            case UNKNOWN_MODEL -> new ErrorKind(HttpResponseStatus.NOT_FOUND, "invalid_request_error", "model_not_found",
                    HttpResponseStatus.NOT_FOUND, "not_found_error");
            case WRONG_ENDPOINT -> new ErrorKind(HttpResponseStatus.NOT_FOUND, "invalid_request_error", "model_not_supported",
                    HttpResponseStatus.BAD_REQUEST, "invalid_request_error");
            // OpenAI answers an exhausted balance with 429 insufficient_quota, Anthropic with 400.
            case INSUFFICIENT_BALANCE -> new ErrorKind(HttpResponseStatus.TOO_MANY_REQUESTS, "insufficient_quota", "insufficient_quota",
                    HttpResponseStatus.BAD_REQUEST, "invalid_request_error");
            // Anthropic answers its own usage limits with 400 invalid_request_error, as it does an exhausted balance.
            case SPEND_CAP_REACHED -> new ErrorKind(HttpResponseStatus.TOO_MANY_REQUESTS, "insufficient_quota", "spend_cap_reached",
                    HttpResponseStatus.BAD_REQUEST, "invalid_request_error");
            // As OpenAI's and Anthropic's own rate limits: the SDKs wait for retry-after and retry.
            case RATE_LIMITED -> new ErrorKind(HttpResponseStatus.TOO_MANY_REQUESTS, "requests", "rate_limit_exceeded",
                    HttpResponseStatus.TOO_MANY_REQUESTS, "rate_limit_error");
            case INVALID_KEY -> new ErrorKind(HttpResponseStatus.UNAUTHORIZED, "invalid_request_error", "invalid_api_key",
                    HttpResponseStatus.UNAUTHORIZED, "authentication_error");
            // 403: the SDKs raise PermissionDeniedError; the key works, only not for this model or from this address.
            case MODEL_NOT_ALLOWED -> new ErrorKind(HttpResponseStatus.FORBIDDEN, "invalid_request_error", "model_not_allowed",
                    HttpResponseStatus.FORBIDDEN, "permission_error");
            case NETWORK_NOT_ALLOWED -> new ErrorKind(HttpResponseStatus.FORBIDDEN, "invalid_request_error", "network_not_allowed",
                    HttpResponseStatus.FORBIDDEN, "permission_error");
            case BODY_TOO_LARGE -> new ErrorKind(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "invalid_request_error", "request_too_large",
                    HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "request_too_large");
            case UNKNOWN_PATH -> new ErrorKind(HttpResponseStatus.NOT_FOUND, "invalid_request_error", "unknown_url",
                    HttpResponseStatus.NOT_FOUND, "not_found_error");
            case METHOD_NOT_ALLOWED -> new ErrorKind(HttpResponseStatus.METHOD_NOT_ALLOWED, "invalid_request_error", "method_not_allowed",
                    HttpResponseStatus.METHOD_NOT_ALLOWED, "invalid_request_error");
            // A full lane is a rate limit to the client: the SDKs wait for retry-after and retry, as on the providers' own 429s.
            case LANE_FULL -> new ErrorKind(HttpResponseStatus.TOO_MANY_REQUESTS, "requests", "lane_full",
                    HttpResponseStatus.TOO_MANY_REQUESTS, "rate_limit_error");
            // Waited and not served: capacity, not the client's rate. OpenAI says so with 503, Anthropic with 529 overloaded_error;
            // both SDKs retry either after retry-after.
            case LANE_QUEUE_TIMEOUT -> new ErrorKind(HttpResponseStatus.SERVICE_UNAVAILABLE, "server_error", "lane_queue_timeout",
                    ANTHROPIC_OVERLOADED, "overloaded_error");
            case UNKNOWN_LANE -> new ErrorKind(HttpResponseStatus.BAD_REQUEST, "invalid_request_error", "unknown_lane",
                    HttpResponseStatus.BAD_REQUEST, "invalid_request_error");
            case LANE_NOT_ALLOWED -> new ErrorKind(HttpResponseStatus.BAD_REQUEST, "invalid_request_error", "lane_not_allowed",
                    HttpResponseStatus.BAD_REQUEST, "invalid_request_error");
            // The key works; the account has not given Tollgate its own provider key for this direct route. Not retryable.
            case NO_PROVIDER_CREDENTIAL -> new ErrorKind(HttpResponseStatus.FORBIDDEN, "invalid_request_error", "provider_credential_missing",
                    HttpResponseStatus.FORBIDDEN, "permission_error");
        };
    }

    /**
     * An error response that knows why it was made, so that whoever writes it (the exchange, for the access log) can say
     * so without parsing the body: a {@link Rejection.Kind}'s name (as {@code tollgate_refusals_total}'s reason label
     * spells it), or else the surface-neutral OpenAI code of the {@link ErrorKind}.
     */
    public static final class ErrorResponse extends DefaultFullHttpResponse {
        private final String reason;

        ErrorResponse(HttpResponseStatus status, byte[] body, String reason) {
            super(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
            this.reason = reason;
        }

        public String reason() {
            return reason;
        }
    }

    public static FullHttpResponse response(ByteBufAllocator alloc, Protocol surface, Rejection rejection, String requestId) {
        FullHttpResponse response = response(surface, kindOf(rejection.kind()), rejection.message(), rejection.param(), requestId,
                rejection.kind().name().toLowerCase(java.util.Locale.ROOT));
        if (rejection.kind() == Rejection.Kind.INSUFFICIENT_BALANCE || rejection.kind() == Rejection.Kind.SPEND_CAP_REACHED) {
            // The SDKs retry 429s by default; retrying cannot help until someone tops up the balance or the cap's window resets.
            response.headers().set("x-should-retry", "false");
        }
        return response;
    }

    public static FullHttpResponse response(ByteBufAllocator alloc, Protocol surface, ErrorKind kind, String message, String param, String requestId) {
        return response(surface, kind, message, param, requestId, kind.openAiCode() != null ? kind.openAiCode() : kind.openAiType());
    }

    private static FullHttpResponse response(Protocol surface, ErrorKind kind, String message, String param, String requestId, String reason) {
        byte[] body = body(surface, kind, message, param, requestId);
        HttpResponseStatus status = surface == Protocol.ANTHROPIC ? kind.anthropicStatus() : kind.status();
        FullHttpResponse response = new ErrorResponse(status, body, reason);
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        if (requestId != null) {
            response.headers().set(surface == Protocol.ANTHROPIC ? "request-id" : "x-request-id", requestId);
            response.headers().set(Headers.TOLLGATE_REQUEST_ID, requestId);
        }
        return response;
    }

    public static byte[] body(Protocol surface, ErrorKind kind, String message, String param, String requestId) {
        ObjectNode root = JSON.createObjectNode();
        if (surface == Protocol.ANTHROPIC) {
            root.put("type", "error");
            ObjectNode error = root.putObject("error");
            error.put("type", kind.anthropicType());
            error.put("message", message);
            if (requestId != null) {
                root.put("request_id", requestId);
            }
        } else {
            ObjectNode error = root.putObject("error");
            error.put("message", message);
            error.put("type", kind.openAiType());
            error.put("param", param);
            error.put("code", kind.openAiCode());
        }
        try {
            return JSON.writeValueAsBytes(root);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The same error as one SSE event, for a stream that already started: the SDKs raise it as an error. */
    public static byte[] streamEvent(Protocol surface, ErrorKind kind, String message, String requestId) {
        byte[] body = body(surface, kind, message, null, requestId);
        return event(surface == Protocol.ANTHROPIC ? "event: error\ndata: " : "data: ", body);
    }

    /**
     * The error event of a stream on {@code endpoint}: a Responses stream has its own {@code error} event
     * ({@code {"type":"error","code","message","param","sequence_number"}}), which its SDKs raise; the
     * chat-shaped {@code data: {"error":...}} line would be an unknown event to them.
     */
    public static byte[] streamEvent(Endpoint endpoint, Protocol surface, ErrorKind kind, String message, String requestId, long sequenceNumber) {
        if (endpoint != Endpoint.RESPONSES) {
            return streamEvent(surface, kind, message, requestId);
        }
        ObjectNode root = JSON.createObjectNode();
        root.put("type", "error");
        root.put("code", kind.openAiCode() != null ? kind.openAiCode() : kind.openAiType());
        root.put("message", message);
        root.putNull("param");
        root.put("sequence_number", sequenceNumber);
        try {
            return event("event: error\ndata: ", JSON.writeValueAsBytes(root));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] event(String prefix, byte[] body) {
        byte[] out = new byte[prefix.length() + body.length + 2];
        System.arraycopy(prefix.getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, out, 0, prefix.length());
        System.arraycopy(body, 0, out, prefix.length(), body.length);
        out[out.length - 2] = '\n';
        out[out.length - 1] = '\n';
        return out;
    }
}
