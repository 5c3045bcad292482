package dev.tollgate.journal.reconcile;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.List;

/**
 * One account's monthly statement (UTC months), in integer micro-units. The balance is
 * {@code credited - debited} (what is available plus what is reserved for requests in flight);
 * reservations and releases do not move it. By construction and by test:
 *
 * <pre>
 *   opening + sum(credits) + sum(adjustments) - sum(debits) == closing
 * </pre>
 *
 * and {@code closing - opening} is exactly the balance movement the journal records in the month.
 * A debit line is one model row (provider + model) at one of its price sets ({@code rowVersion}, the
 * row's effectiveFrom; empty for an undated row), in one lane at one price multiplier (basis points of the list
 * price the lane's tokens were billed at: 5000 is half price): its requests, each token kind, what was debited
 * ({@code cost}) and what was written off (cost the balance could not cover, not charged). A month
 * spanning a price change (a promotion ending mid-month) has a line for each period.
 *
 * <p>A line billed by the provider ({@code direct}, {@code billed_by: provider}: a direct route on the account's own
 * provider credentials) debits only its platform fees from the balance; the provider's cost at catalog prices is its
 * {@code direct_cost_micros}, outside the balance equation. So finance sees both paths' spend in one place:
 * {@code total_spend_micros = total_debits_micros + total_written_off_micros + total_direct_micros}.
 *
 * @param throughMs the timestamp of the newest journal record the statement's source had applied: a
 *                  statement of the current month is complete up to that moment
 */
public record Statement(String accountId, YearMonth month, long openingBalanceMicros, List<CreditLine> credits,
                        List<AdjustmentLine> adjustments, List<DebitLine> debits, long closingBalanceMicros, long throughMs) {

    /** A top-up or opening credit, with the idempotency key it was applied under as its reference. */
    public record CreditLine(long timestampMs, long amountMicros, String reference) {
    }

    /** An operator's correction (positive or negative), with its reason. */
    public record AdjustmentLine(long timestampMs, long amountMicros, String reason, String reference) {
    }

    /** The month's settled requests of one model row at one price set in one lane and multiplier; {@code totals.debitedMicros()} is the debit. */
    public record DebitLine(String provider, String model, String rowVersion, String lane, int priceMultiplierBps, boolean direct,
                            UsageTotals totals) {
        /** A line billed by Tollgate on the prepaid balance. */
        public DebitLine(String provider, String model, String rowVersion, String lane, int priceMultiplierBps, UsageTotals totals) {
            this(provider, model, rowVersion, lane, priceMultiplierBps, false, totals);
        }

        /** A line of the lane every request was in before lanes were declared, at the list price. */
        public DebitLine(String provider, String model, String rowVersion, UsageTotals totals) {
            this(provider, model, rowVersion, dev.tollgate.journal.Ledger.DEFAULT_LANE, dev.tollgate.journal.JournalEvent.RequestFacts.NO_MULTIPLIER_BPS,
                    totals);
        }

        /** A line of an undated row, in that lane. */
        public DebitLine(String provider, String model, UsageTotals totals) {
            this(provider, model, "", totals);
        }

        public long costMicros() {
            return totals.debitedMicros();
        }

        /** Who was paid for the provider's tokens: {@code tollgate} or {@code provider}. */
        public String billedBy() {
            return direct ? "provider" : "tollgate";
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    static final String CSV_HEADER = "section,time,description,reference,provider,model,requests,input_tokens,cache_read_tokens,"
            + "cache_write_tokens,output_tokens,reasoning_tokens,written_off_micros,amount_micros,row_version,lane,price_multiplier_bps,billed_by,"
            + "direct_cost_micros";

    public Statement {
        credits = List.copyOf(credits);
        adjustments = List.copyOf(adjustments);
        debits = List.copyOf(debits);
    }

    public long periodStartMs() {
        return month.atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
    }

    public long periodEndMs() {
        return month.plusMonths(1).atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
    }

    public long totalCreditsMicros() {
        return credits.stream().mapToLong(CreditLine::amountMicros).reduce(0, Math::addExact);
    }

    public long totalAdjustmentsMicros() {
        return adjustments.stream().mapToLong(AdjustmentLine::amountMicros).reduce(0, Math::addExact);
    }

    public long totalDebitsMicros() {
        return debits.stream().mapToLong(DebitLine::costMicros).reduce(0, Math::addExact);
    }

    public long totalWrittenOffMicros() {
        return debits.stream().mapToLong(line -> line.totals().writtenOffMicros()).reduce(0, Math::addExact);
    }

    /** What the provider billed the account directly for its direct lines, at catalog prices: outside the balance. */
    public long totalDirectMicros() {
        return debits.stream().mapToLong(line -> line.totals().directMicros()).reduce(0, Math::addExact);
    }

    /** The month's whole spend across both billing paths: charged to the balance (fees included), written off, and billed directly. */
    public long totalSpendMicros() {
        return Math.addExact(Math.addExact(totalDebitsMicros(), totalWrittenOffMicros()), totalDirectMicros());
    }

    /** The statement as JSON (amounts in micro-units; debits as positive amounts). */
    public String toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("object", "tollgate.statement");
        root.put("account", accountId);
        root.put("month", month.toString());
        root.put("period_start", iso(periodStartMs()));
        root.put("period_end", iso(periodEndMs()));
        root.put("through", throughMs < 0 ? null : iso(throughMs));
        root.put("opening_balance_micros", openingBalanceMicros);
        ArrayNode creditArray = root.putArray("credits");
        for (CreditLine credit : credits) {
            creditArray.addObject().put("time", iso(credit.timestampMs())).put("amount_micros", credit.amountMicros())
                    .put("reference", credit.reference());
        }
        ArrayNode adjustmentArray = root.putArray("adjustments");
        for (AdjustmentLine adjustment : adjustments) {
            adjustmentArray.addObject().put("time", iso(adjustment.timestampMs())).put("amount_micros", adjustment.amountMicros())
                    .put("reason", adjustment.reason()).put("reference", adjustment.reference());
        }
        ArrayNode debitArray = root.putArray("debits");
        for (DebitLine debit : debits) {
            UsageTotals totals = debit.totals();
            debitArray.addObject().put("provider", debit.provider()).put("model", debit.model()).put("row_version", debit.rowVersion())
                    .put("lane", debit.lane()).put("price_multiplier_bps", debit.priceMultiplierBps())
                    .put("requests", totals.requests())
                    .put("input_tokens", totals.inputTokens()).put("cache_read_tokens", totals.cacheReadTokens())
                    .put("cache_write_tokens", totals.cacheWriteTokens()).put("output_tokens", totals.outputTokens())
                    .put("reasoning_tokens", totals.reasoningTokens()).put("cost_micros", debit.costMicros())
                    .put("written_off_micros", totals.writtenOffMicros())
                    .put("billed_by", debit.billedBy()).put("direct_cost_micros", totals.directMicros());
        }
        root.put("total_credits_micros", totalCreditsMicros());
        root.put("total_adjustments_micros", totalAdjustmentsMicros());
        root.put("total_debits_micros", totalDebitsMicros());
        root.put("total_written_off_micros", totalWrittenOffMicros());
        root.put("total_direct_micros", totalDirectMicros());
        root.put("total_spend_micros", totalSpendMicros());
        root.put("closing_balance_micros", closingBalanceMicros);
        try {
            return JSON.writeValueAsString(root) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e); // a tree of strings and numbers always serializes
        }
    }

    /**
     * The statement as CSV, one line per item, with signed amounts: the opening line carries the
     * opening balance, credits and adjustments their amounts, each debit line minus its cost, and the
     * closing line the closing balance, so the amounts of all lines between opening and closing add
     * up to {@code closing - opening}.
     */
    public String toCsv() {
        StringBuilder csv = new StringBuilder(256 + 160 * (credits.size() + adjustments.size() + debits.size()));
        csv.append(CSV_HEADER).append('\n');
        line(csv, "opening", iso(periodStartMs()), "opening balance", "", "", "", "", null, 0, openingBalanceMicros, null);
        for (CreditLine credit : credits) {
            line(csv, "credit", iso(credit.timestampMs()), "credit", credit.reference(), "", "", "", null, 0, credit.amountMicros(), null);
        }
        for (AdjustmentLine adjustment : adjustments) {
            line(csv, "adjustment", iso(adjustment.timestampMs()), adjustment.reason(), adjustment.reference(), "", "", "", null, 0,
                    adjustment.amountMicros(), null);
        }
        for (DebitLine debit : debits) {
            boolean discounted = debit.priceMultiplierBps() != dev.tollgate.journal.JournalEvent.RequestFacts.NO_MULTIPLIER_BPS;
            line(csv, "debit", "", "usage " + debit.provider() + "/" + debit.model() + (debit.rowVersion().isEmpty() ? "" : " from " + debit.rowVersion())
                            + " in lane " + debit.lane() + (discounted ? " at " + debit.priceMultiplierBps() + " bps" : "")
                            + (debit.direct() ? ", billed by the provider (platform fee)" : ""),
                    "", debit.provider(), debit.model(), debit.rowVersion(), debit.totals(), debit.totals().writtenOffMicros(), -debit.costMicros(), debit);
        }
        line(csv, "closing", iso(periodEndMs()), "closing balance", "", "", "", "", null, 0, closingBalanceMicros, null);
        return csv.toString();
    }

    private static void line(StringBuilder csv, String section, String time, String description, String reference, String provider, String model,
                             String rowVersion, UsageTotals totals, long writtenOffMicros, long amountMicros, DebitLine debit) {
        csv.append(section).append(',').append(time).append(',').append(Csv.field(description)).append(',').append(Csv.field(reference))
                .append(',').append(Csv.field(provider)).append(',').append(Csv.field(model)).append(',');
        if (totals != null) {
            csv.append(totals.requests()).append(',').append(totals.inputTokens()).append(',').append(totals.cacheReadTokens()).append(',')
                    .append(totals.cacheWriteTokens()).append(',').append(totals.outputTokens()).append(',').append(totals.reasoningTokens());
        } else {
            csv.append(",,,,,");
        }
        // row_version, then lane and price_multiplier_bps, last, so the columns before them keep the places they had before.
        csv.append(',').append(totals != null ? Long.toString(writtenOffMicros) : "").append(',').append(amountMicros).append(',')
                .append(Csv.field(rowVersion)).append(',').append(debit == null ? "" : Csv.field(debit.lane())).append(',')
                .append(debit == null ? "" : Integer.toString(debit.priceMultiplierBps())).append(',')
                .append(debit == null ? "" : debit.billedBy()).append(',')
                .append(debit == null ? "" : Long.toString(debit.totals().directMicros())).append('\n');
    }

    static String iso(long timestampMs) {
        return Instant.ofEpochMilli(timestampMs).toString();
    }
}
