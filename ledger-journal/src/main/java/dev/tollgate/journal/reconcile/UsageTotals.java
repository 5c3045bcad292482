package dev.tollgate.journal.reconcile;

/**
 * What a group of requests used and cost. {@code requests} counts settled requests (each a debit,
 * possibly of zero), {@code released} those that ended with nothing charged. Token counts are the
 * settled requests' {@link dev.tollgate.metering.Usage} kinds; {@code reasoningTokens} is already
 * inside {@code outputTokens}. {@code debitedMicros} is what left the balance; {@code writtenOffMicros}
 * is cost beyond the reservation that the balance could not cover (never debited). {@code directMicros} is the cost at
 * catalog prices of requests the provider billed the account directly ({@code billed_by: provider}): spend that never
 * touched the prepaid balance (their platform fees are in {@code debitedMicros}).
 */
public record UsageTotals(long requests, long released, long inputTokens, long cacheReadTokens, long cacheWriteTokens, long outputTokens,
                          long reasoningTokens, long debitedMicros, long writtenOffMicros, long directMicros) {
    public static final UsageTotals ZERO = new UsageTotals(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    /** Totals with no direct spend. */
    public UsageTotals(long requests, long released, long inputTokens, long cacheReadTokens, long cacheWriteTokens, long outputTokens,
                       long reasoningTokens, long debitedMicros, long writtenOffMicros) {
        this(requests, released, inputTokens, cacheReadTokens, cacheWriteTokens, outputTokens, reasoningTokens, debitedMicros, writtenOffMicros, 0);
    }

    public UsageTotals plus(UsageTotals other) {
        return new UsageTotals(
                Math.addExact(requests, other.requests),
                Math.addExact(released, other.released),
                Math.addExact(inputTokens, other.inputTokens),
                Math.addExact(cacheReadTokens, other.cacheReadTokens),
                Math.addExact(cacheWriteTokens, other.cacheWriteTokens),
                Math.addExact(outputTokens, other.outputTokens),
                Math.addExact(reasoningTokens, other.reasoningTokens),
                Math.addExact(debitedMicros, other.debitedMicros),
                Math.addExact(writtenOffMicros, other.writtenOffMicros),
                Math.addExact(directMicros, other.directMicros));
    }

    /** The same without the released count: a statement's debit lines are about what was charged. */
    public UsageTotals settledOnly() {
        return new UsageTotals(requests, 0, inputTokens, cacheReadTokens, cacheWriteTokens, outputTokens, reasoningTokens, debitedMicros,
                writtenOffMicros, directMicros);
    }

    /** Debited plus written off: what the prepaid balance was charged (platform fees included), at catalog prices. */
    public long costMicros() {
        return debitedMicros + writtenOffMicros;
    }

    /** The whole spend across both billing paths: what the balance was charged and what the provider billed directly. */
    public long totalSpendMicros() {
        return debitedMicros + writtenOffMicros + directMicros;
    }
}
