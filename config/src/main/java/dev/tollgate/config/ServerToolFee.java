package dev.tollgate.config;

/**
 * The fee for each call of a provider's server tool (Anthropic's web search: $10 per 1,000 searches, so 10,000
 * micro-units a call), billed from the calls the provider's usage reports. {@code maxCallsPerRequest} is the most calls
 * a reservation covers for a request that declares the tool without a {@code max_uses} of its own; a report of more
 * calls than the request allowed is billed at that bound and recorded as drift, like a token count beyond its bound.
 */
public record ServerToolFee(long microsPerCall, long maxCallsPerRequest) {
    /** No fee above this (10 currency units a call) and no bound above {@link #MAX_CALLS_PER_REQUEST}, so a reservation cannot overflow. */
    public static final long MAX_MICROS_PER_CALL = 10_000_000L;
    public static final long MAX_CALLS_PER_REQUEST = 10_000L;
}
