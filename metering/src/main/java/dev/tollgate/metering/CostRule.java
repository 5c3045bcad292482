package dev.tollgate.metering;

import dev.tollgate.config.ModelRow;
import dev.tollgate.config.PriceTier;
import dev.tollgate.config.ServerToolFee;
import dev.tollgate.config.TokenClass;
import java.math.BigInteger;

/**
 * The one rounding rule for money: a request's exact cost (its parts priced apart, see {@link #costMicros(ModelRow, Usage, int)}) is the rational number
 * {@code (input * inputPrice + cacheRead * cacheReadPrice + cacheWrite * cacheWritePrice + output * outputPrice) / 1,000,000}
 * micro-units (prices are per million tokens; those of the row's {@linkplain ModelRow#tierFor tier} for the request's
 * whole prompt when the row reprices long prompts), times the {@linkplain ModelRow#servicePercent service tier's}
 * percentage over 100 when the request was served at one, times its lane's price multiplier in basis points over
 * 10,000 ({@code priceMultiplierBps}: 5000 for a lane at half price), and it is rounded <b>up</b> to a whole micro-unit,
 * once per request. Rounding once, after summing, means no kind of token is rounded on its own;
 * rounding up means the rounding never favours the account over the provider's bill by more than
 * one micro-unit per request. Integer arithmetic throughout: a cost beyond {@code Long.MAX_VALUE}
 * micro-units saturates there instead of throwing, so an absurd count can never stop a request from
 * getting its outcome (the settlement then debits what the balance holds and writes off the rest).
 */
public final class CostRule {
    public static final long TOKENS_PER_PRICE_UNIT = 1_000_000L;
    /** The list price in basis points: a lane's multiplier at which nothing changes. */
    public static final int LIST_PRICE_BPS = dev.tollgate.config.LaneConfig.LIST_PRICE_BPS;
    /** A percentage times a multiplier in basis points at the list price: the scale's unit. */
    private static final long LIST_SCALE = 100L * LIST_PRICE_BPS;
    /** The divisor of a numerator multiplied by a scale (a percentage times basis points): {@link #LIST_SCALE} times {@link #TOKENS_PER_PRICE_UNIT}. */
    private static final long SCALED_TOKENS_PER_PRICE_UNIT = LIST_SCALE * TOKENS_PER_PRICE_UNIT;

    private CostRule() {
    }

    public static long costMicros(ModelRow row, Usage usage) {
        return costMicros(row, usage, 100);
    }

    /**
     * The cost of {@code usage} served at a service tier billed at {@code percent} of the row's prices (100: the prices as
     * listed). Each token is priced once, by the most specific class the row prices: a part of a kind that the row prices
     * apart (a one-hour cache write, an audio token) at its class's price, the rest of the kind at the kind's. The
     * service tier's percentage scales the tokens' exact cost; the fees (per request, per server tool call, per unit)
     * are whole micro-units added after the one rounding, so they are neither scaled nor rounded.
     */
    public static long costMicros(ModelRow row, Usage usage, int percent) {
        return costMicros(row, usage, percent, LIST_PRICE_BPS);
    }

    /**
     * As {@link #costMicros(ModelRow, Usage, int)} in a lane whose tokens cost {@code multiplierBps} basis points of the
     * listed price: the multiplier scales the tokens' exact cost with the service tier's percentage, before the one
     * rounding; the fees are not scaled.
     */
    public static long costMicros(ModelRow row, Usage usage, int percent, int multiplierBps) {
        return Usage.saturatedSum(tokensMicros(row, usage, percent, multiplierBps), feesMicros(row, usage));
    }

    /** The tokens' part of {@link #costMicros(ModelRow, Usage, int)}: their exact cost at {@code percent}, rounded up once; no fees. */
    public static long tokensMicros(ModelRow row, Usage usage, int percent) {
        return tokensMicros(row, usage, percent, LIST_PRICE_BPS);
    }

    /** The tokens' part of {@link #costMicros(ModelRow, Usage, int, int)}: their exact cost at {@code percent} and {@code multiplierBps}, rounded up once. */
    public static long tokensMicros(ModelRow row, Usage usage, int percent, int multiplierBps) {
        PriceTier tier = row.tiers().isEmpty() ? null : row.tierFor(promptTokens(usage));
        long scale = scale(percent, multiplierBps);
        long tokensMicros;
        try {
            long numerator = exactNumerator(row, tier, usage); // the common case, without allocating
            tokensMicros = scale == LIST_SCALE ? ceilDiv(numerator) : Math.ceilDiv(Math.multiplyExact(numerator, scale), SCALED_TOKENS_PER_PRICE_UNIT);
        } catch (ArithmeticException overflow) {
            long[] terms = terms(row, tier, usage);
            BigInteger numerator = BigInteger.ZERO;
            for (int i = 0; i < terms.length; i += 2) {
                numerator = numerator.add(BigInteger.valueOf(terms[i]).multiply(BigInteger.valueOf(terms[i + 1])));
            }
            tokensMicros = saturatedCeilDiv(numerator.multiply(BigInteger.valueOf(scale)), SCALED_TOKENS_PER_PRICE_UNIT);
        }
        return tokensMicros;
    }

    /** A service tier's percentage times a lane's basis points: {@link #LIST_SCALE} at the list price. Both are bounded by the configuration, so it fits. */
    private static long scale(int percent, int multiplierBps) {
        return (long) percent * multiplierBps;
    }

    /** The sum of {@link #terms}' products, throwing on overflow. */
    private static long exactNumerator(ModelRow row, PriceTier tier, Usage usage) {
        long plainInput = usage.inputTokens() - usage.audioInputTokens() - usage.imageInputTokens();
        long fiveMinuteWrites = usage.cacheWriteTokens() - usage.cacheWrite1hTokens();
        long otherOutput = usage.outputTokens() - usage.audioOutputTokens() - usage.imageOutputTokens();
        long reasoning = Math.min(usage.reasoningTokens(), otherOutput);
        long n = Math.multiplyExact(plainInput, tier == null ? row.inputMicrosPerMillionTokens() : tier.inputMicrosPerMillionTokens());
        n = Math.addExact(n, Math.multiplyExact(usage.cacheReadTokens(), tier == null ? row.cacheReadMicrosPerMillionTokens() : tier.cacheReadMicrosPerMillionTokens()));
        n = Math.addExact(n, Math.multiplyExact(fiveMinuteWrites, tier == null ? row.cacheWriteMicrosPerMillionTokens() : tier.cacheWriteMicrosPerMillionTokens()));
        n = Math.addExact(n, Math.multiplyExact(otherOutput - reasoning, tier == null ? row.outputMicrosPerMillionTokens() : tier.outputMicrosPerMillionTokens()));
        n = Math.addExact(n, Math.multiplyExact(usage.audioInputTokens(), row.priceOf(TokenClass.AUDIO_INPUT, tier)));
        n = Math.addExact(n, Math.multiplyExact(usage.imageInputTokens(), row.priceOf(TokenClass.IMAGE_INPUT, tier)));
        n = Math.addExact(n, Math.multiplyExact(usage.cacheWrite1hTokens(), row.priceOf(TokenClass.CACHE_WRITE_1H, tier)));
        n = Math.addExact(n, Math.multiplyExact(reasoning, row.priceOf(TokenClass.REASONING, tier)));
        n = Math.addExact(n, Math.multiplyExact(usage.audioOutputTokens(), row.priceOf(TokenClass.AUDIO_OUTPUT, tier)));
        return Math.addExact(n, Math.multiplyExact(usage.imageOutputTokens(), row.priceOf(TokenClass.IMAGE_OUTPUT, tier)));
    }

    /** (tokens, price) pairs, one per class of token priced, each token in exactly one. */
    private static long[] terms(ModelRow row, PriceTier tier, Usage usage) {
        long plainInput = usage.inputTokens() - usage.audioInputTokens() - usage.imageInputTokens(); // Usage keeps the parts within their kind
        long fiveMinuteWrites = usage.cacheWriteTokens() - usage.cacheWrite1hTokens();
        long otherOutput = usage.outputTokens() - usage.audioOutputTokens() - usage.imageOutputTokens();
        long reasoning = Math.min(usage.reasoningTokens(), otherOutput); // reasoning is text output; at the output price unless priced apart
        return new long[] {
                plainInput, tier == null ? row.inputMicrosPerMillionTokens() : tier.inputMicrosPerMillionTokens(),
                usage.audioInputTokens(), row.priceOf(TokenClass.AUDIO_INPUT, tier),
                usage.imageInputTokens(), row.priceOf(TokenClass.IMAGE_INPUT, tier),
                usage.cacheReadTokens(), tier == null ? row.cacheReadMicrosPerMillionTokens() : tier.cacheReadMicrosPerMillionTokens(),
                fiveMinuteWrites, tier == null ? row.cacheWriteMicrosPerMillionTokens() : tier.cacheWriteMicrosPerMillionTokens(),
                usage.cacheWrite1hTokens(), row.priceOf(TokenClass.CACHE_WRITE_1H, tier),
                otherOutput - reasoning, tier == null ? row.outputMicrosPerMillionTokens() : tier.outputMicrosPerMillionTokens(),
                reasoning, row.priceOf(TokenClass.REASONING, tier),
                usage.audioOutputTokens(), row.priceOf(TokenClass.AUDIO_OUTPUT, tier),
                usage.imageOutputTokens(), row.priceOf(TokenClass.IMAGE_OUTPUT, tier)};
    }

    /**
     * The fees of a request in whole micro-units: the row's per-request fee, each server tool call the row charges for,
     * each unit the row prices (saturating). A tool or unit the row names no price for costs nothing here: the re-rating
     * report lists what a catalog could not price.
     */
    public static long feesMicros(ModelRow row, Usage usage) {
        long fees = row.requestFeeMicros();
        for (java.util.Map.Entry<String, Long> calls : usage.serverToolCalls().entrySet()) {
            ServerToolFee fee = row.serverToolFees().get(calls.getKey());
            if (fee != null) {
                fees = Usage.saturatedSum(fees, saturatedProduct(calls.getValue(), fee.microsPerCall()));
            }
        }
        for (java.util.Map.Entry<String, Long> units : usage.units().entrySet()) {
            Long price = row.unitPrices().get(units.getKey());
            if (price != null) {
                fees = Usage.saturatedSum(fees, saturatedProduct(units.getValue(), price));
            }
        }
        return fees;
    }

    private static long saturatedProduct(long a, long b) {
        long high = Math.multiplyHigh(a, b);
        long product = a * b;
        return high != 0 || product < 0 ? Long.MAX_VALUE : product; // both non-negative
    }

    /** The whole prompt a tier's threshold is measured against: plain input, cache reads and cache writes (saturating). */
    public static long promptTokens(Usage usage) {
        long sum = usage.inputTokens() + usage.cacheReadTokens();
        sum = sum < 0 ? Long.MAX_VALUE : sum + usage.cacheWriteTokens();
        return sum < 0 ? Long.MAX_VALUE : sum;
    }

    /** The cost of {@code tokens} at {@code microsPerMillionTokens}, rounded up like a request. */
    public static long costMicros(long tokens, long microsPerMillionTokens) {
        try {
            return ceilDiv(Math.multiplyExact(tokens, microsPerMillionTokens));
        } catch (ArithmeticException overflow) {
            return saturatedCeilDiv(BigInteger.valueOf(tokens).multiply(BigInteger.valueOf(microsPerMillionTokens)));
        }
    }

    /** The cost of {@code tokens} at {@code microsPerMillionTokens} billed at {@code percent}, rounded up like a request. */
    public static long costMicros(long tokens, long microsPerMillionTokens, int percent) {
        return costMicros(tokens, microsPerMillionTokens, percent, LIST_PRICE_BPS);
    }

    /** The cost of {@code tokens} at {@code microsPerMillionTokens} billed at {@code percent} and {@code multiplierBps}, rounded up like a request. */
    public static long costMicros(long tokens, long microsPerMillionTokens, int percent, int multiplierBps) {
        long scale = scale(percent, multiplierBps);
        if (scale == LIST_SCALE) {
            return costMicros(tokens, microsPerMillionTokens);
        }
        try {
            return Math.ceilDiv(Math.multiplyExact(Math.multiplyExact(tokens, microsPerMillionTokens), scale), SCALED_TOKENS_PER_PRICE_UNIT);
        } catch (ArithmeticException overflow) {
            return saturatedCeilDiv(BigInteger.valueOf(tokens).multiply(BigInteger.valueOf(microsPerMillionTokens)).multiply(BigInteger.valueOf(scale)),
                    SCALED_TOKENS_PER_PRICE_UNIT);
        }
    }

    /**
     * How many tokens {@code micros} buys at {@code microsPerMillionTokens} billed at {@code percent}, rounded down, so
     * their cost by {@link #costMicros(long, long, int)} never exceeds {@code micros}.
     */
    public static long tokensAffordable(long micros, long microsPerMillionTokens, int percent) {
        return tokensAffordable(micros, microsPerMillionTokens, percent, LIST_PRICE_BPS);
    }

    /** As {@link #tokensAffordable(long, long, int)} in a lane at {@code multiplierBps}: never more than {@link #costMicros(long, long, int, int)} allows. */
    public static long tokensAffordable(long micros, long microsPerMillionTokens, int percent, int multiplierBps) {
        long scale = scale(percent, multiplierBps);
        if (scale == LIST_SCALE || micros <= 0 || microsPerMillionTokens == 0) {
            return tokensAffordable(micros, microsPerMillionTokens);
        }
        // floor(micros * 1e12 / (price * scale)) = floor((LIST_SCALE * micros) * 1e6 / (price * scale)); prices, percentages
        // and multipliers are bounded by the configuration, so their product fits a long, and the money only rarely overflows.
        if (micros <= Long.MAX_VALUE / LIST_SCALE && microsPerMillionTokens <= Long.MAX_VALUE / scale) {
            return tokensAffordable(micros * LIST_SCALE, microsPerMillionTokens * scale);
        }
        BigInteger tokens = BigInteger.valueOf(micros).multiply(BigInteger.valueOf(SCALED_TOKENS_PER_PRICE_UNIT))
                .divide(BigInteger.valueOf(microsPerMillionTokens).multiply(BigInteger.valueOf(scale)));
        return tokens.bitLength() < Long.SIZE ? tokens.longValue() : Long.MAX_VALUE;
    }

    /** How many tokens {@code micros} buys at {@code microsPerMillionTokens}, rounded down (at most Long.MAX_VALUE); "unbounded" at price 0. */
    public static long tokensAffordable(long micros, long microsPerMillionTokens) {
        if (micros <= 0) {
            return 0;
        }
        if (microsPerMillionTokens == 0) {
            return Long.MAX_VALUE;
        }
        // floor(micros * 1e6 / price), split so the product cannot overflow:
        // micros = whole * price + rest, so the answer is whole * 1e6 + floor(rest * 1e6 / price).
        long whole = micros / microsPerMillionTokens;
        long rest = micros % microsPerMillionTokens;
        // rest < price, so rest * 1e6 overflows only for prices above ~9.2e12 (no catalog row is that dear).
        long fraction = rest <= Long.MAX_VALUE / TOKENS_PER_PRICE_UNIT
                ? rest * TOKENS_PER_PRICE_UNIT / microsPerMillionTokens
                : BigInteger.valueOf(rest).multiply(BigInteger.valueOf(TOKENS_PER_PRICE_UNIT))
                        .divide(BigInteger.valueOf(microsPerMillionTokens)).longValueExact();
        if (whole > (Long.MAX_VALUE - fraction) / TOKENS_PER_PRICE_UNIT) {
            return Long.MAX_VALUE;
        }
        return whole * TOKENS_PER_PRICE_UNIT + fraction;
    }

    private static long saturatedCeilDiv(BigInteger numerator) {
        return saturatedCeilDiv(numerator, TOKENS_PER_PRICE_UNIT);
    }

    private static long saturatedCeilDiv(BigInteger numerator, long divisor) {
        BigInteger[] quotientAndRest = numerator.divideAndRemainder(BigInteger.valueOf(divisor));
        BigInteger micros = quotientAndRest[1].signum() > 0 ? quotientAndRest[0].add(BigInteger.ONE) : quotientAndRest[0];
        return micros.bitLength() < Long.SIZE ? micros.longValue() : Long.MAX_VALUE;
    }

    private static long ceilDiv(long numerator) {
        return Math.ceilDiv(numerator, TOKENS_PER_PRICE_UNIT);
    }
}
