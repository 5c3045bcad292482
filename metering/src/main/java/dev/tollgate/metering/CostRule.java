package dev.tollgate.metering;

import dev.tollgate.config.ModelRow;
import java.math.BigInteger;

/**
 * The one rounding rule for money: a request's exact cost is the rational number
 * {@code (input * inputPrice + cacheRead * cacheReadPrice + cacheWrite * cacheWritePrice + output * outputPrice) / 1,000,000}
 * micro-units (prices are per million tokens), and it is rounded <b>up</b> to a whole micro-unit,
 * once per request. Rounding once, after summing, means no kind of token is rounded on its own;
 * rounding up means the rounding never favours the account over the provider's bill by more than
 * one micro-unit per request. Integer arithmetic throughout, overflow-checked.
 */
public final class CostRule {
    public static final long TOKENS_PER_PRICE_UNIT = 1_000_000L;

    private CostRule() {
    }

    public static long costMicros(ModelRow row, Usage usage) {
        long numerator = Math.addExact(
                Math.addExact(Math.multiplyExact(usage.inputTokens(), row.inputMicrosPerMillionTokens()),
                        Math.multiplyExact(usage.cacheReadTokens(), row.cacheReadMicrosPerMillionTokens())),
                Math.addExact(Math.multiplyExact(usage.cacheWriteTokens(), row.cacheWriteMicrosPerMillionTokens()),
                        Math.multiplyExact(usage.outputTokens(), row.outputMicrosPerMillionTokens())));
        return ceilDiv(numerator);
    }

    /** The cost of {@code tokens} at {@code microsPerMillionTokens}, rounded up like a request. */
    public static long costMicros(long tokens, long microsPerMillionTokens) {
        return ceilDiv(Math.multiplyExact(tokens, microsPerMillionTokens));
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

    private static long ceilDiv(long numerator) {
        return Math.ceilDiv(numerator, TOKENS_PER_PRICE_UNIT);
    }
}
