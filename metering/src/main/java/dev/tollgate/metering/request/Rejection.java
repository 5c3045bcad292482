package dev.tollgate.metering.request;

/**
 * Why a request is refused before anything is sent upstream. The proxy renders each kind in the
 * surface's own error shape and status, so the official SDKs raise their usual exception types.
 *
 * @param param the request field at fault, or null
 */
public record Rejection(Kind kind, String message, String param) {

    public enum Kind {
        /** 400: the body is not JSON, or not an object. */
        MALFORMED_JSON,
        /** 400: a field is missing or has the wrong type or range. */
        INVALID_PARAMETER,
        /** 404: no configured provider serves this model on this surface. */
        UNKNOWN_MODEL,
        /** 400 / 404: the model exists but does not serve this endpoint. */
        WRONG_ENDPOINT,
        /** OpenAI 429 insufficient_quota; Anthropic 400: the balance cannot cover the prompt and a minimum output. */
        INSUFFICIENT_BALANCE,
        /** OpenAI 429 insufficient_quota (code spend_cap_reached); Anthropic 400: one of the key's spend caps has too little left. */
        SPEND_CAP_REACHED,
        /** 429 {@code rate_limit_exceeded} ({@code rate_limit_error} on Anthropic) with retry-after: a key's or account's RPM, TPM or concurrency. */
        RATE_LIMITED,
        /** 401: no key, not a Tollgate key, or one that expired or was rotated out. */
        INVALID_KEY,
        /** 403 ({@code permission_error} on Anthropic): the key may not call this model. */
        MODEL_NOT_ALLOWED,
        /** 403 ({@code permission_error} on Anthropic): the key may not be used from the client's network. */
        NETWORK_NOT_ALLOWED,
        /** 413: the body exceeds limits.maxRequestBodyBytes. */
        BODY_TOO_LARGE,
        /** 404: a path Tollgate does not serve. */
        UNKNOWN_PATH,
        /** 405: a method the path does not take. */
        METHOD_NOT_ALLOWED,
        /** 429 with retry-after ({@code rate_limit_error} on Anthropic): every slot of the request's lane is taken and its queue is full. */
        LANE_FULL,
        /** 503 with retry-after (529 {@code overloaded_error} on Anthropic): the request waited its lane's queue timeout for a slot. */
        LANE_QUEUE_TIMEOUT,
        /** 400: {@code x-tollgate-lane} names no declared lane. */
        UNKNOWN_LANE,
        /** 400: {@code x-tollgate-lane} names a lane the key may not pick. */
        LANE_NOT_ALLOWED,
        /** 403 ({@code permission_error} on Anthropic): a direct route, and the account holds no credential for any of its providers. */
        NO_PROVIDER_CREDENTIAL
    }

    public static Rejection of(Kind kind, String message) {
        return new Rejection(kind, message, null);
    }
}
