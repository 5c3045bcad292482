package dev.tollgate.config;

/**
 * Bounds on everything the proxy holds or waits for. Each has a default; see {@link #defaults()}.
 *
 * @param maxRequestBodyBytes         larger request bodies are refused with 413 before anything is reserved
 * @param maxSseEventBytes            an upstream SSE event larger than this ends the stream as an upstream error
 * @param minOutputTokens             a request is admitted only if the balance covers its prompt bound and at least this many output tokens
 * @param promptTokensPerImage        the prompt-bound allowance for each image part, whose tokens its bytes do not bound
 * @param upstreamConnectTimeoutMs    connecting (and TLS handshake) to the provider
 * @param upstreamResponseTimeoutMs   from sending the request to the response headers
 * @param upstreamIdleTimeoutMs       the longest silence between two pieces of a response body
 * @param maxAccounts                 capacity of the balance counters, allocated once at start-up
 * @param maxIdleUpstreamConnections  kept-alive idle connections per provider per event loop
 */
public record Limits(
        int maxRequestBodyBytes,
        int maxSseEventBytes,
        int minOutputTokens,
        int promptTokensPerImage,
        int upstreamConnectTimeoutMs,
        int upstreamResponseTimeoutMs,
        int upstreamIdleTimeoutMs,
        int maxAccounts,
        int maxIdleUpstreamConnections) {

    public static Limits defaults() {
        return new Limits(32 << 20, 1 << 20, 16, 3_000, 10_000, 600_000, 300_000, 65_536, 64);
    }
}
