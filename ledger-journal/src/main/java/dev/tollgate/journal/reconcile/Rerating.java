package dev.tollgate.journal.reconcile;

import dev.tollgate.config.ModelRow;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent.Settled;
import dev.tollgate.metering.CostRule;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the journal's settled requests would have cost under another price catalog: a what-if review of a catalog
 * change, or an audit that a catalog reproduces the debits it priced. Read-only: a report, never a change of money.
 * Each request is priced by the other catalog's row for its (provider, model) in force when it was admitted (its
 * price set by effective period, then its time windows) with the usage the journal billed, under the one rounding
 * rule; a request whose model the other catalog has no row in force for then is counted as unpriced. Requests are taken by when they settled, in {@code [fromMs, toMs)}.
 *
 * <p>The journal names the provider that served a request; one configured with {@code pricesAs} is priced by the rows
 * of the provider it names, so the row is looked up under that name ({@code catalogProviders}) while the report keeps
 * the serving provider's.
 */
public final class Rerating {
    /** One (provider, model): its settled requests, what they were billed and what they would cost. */
    public record Row(String provider, String model, long requests, long billedMicros, long reratedMicros, long unpriced) {
        public long differenceMicros() {
            return reratedMicros - billedMicros;
        }
    }

    private Rerating() {
    }

    /** Every journaled provider priced by the rows of its own name. */
    public static List<Row> rerate(Journal journal, PriceCatalog catalog, long fromMs, long toMs) {
        return rerate(journal, catalog, Map.of(), fromMs, toMs);
    }

    /**
     * @param catalogProviders a journaled provider's name to the provider name of the catalog rows that price it
     *                         ({@code ProviderConfig.catalogProviders}); a name not in it is priced by its own rows
     */
    public static List<Row> rerate(Journal journal, PriceCatalog catalog, Map<String, String> catalogProviders, long fromMs, long toMs) {
        Map<String, long[]> totals = new LinkedHashMap<>();
        Map<String, String[]> names = new LinkedHashMap<>();
        journal.readAfter(-1, (index, event) -> {
            if (!(event instanceof Settled settled) || settled.timestampMs() < fromMs || settled.timestampMs() >= toMs) {
                return;
            }
            String provider = settled.request().provider();
            String model = settled.request().model();
            String key = provider + '\u0000' + model;
            names.putIfAbsent(key, new String[] {provider, model});
            long[] row = totals.computeIfAbsent(key, k -> new long[4]);
            row[0]++;
            // A direct request's debit is its platform fee; what the catalog priced is the cost the provider billed.
            row[1] += settled.request().direct() ? settled.request().directCostMicros() : settled.costMicros();
            long admittedMs = settled.request().startMs();
            ModelRow priced = catalog.find(catalogProviders.getOrDefault(provider, provider), model, admittedMs);
            if (priced == null) {
                row[3]++;
            } else {
                // The served tier is in the journal since layout 3, the lane's multiplier since 4; an older debit reads as
                // neither, so at the row's prices.
                row[2] += CostRule.costMicros(priced.pricedAt(admittedMs), settled.usage(),
                        priced.servicePercent(settled.request().serviceTier()), settled.request().priceMultiplierBps());
            }
        });
        List<Row> rows = new ArrayList<>();
        totals.forEach((key, t) -> rows.add(new Row(names.get(key)[0], names.get(key)[1], t[0], t[1], t[2], t[3])));
        rows.sort(Comparator.comparing(Row::provider).thenComparing(Row::model));
        return rows;
    }
}
