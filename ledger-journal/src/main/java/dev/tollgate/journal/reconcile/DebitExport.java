package dev.tollgate.journal.reconcile;

import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.JournalEvent.Settled;
import dev.tollgate.metering.Usage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * Every debit (settlement) whose record timestamp falls in [fromMs, toMs), as CSV, in journal order,
 * read from the journal: one line per request, so finance can join it against anything. The sum of
 * {@code debited_micros} over a month is that month's debits on the statements, account by account.
 * Key hashes are shortened to {@value #KEY_PREFIX_LENGTH} hex digits, with the key's label when known.
 * {@code catalog_version} is the price catalog the request was admitted with (empty for debits journaled before it was kept),
 * last so that the columns before it keep their places.
 */
public final class DebitExport {
    public static final String HEADER = "settled_at,journal_index,request_id,account,key,key_label,lane,provider,model,endpoint,started_at,"
            + "ended_at,upstream_request_id,input_tokens,cache_read_tokens,cache_write_tokens,output_tokens,reasoning_tokens,"
            + "usage_reported_by_provider,cost_micros,debited_micros,written_off_micros,reason,catalog_version,price_multiplier_bps";
    public static final int KEY_PREFIX_LENGTH = 12;

    private DebitExport() {
    }

    /**
     * Writes the header and one line per debit to {@code out}, and returns how many debits it wrote.
     *
     * @param keyLabels labels by key hash (from the replayed ledger), or an empty map
     */
    public static long write(Journal journal, long fromMs, long toMs, Map<String, String> keyLabels, Appendable out) {
        long[] written = {0};
        try {
            out.append(HEADER).append('\n');
            StringBuilder line = new StringBuilder(400);
            journal.readAfter(-1, (index, event) -> {
                if (event instanceof Settled settled && settled.timestampMs() >= fromMs && settled.timestampMs() < toMs) {
                    line.setLength(0);
                    format(index, settled, keyLabels, line);
                    try {
                        out.append(line);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    written[0]++;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return written[0];
    }

    private static void format(long index, Settled settled, Map<String, String> keyLabels, StringBuilder line) {
        RequestFacts facts = settled.request();
        Usage usage = settled.usage();
        line.append(Statement.iso(settled.timestampMs())).append(',')
                .append(Long.toHexString(index)).append(',')
                .append(Csv.field(facts.requestId())).append(',')
                .append(Csv.field(facts.accountId())).append(',')
                .append(facts.keyHash(), 0, KEY_PREFIX_LENGTH).append(',')
                .append(Csv.field(keyLabels.getOrDefault(facts.keyHash(), ""))).append(',')
                .append(Csv.field(facts.lane())).append(',')
                .append(Csv.field(facts.provider())).append(',')
                .append(Csv.field(facts.model())).append(',')
                .append(Csv.field(facts.endpoint())).append(',')
                .append(Statement.iso(facts.startMs())).append(',')
                .append(Statement.iso(facts.endMs())).append(',')
                .append(Csv.field(facts.upstreamRequestId())).append(',')
                .append(usage.inputTokens()).append(',')
                .append(usage.cacheReadTokens()).append(',')
                .append(usage.cacheWriteTokens()).append(',')
                .append(usage.outputTokens()).append(',')
                .append(usage.reasoningTokens()).append(',')
                .append(settled.usageReportedByProvider()).append(',')
                .append(settled.costMicros()).append(',')
                .append(settled.debitedMicros()).append(',')
                .append(settled.writtenOffMicros()).append(',')
                .append(Csv.field(settled.reason())).append(',')
                .append(facts.catalogVersion()).append(',')
                .append(facts.priceMultiplierBps()).append('\n');
    }
}
