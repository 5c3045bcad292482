package dev.tollgate.metering;

import dev.tollgate.config.ModelRow;
import java.math.BigInteger;

/**
 * The one rounding rule for money: a request's exact cost is the rational number
 * {@code (input * inputPrice + cacheRead * cacheReadPrice + cacheWrite * cacheWritePrice + output * outputPrice) / 1,000,000}
 * micro-units (prices are per million tokens), and it is rounded <b>up</b> to a whole micro-unit,
 * once per request. Rounding once, after summing, means no kind of token is rounded on its own;
 * rounding up means the rounding never favours the account over the provider's bill by more than
 * one micro-unit per request. Integer arithmetic throughout: a cost beyond {@code Long.MAX_VALUE}
 * micro-units saturates there instead of throwing, so an absurd count can never stop a request from
 * getting its outcome (the settlement then debits what the balance holds and writes off the rest).
 */
public final class CostRule {
    public static final long TOKENS_PER_PRICE_UNIT = 1_000_000L;

    private CostRule() {
    }

    public static long costMicros(ModelRow row, Usage usage) {
        try {
            return exactCostMicros(row, usage);
        } catch (ArithmeticException overflow) {
            BigInteger numerator = BigInteger.valueOf(usage.inputTokens()).multiply(BigInteger.valueOf(row.inputMicrosPerMillionTokens()))
                    .add(BigInteger.valueOf(usage.cacheReadTokens()).multiply(BigInteger.valueOf(row.cacheReadMicrosPerMillionTokens())))
                    .add(BigInteger.valueOf(usage.cacheWriteTokens()).multiply(BigInteger.valueOf(row.cacheWriteMicrosPerMillionTokens())))
                    .add(BigInteger.valueOf(usage.outputTokens()).multiply(BigInteger.valueOf(row.outputMicrosPerMillionTokens())));
            return saturatedCeilDiv(numerator);
        }
    }

    private static long exactCostMicros(ModelRow row, Usage usage) {
        long numerator = Math.addExact(
                Math.addExact(Math.multiplyExact(usage.inputTokens(), row.inputMicrosPerMillionTokens()),
                        Math.multiplyExact(usage.cacheReadTokens(), row.cacheReadMicrosPerMillionTokens())),
                Math.addExact(Math.multiplyExact(usage.cacheWriteTokens(), row.cacheWriteMicrosPerMillionTokens()),
                        Math.multiplyExact(usage.outputTokens(), row.outputMicrosPerMillionTokens())));
        return ceilDiv(numerator);
    }

    /** The cost of {@code tokens} at {@code microsPerMillionTokens}, rounded up like a request. */
    public static long costMicros(long tokens, long microsPerMillionTokens) {
        try {
            return ceilDiv(Math.multiplyExact(tokens, microsPerMillionTokens));
        } catch (ArithmeticException overflow) {
            return saturatedCeilDiv(BigInteger.valueOf(tokens).multiply(BigInteger.valueOf(microsPerMillionTokens)));
        }
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
        BigInteger[] quotientAndRest = numerator.divideAndRemainder(BigInteger.valueOf(TOKENS_PER_PRICE_UNIT));
        BigInteger micros = quotientAndRest[1].signum() > 0 ? quotientAndRest[0].add(BigInteger.ONE) : quotientAndRest[0];
        return micros.bitLength() < Long.SIZE ? micros.longValue() : Long.MAX_VALUE;
    }

    private static long ceilDiv(long numerator) {
        return Math.ceilDiv(numerator, TOKENS_PER_PRICE_UNIT);
    }
}
