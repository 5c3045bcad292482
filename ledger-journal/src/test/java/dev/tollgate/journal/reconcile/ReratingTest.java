package dev.tollgate.journal.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.Durability;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.config.ModelRow;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.Ledger;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.CostRule;
import dev.tollgate.metering.Usage;
import java.net.URI;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.YearMonth;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Re-rating a journal whose debits name a provider that is priced by another provider's rows (pricesAs). */
class ReratingTest {
    private static final String KEY_HASH = "cd".repeat(32);

    @TempDir
    Path dir;

    @Test
    void aProviderThatPricesAsAnotherIsReratedByThatProvidersRowsAndReportedUnderItsOwnName() throws Exception {
        ModelRow mini = new ModelRow("openai", "gpt-4o-mini", Set.of(EndpointFamily.CHAT_COMPLETIONS), "o200k_base", 128_000, 16_384,
                150_000, 75_000, 150_000, 600_000, LocalDate.of(2026, 11, 1), URI.create("https://example.com/pricing"));
        PriceCatalog catalog = new PriceCatalog("USD", 1_000_000, List.of(mini));
        List<ProviderConfig> providers = List.of(
                new ProviderConfig("openai", Protocol.OPENAI, URI.create("https://api.openai.com/v1"), null, null, null),
                new ProviderConfig("openai-eu", Protocol.OPENAI, URI.create("https://eu.example/v1"), null, null, null, "openai", Map.of(), Map.of()));
        AtomicLong clock = new AtomicLong(Instant.parse("2026-11-02T00:00:00Z").toEpochMilli());
        try (Journal journal = Journal.open(dir, Durability.PAGE_CACHE, 0, clock::get)) {
            Ledger ledger = Ledger.recover(journal, null, 4, clock::get);
            ledger.openAccount("acme");
            ledger.credit("acme", 1_000_000, "opening");
            ledger.issueKey(KEY_HASH, "tg-cd", "ci", "acme");
            ApiKeys.ApiKey key = new ApiKeys.ApiKey(KEY_HASH, "ci", "acme", ledger.accounts().slotOf("acme"));
            Usage usage = new Usage(1_000, 0, 0, 333, 0);
            long cost = CostRule.costMicros(mini, usage); // ceil(150 + 199.8) = 350
            assertThat(cost).isEqualTo(350);
            String[] servedBy = {"openai-eu", "openai-eu", "openai"};
            for (int i = 0; i < servedBy.length; i++) {
                long admittedMs = clock.get();
                ledger.reserve(key, 1, 5_000, "r" + i).settle(cost, new RequestFacts("r" + i, "acme", KEY_HASH, "interactive", servedBy[i],
                        "gpt-4o-mini", "/v1/chat/completions", admittedMs, admittedMs, "", catalog.version(), mini.rowVersion(), ""), usage, true, "completed");
                clock.addAndGet(60_000);
            }

            assertThat(Rerating.rerate(journal, catalog, ProviderConfig.catalogProviders(providers), 0, Long.MAX_VALUE)).containsExactly(
                    new Rerating.Row("openai", "gpt-4o-mini", 1, 350, 350, 0),
                    new Rerating.Row("openai-eu", "gpt-4o-mini", 2, 700, 700, 0));
            assertThat(Rerating.rerate(journal, catalog, 0, Long.MAX_VALUE)).as("without the configuration's pricesAs, openai-eu has no rows")
                    .contains(new Rerating.Row("openai-eu", "gpt-4o-mini", 2, 700, 0, 2));

            // Statements and usage keep the serving provider's name, which is what the operator configured and sees.
            Statement november = Reconciliation.load(journal, dir.resolve("snapshots")).statement("acme", YearMonth.of(2026, 11));
            assertThat(november.debits()).extracting(Statement.DebitLine::provider).containsExactly("openai", "openai-eu");
        }
    }
}
