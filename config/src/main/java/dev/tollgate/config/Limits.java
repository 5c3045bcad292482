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
 * @param maxIdleUpstreamConnections  kept-alive idle connections per lane and provider per event loop
 * @param headReadTimeoutMs           a client's request (head and body) must arrive within this from its first byte, and a new
 *                                    connection must send its first byte within it; otherwise 408 and the connection is closed
 * @param clientIdleTimeoutMs         a kept-alive client connection with no request in flight is closed after this long (never during a response)
 * @param maxClientConnections        open client connections per listener; one more gets 503 and is closed
 * @param maxClientConnectionsPerAddress open client connections from one IP address; one more gets 503 and is closed
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
        int maxIdleUpstreamConnections,
        int headReadTimeoutMs,
        int clientIdleTimeoutMs,
        int maxClientConnections,
        int maxClientConnectionsPerAddress) {

    public static final int DEFAULT_HEAD_READ_TIMEOUT_MS = 10_000;
    public static final int DEFAULT_CLIENT_IDLE_TIMEOUT_MS = 60_000;
    /**
     * Room for 10,000 idle clients and more, yet under the usual 20,000-descriptor limit with the journal and
     * upstream connections: past the file limit every accept fails, so a cap below it keeps refusals clean.
     */
    public static final int DEFAULT_MAX_CLIENT_CONNECTIONS = 12_000;
    public static final int DEFAULT_MAX_CLIENT_CONNECTIONS_PER_ADDRESS = 4_096;

    /** The bounds without the client-connection settings, which take their defaults. */
    public Limits(int maxRequestBodyBytes, int maxSseEventBytes, int minOutputTokens, int promptTokensPerImage, int upstreamConnectTimeoutMs,
                  int upstreamResponseTimeoutMs, int upstreamIdleTimeoutMs, int maxAccounts, int maxIdleUpstreamConnections) {
        this(maxRequestBodyBytes, maxSseEventBytes, minOutputTokens, promptTokensPerImage, upstreamConnectTimeoutMs, upstreamResponseTimeoutMs,
                upstreamIdleTimeoutMs, maxAccounts, maxIdleUpstreamConnections, DEFAULT_HEAD_READ_TIMEOUT_MS, DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
                DEFAULT_MAX_CLIENT_CONNECTIONS, DEFAULT_MAX_CLIENT_CONNECTIONS_PER_ADDRESS);
    }

    public static Limits defaults() {
        return new Limits(32 << 20, 1 << 20, 16, 3_000, 10_000, 600_000, 300_000, 65_536, 64);
    }

    /** These bounds with other client-connection settings. */
    public Limits withClientConnections(int headReadTimeoutMs, int clientIdleTimeoutMs, int maxClientConnections, int maxClientConnectionsPerAddress) {
        return new Limits(maxRequestBodyBytes, maxSseEventBytes, minOutputTokens, promptTokensPerImage, upstreamConnectTimeoutMs,
                upstreamResponseTimeoutMs, upstreamIdleTimeoutMs, maxAccounts, maxIdleUpstreamConnections, headReadTimeoutMs, clientIdleTimeoutMs,
                maxClientConnections, maxClientConnectionsPerAddress);
    }
}
