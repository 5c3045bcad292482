package dev.tollgate.config;

import java.net.URI;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One priced model of one provider. Prices are integer micro-units of the account currency per
 * million tokens, so a request's cost is {@code sum(tokens_k * price_k) / 1_000_000}, rounded once
 * (see the metering module's cost rule). {@code cacheWrite} is the price of tokens written to a
 * prompt cache (Anthropic's cache creation); providers without such a charge list their input price.
 *
 * <p>{@code tiers} reprice a long prompt: a request whose whole prompt (input, cache reads and cache writes) is longer
 * than a tier's {@code abovePromptTokens} is billed entirely at the prices of the highest such tier. Empty for a model
 * priced the same at any length; ascending by threshold, each below the context window.
 *
 * <p>{@code timeWindows} price some hours differently (DeepSeek's off-peak): a request admitted inside one is priced at
 * its percentage of every price of the row and of its tiers ({@link #pricedAt}); outside all of them, at the row's.
 *
 * <p>{@code serviceTiers} map a service tier's name, as the provider reports it in its response (OpenAI's
 * {@code service_tier}, Anthropic's {@code usage.service_tier}), to the percentage of the request's cost it is billed
 * at ({@code flex} 50, {@code priority} 200). The percentage applies to the exact cost before its one rounding, so no
 * price is rounded; a tier not named here, or none reported, is billed at 100.
 *
 * <p>{@code retiredOn} is the day the provider announced the model stops being served (null when none was): its row
 * stays so replayed ledgers keep a price, and {@code tollgate pricing check} reports traffic to it after that day.
 *
 * <p>{@code tokenClassPrices} price {@linkplain TokenClass classes} of tokens apart from the kind they are part of
 * (one-hour cache writes, audio and image tokens, reasoning); a class not named is billed at its kind's price.
 * {@code serverToolFees} charge per call of a named server tool ({@code web_search}), {@code requestFeeMicros} per
 * settled request, and {@code unitPrices} per unit of what an endpoint meters in units rather than tokens
 * ({@code image.1024x1024.high}, {@code audio_second}); all in whole micro-units, none scaled by a time window or a
 * service tier.
 *
 * <p>{@code effectiveFrom} (null: since always) and {@code effectiveUntil} (null: until replaced) bound the period in
 * which this price set of the model is in force: a catalog may hold several rows of one (provider, model) whose
 * periods follow one another, and a request is priced by the one in force when it was admitted. The journal names
 * that set by its {@link #rowVersion()}.
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
        URI source,
        List<PriceTier> tiers,
        List<TimeWindow> timeWindows,
        Map<String, Integer> serviceTiers,
        LocalDate retiredOn,
        Map<TokenClass, Long> tokenClassPrices,
        Map<String, ServerToolFee> serverToolFees,
        long requestFeeMicros,
        Map<String, Long> unitPrices,
        Instant effectiveFrom,
        Instant effectiveUntil) {

    /** Prices above this (10,000 currency units per million tokens) are refused so cost arithmetic cannot overflow. */
    public static final long MAX_PRICE_MICROS_PER_MILLION_TOKENS = 10_000_000_000L;
    /** Context windows above this are refused for the same reason. */
    public static final long MAX_CONTEXT_WINDOW_TOKENS = 100_000_000L;

    public ModelRow {
        endpoints = Set.copyOf(endpoints);
        tiers = List.copyOf(tiers);
        timeWindows = List.copyOf(timeWindows);
        serviceTiers = Map.copyOf(serviceTiers);
        tokenClassPrices = Map.copyOf(tokenClassPrices);
        serverToolFees = Map.copyOf(serverToolFees);
        unitPrices = Map.copyOf(unitPrices);
    }

    private static final java.util.regex.Pattern COUNTED_NAME = java.util.regex.Pattern.compile("[a-z0-9_.]{1,64}");

    /**
     * True for a name a server tool or a unit can have, in the catalog and in a request's usage: lower-case letters,
     * digits, underscores and dots ({@code web_search}, {@code image.1024x1024.high}).
     */
    public static boolean isCountedName(String name) {
        return name != null && COUNTED_NAME.matcher(name).matches();
    }

    private static final java.util.regex.Pattern SERVICE_TIER_NAME = java.util.regex.Pattern.compile("[a-z0-9_]{1,64}");

    /** True for a name a service tier can have in the catalog: lower-case letters, digits and underscores, as the providers write them. */
    public static boolean isServiceTierName(String name) {
        return name != null && SERVICE_TIER_NAME.matcher(name).matches();
    }

    /** A row of the four kinds' prices with no classes priced apart, no fees, and in force at any time. */
    public ModelRow(String provider, String model, Set<EndpointFamily> endpoints, String encoding, long contextWindowTokens, long maxOutputTokens,
                    long inputMicrosPerMillionTokens, long cacheReadMicrosPerMillionTokens, long cacheWriteMicrosPerMillionTokens,
                    long outputMicrosPerMillionTokens, LocalDate asOf, URI source, List<PriceTier> tiers, List<TimeWindow> timeWindows,
                    Map<String, Integer> serviceTiers, LocalDate retiredOn) {
        this(provider, model, endpoints, encoding, contextWindowTokens, maxOutputTokens, inputMicrosPerMillionTokens, cacheReadMicrosPerMillionTokens,
                cacheWriteMicrosPerMillionTokens, outputMicrosPerMillionTokens, asOf, source, tiers, timeWindows, serviceTiers, retiredOn,
                Map.of(), Map.of(), 0, Map.of(), null, null);
    }

    /**
     * The name the journal gives this price set of its model: its {@code effectiveFrom} as an ISO-8601 instant, or
     * empty for a row in force since always. With the catalog version, it names the prices a debit was made at.
     */
    public String rowVersion() {
        return effectiveFrom == null ? "" : effectiveFrom.toString();
    }

    /** This price set in force from {@code effectiveFrom} (null: since always) until {@code effectiveUntil} (null: until replaced). */
    public ModelRow withEffectivePeriod(Instant effectiveFrom, Instant effectiveUntil) {
        return new ModelRow(provider, model, endpoints, encoding, contextWindowTokens, maxOutputTokens, inputMicrosPerMillionTokens,
                cacheReadMicrosPerMillionTokens, cacheWriteMicrosPerMillionTokens, outputMicrosPerMillionTokens, asOf, source, tiers, timeWindows,
                serviceTiers, retiredOn, tokenClassPrices, serverToolFees, requestFeeMicros, unitPrices, effectiveFrom, effectiveUntil);
    }

    /** True when this price set is in force at {@code epochMs}: from its {@code effectiveFrom} (inclusive) to its {@code effectiveUntil} (exclusive). */
    public boolean inForceAt(long epochMs) {
        return (effectiveFrom == null || effectiveFrom.toEpochMilli() <= epochMs) && (effectiveUntil == null || epochMs < effectiveUntil.toEpochMilli());
    }

    /** The price of a token of {@code tokenClass} at {@code tier} (null: the row's own prices): its own if priced apart, else its kind's. */
    public long priceOf(TokenClass tokenClass, PriceTier tier) {
        Long own = tier == null ? tokenClassPrices.get(tokenClass) : tier.tokenClassPrices().get(tokenClass);
        if (own != null) {
            return own;
        }
        return switch (tokenClass.kind()) {
            case INPUT -> tier == null ? inputMicrosPerMillionTokens : tier.inputMicrosPerMillionTokens();
            case CACHE_WRITE -> tier == null ? cacheWriteMicrosPerMillionTokens : tier.cacheWriteMicrosPerMillionTokens();
            case OUTPUT -> tier == null ? outputMicrosPerMillionTokens : tier.outputMicrosPerMillionTokens();
        };
    }

    /** A row whose retirement was not announced. */
    public ModelRow(String provider, String model, Set<EndpointFamily> endpoints, String encoding, long contextWindowTokens, long maxOutputTokens,
                    long inputMicrosPerMillionTokens, long cacheReadMicrosPerMillionTokens, long cacheWriteMicrosPerMillionTokens,
                    long outputMicrosPerMillionTokens, LocalDate asOf, URI source, List<PriceTier> tiers, List<TimeWindow> timeWindows,
                    Map<String, Integer> serviceTiers) {
        this(provider, model, endpoints, encoding, contextWindowTokens, maxOutputTokens, inputMicrosPerMillionTokens, cacheReadMicrosPerMillionTokens,
                cacheWriteMicrosPerMillionTokens, outputMicrosPerMillionTokens, asOf, source, tiers, timeWindows, serviceTiers, null);
    }

    /** A row without service tiers or an announced retirement. */
    public ModelRow(String provider, String model, Set<EndpointFamily> endpoints, String encoding, long contextWindowTokens, long maxOutputTokens,
                    long inputMicrosPerMillionTokens, long cacheReadMicrosPerMillionTokens, long cacheWriteMicrosPerMillionTokens,
                    long outputMicrosPerMillionTokens, LocalDate asOf, URI source, List<PriceTier> tiers, List<TimeWindow> timeWindows) {
        this(provider, model, endpoints, encoding, contextWindowTokens, maxOutputTokens, inputMicrosPerMillionTokens, cacheReadMicrosPerMillionTokens,
                cacheWriteMicrosPerMillionTokens, outputMicrosPerMillionTokens, asOf, source, tiers, timeWindows, Map.of(), null);
    }

    /** A row without time windows. */
    public ModelRow(String provider, String model, Set<EndpointFamily> endpoints, String encoding, long contextWindowTokens, long maxOutputTokens,
                    long inputMicrosPerMillionTokens, long cacheReadMicrosPerMillionTokens, long cacheWriteMicrosPerMillionTokens,
                    long outputMicrosPerMillionTokens, LocalDate asOf, URI source, List<PriceTier> tiers) {
        this(provider, model, endpoints, encoding, contextWindowTokens, maxOutputTokens, inputMicrosPerMillionTokens, cacheReadMicrosPerMillionTokens,
                cacheWriteMicrosPerMillionTokens, outputMicrosPerMillionTokens, asOf, source, tiers, List.of());
    }


    /**
     * The row as it prices a request admitted at {@code epochMs}: itself outside every time window, else a row with each
     * of its prices (and its tiers') at the window's percentage and no windows of its own. The catalog checked that
     * every such price is a whole micro-unit, so no rounding enters here.
     */
    public ModelRow pricedAt(long epochMs) {
        for (TimeWindow window : timeWindows) {
            if (window.contains(epochMs)) {
                int percent = window.percent();
                List<PriceTier> scaledTiers = tiers.stream().map(t -> new PriceTier(t.abovePromptTokens(), scale(t.inputMicrosPerMillionTokens(), percent),
                        scale(t.cacheReadMicrosPerMillionTokens(), percent), scale(t.cacheWriteMicrosPerMillionTokens(), percent),
                        scale(t.outputMicrosPerMillionTokens(), percent), scale(t.tokenClassPrices(), percent))).toList();
                return new ModelRow(provider, model, endpoints, encoding, contextWindowTokens, maxOutputTokens, scale(inputMicrosPerMillionTokens, percent),
                        scale(cacheReadMicrosPerMillionTokens, percent), scale(cacheWriteMicrosPerMillionTokens, percent),
                        scale(outputMicrosPerMillionTokens, percent), asOf, source, scaledTiers, List.of(), serviceTiers, retiredOn,
                        scale(tokenClassPrices, percent), serverToolFees, requestFeeMicros, unitPrices, effectiveFrom, effectiveUntil);
            }
        }
        return this;
    }

    private static long scale(long microsPerMillionTokens, int percent) {
        return microsPerMillionTokens * percent / 100;
    }

    private static Map<TokenClass, Long> scale(Map<TokenClass, Long> prices, int percent) {
        Map<TokenClass, Long> scaled = new java.util.EnumMap<>(TokenClass.class);
        prices.forEach((tokenClass, price) -> scaled.put(tokenClass, scale(price, percent)));
        return scaled;
    }

    /** A row priced the same at any prompt length. */
    public ModelRow(String provider, String model, Set<EndpointFamily> endpoints, String encoding, long contextWindowTokens, long maxOutputTokens,
                    long inputMicrosPerMillionTokens, long cacheReadMicrosPerMillionTokens, long cacheWriteMicrosPerMillionTokens,
                    long outputMicrosPerMillionTokens, LocalDate asOf, URI source) {
        this(provider, model, endpoints, encoding, contextWindowTokens, maxOutputTokens, inputMicrosPerMillionTokens, cacheReadMicrosPerMillionTokens,
                cacheWriteMicrosPerMillionTokens, outputMicrosPerMillionTokens, asOf, source, List.of(), List.of());
    }

    /** The tier that prices a request whose whole prompt is {@code promptTokens}, or null for the row's own prices. */
    public PriceTier tierFor(long promptTokens) {
        PriceTier applies = null;
        for (int i = 0; i < tiers.size(); i++) { // ascending: the last one passed applies
            PriceTier tier = tiers.get(i);
            if (promptTokens <= tier.abovePromptTokens()) {
                break;
            }
            applies = tier;
        }
        return applies;
    }

    /** The dearest an output token can be billed at in a request whose whole prompt is {@code promptTokens}: its tier's output or output class price. */
    public long outputMicrosPerMillionTokens(long promptTokens) {
        PriceTier tier = tierFor(promptTokens);
        return tier == null ? maxOutputMicrosPerMillionTokens() : tier.maxOutputMicrosPerMillionTokens();
    }

    /**
     * The most one prompt token can cost in a request whose prompt is at most {@code promptBoundTokens}: the dearest
     * input class of the row and of every tier such a prompt can reach, so a reservation bounds whichever applies.
     */
    public long maxInputMicrosPerMillionTokens(long promptBoundTokens) {
        return maxInputMicrosPerMillionTokens(promptBoundTokens, true);
    }

    /**
     * As {@link #maxInputMicrosPerMillionTokens(long)}, leaving out the one-hour cache-write class when
     * {@code oneHourCacheWrites} is false: a request that asks for no one-hour cache cannot write one.
     */
    public long maxInputMicrosPerMillionTokens(long promptBoundTokens, boolean oneHourCacheWrites) {
        long max = maxInput(inputMicrosPerMillionTokens, cacheReadMicrosPerMillionTokens, cacheWriteMicrosPerMillionTokens, tokenClassPrices,
                oneHourCacheWrites);
        for (PriceTier tier : tiers) {
            if (promptBoundTokens > tier.abovePromptTokens()) {
                max = Math.max(max, maxInput(tier.inputMicrosPerMillionTokens(), tier.cacheReadMicrosPerMillionTokens(),
                        tier.cacheWriteMicrosPerMillionTokens(), tier.tokenClassPrices(), oneHourCacheWrites));
            }
        }
        return max;
    }

    private static long maxInput(long input, long cacheRead, long cacheWrite, Map<TokenClass, Long> classes, boolean oneHourCacheWrites) {
        long max = Math.max(input, Math.max(cacheRead, cacheWrite));
        for (Map.Entry<TokenClass, Long> price : classes.entrySet()) {
            if (price.getKey().kind() != TokenClass.Kind.OUTPUT && (oneHourCacheWrites || price.getKey() != TokenClass.CACHE_WRITE_1H)) {
                max = Math.max(max, price.getValue());
            }
        }
        return max;
    }

    /** The dearest output price a request whose prompt is at most {@code promptBoundTokens} can be billed at. */
    public long maxOutputMicrosPerMillionTokens(long promptBoundTokens) {
        long max = maxOutputMicrosPerMillionTokens();
        for (PriceTier tier : tiers) {
            if (promptBoundTokens > tier.abovePromptTokens()) {
                max = Math.max(max, tier.maxOutputMicrosPerMillionTokens());
            }
        }
        return max;
    }

    /** The most one output token can cost at the row's own prices: its output price or that of a class part of the output. */
    public long maxOutputMicrosPerMillionTokens() {
        return maxOutput(outputMicrosPerMillionTokens, tokenClassPrices);
    }

    /** The dearest of an output price and the prices of the classes part of the output: a row's or a tier's. */
    static long maxOutput(long output, Map<TokenClass, Long> classes) {
        long max = output;
        for (Map.Entry<TokenClass, Long> price : classes.entrySet()) {
            if (price.getKey().kind() == TokenClass.Kind.OUTPUT) {
                max = Math.max(max, price.getValue());
            }
        }
        return max;
    }

    /** The percentage of the cost a request served at {@code serviceTier} (null when none was reported) is billed at. */
    public int servicePercent(String serviceTier) {
        if (serviceTier == null || serviceTiers.isEmpty()) {
            return 100;
        }
        Integer percent = serviceTiers.get(serviceTier);
        return percent == null ? 100 : percent;
    }

    /** The dearest percentage any service tier can bill a request at: the row's own 100 or the highest of its tiers. */
    public int maxServicePercent() {
        int max = 100;
        for (int percent : serviceTiers.values()) {
            max = Math.max(max, percent);
        }
        return max;
    }

    public boolean serves(EndpointFamily family) {
        return endpoints.contains(family);
    }

    /** The most one prompt token can cost at the row's own prices: the dearest of plain, cache-read and cache-write input and of the classes part of them. */
    public long maxInputMicrosPerMillionTokens() {
        return maxInput(inputMicrosPerMillionTokens, cacheReadMicrosPerMillionTokens, cacheWriteMicrosPerMillionTokens, tokenClassPrices, true);
    }
}
