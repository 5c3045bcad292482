package dev.tollgate.config;

import java.net.URI;
import java.time.LocalDate;
import java.util.Set;

/**
 * One priced model of one provider. Prices are integer micro-units of the account currency per
 * million tokens, so a request's cost is {@code sum(tokens_k * price_k) / 1_000_000}, rounded once
 * (see the metering module's cost rule). {@code cacheWrite} is the price of tokens written to a
 * prompt cache (Anthropic's cache creation); providers without such a charge list their input price.
 */
public record ModelRow(
        String provider,
        String model,
        Set<EndpointFamily> endpoints,
        String encoding,
        long contextWindowTokens,
        long maxOutputTokens,
        long inputMicrosPerMillionTokens,
        long cacheReadMicrosPerMillionTokens,
        long cacheWriteMicrosPerMillionTokens,
        long outputMicrosPerMillionTokens,
        LocalDate asOf,
        URI source) {

    /** Prices above this (10,000 currency units per million tokens) are refused so cost arithmetic cannot overflow. */
    public static final long MAX_PRICE_MICROS_PER_MILLION_TOKENS = 10_000_000_000L;
    /** Context windows above this are refused for the same reason. */
    public static final long MAX_CONTEXT_WINDOW_TOKENS = 100_000_000L;

    public ModelRow {
        endpoints = Set.copyOf(endpoints);
    }

    public boolean serves(EndpointFamily family) {
        return endpoints.contains(family);
    }

    /** The most one prompt token can cost: whichever of plain, cache-read and cache-write input is dearest. */
    public long maxInputMicrosPerMillionTokens() {
        return Math.max(inputMicrosPerMillionTokens, Math.max(cacheReadMicrosPerMillionTokens, cacheWriteMicrosPerMillionTokens));
    }
}
