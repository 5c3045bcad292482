package dev.tollgate.journal.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.Ledger;
import dev.tollgate.journal.LedgerReservation;
import dev.tollgate.journal.LedgerState;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.Usage;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Instant;
import java.time.YearMonth;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StatementTest {
    private static final String KEY_HASH = "ab".repeat(32);

    @TempDir
    Path dir;

    @Test
    void aSmallHistoryGivesTheStatementWorkedOutByHand() throws Exception {
        AtomicLong clock = new AtomicLong(Instant.parse("2026-10-31T23:00:00Z").toEpochMilli());
        try (Journal journal = Journal.open(dir, Durability.PAGE_CACHE, 0, clock::get)) {
            Ledger ledger = Ledger.recover(journal, null, 4, clock::get);
            ApiKeys.ApiKey key = openAcme(ledger);
            LedgerReservation october = ledger.reserve(key, 1, 5_000, "r1");
            clock.set(Instant.parse("2026-10-31T23:59:59.999Z").toEpochMilli());
            october.settle(300, facts("r1", "gpt-4o-mini", "openai"), new Usage(100, 20, 0, 50, 10), true, "completed");
            // Reserved in October, settled in November: the debit belongs to November, when it was recorded.
            LedgerReservation straddling = ledger.reserve(key, 1, 5_000, "r2");
            clock.set(Instant.parse("2026-11-01T00:00:00Z").toEpochMilli());
            straddling.settle(1_200, facts("r2", "gpt-4o-mini", "openai"), new Usage(400, 0, 0, 200, 0), true, "completed");
            LedgerReservation released = ledger.reserve(key, 1, 5_000, "r3");
            released.release(facts("r3", "claude-haiku-4-5", "anthropic"), "upstream_status_500");
            ledger.credit("acme", 250_000, "topup-nov");
            ledger.credit("acme", 999, "topup-nov"); // retried: applies nothing
            ledger.adjust("acme", -20_000, "refund, \"T-1\"", "adj-1");
            LedgerReservation claude = ledger.reserve(key, 1, 100, "r4");
            claude.settle(7_000, facts("r4", "claude-haiku-4-5", "anthropic"), new Usage(10, 0, 30, 700, 0), false, "client_disconnected");
            clock.set(Instant.parse("2026-12-01T00:00:00Z").toEpochMilli());
            ledger.adjust("acme", 5, "rounding", "adj-2");

            Reconciliation reconciliation = Reconciliation.load(journal, dir.resolve("snapshots"));
            Statement october31 = reconciliation.statement("acme", YearMonth.of(2026, 10));
            assertThat(october31.openingBalanceMicros()).isZero();
            assertThat(october31.credits()).containsExactly(new Statement.CreditLine(Instant.parse("2026-10-31T23:00:00Z").toEpochMilli(), 1_000_000, "opening"));
            assertThat(october31.debits()).containsExactly(new Statement.DebitLine("openai", "gpt-4o-mini", new UsageTotals(1, 0, 100, 20, 0, 50, 10, 300, 0)));
            assertThat(october31.closingBalanceMicros()).isEqualTo(999_700);

            Statement november = reconciliation.statement("acme", YearMonth.of(2026, 11));
            assertThat(november.openingBalanceMicros()).isEqualTo(999_700);
            assertThat(november.credits()).extracting(Statement.CreditLine::amountMicros).containsExactly(250_000L);
            assertThat(november.adjustments()).extracting(Statement.AdjustmentLine::amountMicros, Statement.AdjustmentLine::reason)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple(-20_000L, "refund, \"T-1\""));
            // The Claude request cost 7,000 with 100 reserved and plenty available: all debited, nothing written off.
            assertThat(november.debits()).containsExactly(
                    new Statement.DebitLine("anthropic", "claude-haiku-4-5", new UsageTotals(1, 0, 10, 0, 30, 700, 0, 7_000, 0)),
                    new Statement.DebitLine("openai", "gpt-4o-mini", new UsageTotals(1, 0, 400, 0, 0, 200, 0, 1_200, 0)));
            assertThat(november.closingBalanceMicros()).isEqualTo(999_700 + 250_000 - 20_000 - 7_000 - 1_200);
            StatementChecks.assertJsonAndCsvAgree(november);

            Statement december = reconciliation.statement("acme", YearMonth.of(2026, 12));
            assertThat(december.openingBalanceMicros()).isEqualTo(november.closingBalanceMicros());
            assertThat(december.closingBalanceMicros()).isEqualTo(november.closingBalanceMicros() + 5);
            LedgerState.Account account = reconciliation.ledger().account("acme");
            assertThat(december.closingBalanceMicros()).isEqualTo(account.creditedMicros() - account.debitedMicros());
            assertThat(reconciliation.statement("nobody", YearMonth.of(2026, 11))).isNull();
        }
    }

    /**
     * gpt-4o-mini with its output at half price ($0.30) until 2026-11-15 12:00 UTC, then at its list price ($0.60): a
     * November statement shows the promotion's requests and the list-price ones as two lines, each at its own prices,
     * and a re-rating under the same catalog reproduces every debit.
     */
    @Test
    void aPromotionEndingMidMonthGivesALinePerPriceSetEachAtItsOwnPrices() throws Exception {
        Instant promotionEnd = Instant.parse("2026-11-15T12:00:00Z");
        dev.tollgate.config.ModelRow list = new dev.tollgate.config.ModelRow("openai", "gpt-4o-mini",
                java.util.Set.of(dev.tollgate.config.EndpointFamily.CHAT_COMPLETIONS), "o200k_base", 128_000, 16_384, 150_000, 75_000, 150_000, 600_000,
                java.time.LocalDate.of(2026, 11, 1), java.net.URI.create("https://example.com/pricing"));
        dev.tollgate.config.ModelRow promotion = new dev.tollgate.config.ModelRow("openai", "gpt-4o-mini", list.endpoints(), "o200k_base", 128_000, 16_384,
                150_000, 75_000, 150_000, 300_000, list.asOf(), list.source()).withEffectivePeriod(null, promotionEnd);
        dev.tollgate.config.PriceCatalog catalog = new dev.tollgate.config.PriceCatalog("USD", 1_000_000,
                List.of(promotion, list.withEffectivePeriod(promotionEnd, null)));
        Usage usage = new Usage(1_000, 0, 0, 333, 0);
        AtomicLong clock = new AtomicLong(Instant.parse("2026-11-01T00:00:00Z").toEpochMilli());
        try (Journal journal = Journal.open(dir, Durability.PAGE_CACHE, 0, clock::get)) {
            Ledger ledger = Ledger.recover(journal, null, 4, clock::get);
            ApiKeys.ApiKey key = openAcme(ledger);
            long[] admittedMs = {Instant.parse("2026-11-03T10:00:00Z").toEpochMilli(), promotionEnd.toEpochMilli() - 1,
                    promotionEnd.toEpochMilli(), Instant.parse("2026-11-29T23:00:00Z").toEpochMilli()};
            for (int i = 0; i < admittedMs.length; i++) {
                clock.set(admittedMs[i]);
                dev.tollgate.config.ModelRow priced = catalog.find("openai", "gpt-4o-mini", admittedMs[i]);
                LedgerReservation reservation = ledger.reserve(key, 1, 5_000, "r" + i);
                reservation.settle(dev.tollgate.metering.CostRule.costMicros(priced, usage), new RequestFacts("r" + i, "acme", KEY_HASH, "interactive",
                        "openai", "gpt-4o-mini", "/v1/chat/completions", admittedMs[i], admittedMs[i], "", catalog.version(), priced.rowVersion(), ""),
                        usage, true, "completed");
            }
            Statement november = Reconciliation.load(journal, dir.resolve("snapshots")).statement("acme", YearMonth.of(2026, 11));
            // By hand: 1,000 input at $0.15 is 150,000,000 micro-micros; 333 output at $0.30 is 99,900,000 and at $0.60
            // 199,800,000; each request rounds up once: ceil(249.9) = 250 in the promotion, ceil(349.8) = 350 after it.
            assertThat(november.debits()).containsExactly(
                    new Statement.DebitLine("openai", "gpt-4o-mini", "", new UsageTotals(2, 0, 2_000, 0, 0, 666, 0, 500, 0)),
                    new Statement.DebitLine("openai", "gpt-4o-mini", "2026-11-15T12:00:00Z", new UsageTotals(2, 0, 2_000, 0, 0, 666, 0, 700, 0)));
            assertThat(november.toJson()).contains("\"row_version\" : \"2026-11-15T12:00:00Z\"");
            assertThat(november.toCsv()).contains("usage openai/gpt-4o-mini from 2026-11-15T12:00:00Z");
            StatementChecks.assertJsonAndCsvAgree(november);
            assertThat(Rerating.rerate(journal, catalog, 0, Long.MAX_VALUE)).containsExactly(new Rerating.Row("openai", "gpt-4o-mini", 4, 1_200, 1_200, 0));
        }
    }

    /**
     * The same requests in the interactive lane at the list price and in a batch lane at 5000 bps: a line per lane, the
     * batch line's debit half the other's to the micro (the usage costs an even number of micros), the multiplier on the
     * JSON and CSV forms and in the usage by lane, kept through a snapshot, and a re-rating pricing each debit as it was.
     */
    @Test
    void aBatchLaneAtHalfPriceIsALineOfItsOwnShowingItsMultiplier() throws Exception {
        dev.tollgate.config.ModelRow mini = new dev.tollgate.config.ModelRow("openai", "gpt-4o-mini",
                java.util.Set.of(dev.tollgate.config.EndpointFamily.CHAT_COMPLETIONS), "o200k_base", 128_000, 16_384, 150_000, 75_000, 150_000, 600_000,
                java.time.LocalDate.of(2026, 11, 1), java.net.URI.create("https://example.com/pricing"));
        dev.tollgate.config.PriceCatalog catalog = new dev.tollgate.config.PriceCatalog("USD", 1_000_000, List.of(mini));
        Usage usage = new Usage(1_000, 0, 0, 500, 0); // 150 + 300 = 450 micros at the list price
        AtomicLong clock = new AtomicLong(Instant.parse("2026-11-02T00:00:00Z").toEpochMilli());
        try (Journal journal = Journal.open(dir, Durability.PAGE_CACHE, 0, clock::get)) {
            Ledger ledger = Ledger.recover(journal, null, 4, clock::get);
            ApiKeys.ApiKey key = openAcme(ledger);
            for (int i = 0; i < 4; i++) {
                boolean batch = i % 2 == 1;
                int bps = batch ? 5_000 : RequestFacts.NO_MULTIPLIER_BPS;
                long cost = dev.tollgate.metering.CostRule.costMicros(mini, usage, 100, bps);
                ledger.reserve(key, 1, 5_000, "r" + i).settle(cost, new RequestFacts("r" + i, "acme", KEY_HASH, batch ? "batch" : "interactive",
                        "openai", "gpt-4o-mini", "/v1/chat/completions", clock.get(), clock.get(), "", catalog.version(), "", "", "", "", bps),
                        usage, true, "completed");
            }
            ledger.writer().awaitWritten();
            Reconciliation reconciliation = Reconciliation.load(journal, dir.resolve("snapshots"));
            Statement november = reconciliation.statement("acme", YearMonth.of(2026, 11));
            assertThat(november.debits()).containsExactly(
                    new Statement.DebitLine("openai", "gpt-4o-mini", "", "batch", 5_000, new UsageTotals(2, 0, 2_000, 0, 0, 1_000, 0, 450, 0)),
                    new Statement.DebitLine("openai", "gpt-4o-mini", "", "interactive", 10_000, new UsageTotals(2, 0, 2_000, 0, 0, 1_000, 0, 900, 0)));
            assertThat(november.toJson()).contains("\"lane\" : \"batch\"").contains("\"price_multiplier_bps\" : 5000");
            assertThat(november.toCsv()).contains("usage openai/gpt-4o-mini in lane batch at 5000 bps").contains("usage openai/gpt-4o-mini in lane interactive,");
            StatementChecks.assertJsonAndCsvAgree(november);
            assertThat(november.closingBalanceMicros()).isEqualTo(1_000_000 - 450 - 900);
            assertThat(reconciliation.usage(UsageQuery.of(0, Long.MAX_VALUE, UsageQuery.Dimension.LANE)))
                    .extracting(UsageRow::lane, row -> row.totals().debitedMicros())
                    .containsExactly(org.assertj.core.groups.Tuple.tuple("batch", 450L), org.assertj.core.groups.Tuple.tuple("interactive", 900L));

            reconciliation.writeSnapshot(dir.resolve("snapshots"));
            Statement again = Reconciliation.loadSnapshot(dir.resolve("snapshots")).statement("acme", YearMonth.of(2026, 11));
            assertThat(again.debits()).isEqualTo(november.debits());
            assertThat(Rerating.rerate(journal, catalog, 0, Long.MAX_VALUE)).containsExactly(new Rerating.Row("openai", "gpt-4o-mini", 4, 1_350, 1_350, 0));
        }
    }

    /** Rollups a reconciler wrote before keys named the price multiplier still load, every row at the list price. */
    @Test
    void rollupsWrittenBeforeTheMultiplierReadAtTheListPrice() {
        Rollups rollups = new Rollups();
        rollups.record(0, new dev.tollgate.journal.JournalEvent.Settled(3_600_000L, 1,
                new RequestFacts("r", "acme", KEY_HASH, "batch", "openai", "gpt-4o-mini", "/v1/chat/completions", 0, 0, "", "", "", "", "", "", 5_000),
                new Usage(1, 0, 0, 1, 0), true, 10, 10, 0, "completed"), false);
        byte[] current = rollups.serialize();
        List<RollupKey> keys = new java.util.ArrayList<>();
        Rollups.deserialize(current).forEachRow(null, 0, Long.MAX_VALUE, (key, totals) -> keys.add(key));
        assertThat(keys).extracting(RollupKey::priceMultiplierBps).containsExactly(5_000);
        // The version 3 layout: the same bytes without the direct flag after the multiplier and the tenth total, under its magic.
        int laneEnd = current.length - 10 * Long.BYTES - 1 - Integer.BYTES;
        java.nio.ByteBuffer third = java.nio.ByteBuffer.allocate(current.length - 1 - Long.BYTES);
        third.put(current, 0, laneEnd + Integer.BYTES).put(current, laneEnd + Integer.BYTES + 1, 9 * Long.BYTES);
        byte[] v3 = third.array();
        java.nio.ByteBuffer.wrap(v3).putLong(0, Rollups.MAGIC_WITHOUT_DIRECT);
        List<UsageTotals> v3Totals = new java.util.ArrayList<>();
        keys.clear();
        Rollups.deserialize(v3).forEachRow(null, 0, Long.MAX_VALUE, (key, rowTotals) -> {
            keys.add(key);
            v3Totals.add(rowTotals);
        });
        assertThat(keys).extracting(RollupKey::priceMultiplierBps, RollupKey::direct).containsExactly(org.assertj.core.groups.Tuple.tuple(5_000, false));
        assertThat(v3Totals).extracting(UsageTotals::debitedMicros, UsageTotals::directMicros).containsExactly(org.assertj.core.groups.Tuple.tuple(10L, 0L));
        // The version 2 layout: the version 3 bytes without the int32 after the lane, under the old magic.
        java.nio.ByteBuffer old = java.nio.ByteBuffer.allocate(v3.length - Integer.BYTES);
        old.put(v3, 0, laneEnd).put(v3, laneEnd + Integer.BYTES, v3.length - laneEnd - Integer.BYTES);
        byte[] v2 = old.array();
        java.nio.ByteBuffer.wrap(v2).putLong(0, Rollups.MAGIC_WITHOUT_MULTIPLIER);
        keys.clear();
        Rollups.deserialize(v2).forEachRow(null, 0, Long.MAX_VALUE, (key, totals) -> keys.add(key));
        assertThat(keys).extracting(RollupKey::lane, RollupKey::priceMultiplierBps).containsExactly(org.assertj.core.groups.Tuple.tuple("batch", 10_000));
    }

    /** The account acme with 1,000,000 micros and one key (KEY_HASH), as both hand-worked histories begin. */
    private static ApiKeys.ApiKey openAcme(Ledger ledger) {
        ledger.openAccount("acme");
        ledger.credit("acme", 1_000_000, "opening");
        ledger.issueKey(KEY_HASH, "tg-ab", "ci", "acme");
        return new ApiKeys.ApiKey(KEY_HASH, "ci", "acme", ledger.accounts().slotOf("acme"));
    }

    private static RequestFacts facts(String requestId, String model, String provider) {
        return new RequestFacts(requestId, "acme", KEY_HASH, "interactive", provider, model, "/v1/chat/completions", 0, 0, "");
    }

    @Test
    void statementTotalsEqualTheBalanceMovementExactlyForARandomHistoryAcrossAMonthBoundary() throws Exception {
        long seed = TestSeeds.seed("StatementTest.randomHistory");
        try (SimulatedHistory history = new SimulatedHistory(dir.resolve("journal"), seed, Instant.parse("2026-10-27T00:00:00Z"), 4 * 60_000)) {
            history.run(4_000); // about 11 days: late October into November
            history.openAccount("acct-late");
            history.run(1_000);
            history.closeAll();
            long end = history.clock.get();
            assertThat(end).isGreaterThan(StatementChecks.monthStartMs(YearMonth.of(2026, 11)) + 86_400_000L);

            Reconciliation reconciliation = Reconciliation.load(history.journal, dir.resolve("no-snapshots"));
            List<YearMonth> months = List.of(YearMonth.of(2026, 9), YearMonth.of(2026, 10), YearMonth.of(2026, 11), YearMonth.of(2026, 12));
            StringWriter export = new StringWriter();
            DebitExport.write(history.journal, StatementChecks.monthStartMs(YearMonth.of(2026, 11)), StatementChecks.monthStartMs(YearMonth.of(2026, 12)),
                    java.util.Map.of(), export);
            List<String[]> exported = StatementChecks.parseCsv(export.toString());
            int checked = 0;
            for (String account : history.accounts) {
                long previousClosing = 0;
                for (YearMonth month : months) {
                    Statement statement = reconciliation.statement(account, month);
                    long movement = StatementChecks.balanceMovement(history.journal, account, statement.periodStartMs(), statement.periodEndMs());
                    assertThat(statement.openingBalanceMicros() + statement.totalCreditsMicros() + statement.totalAdjustmentsMicros()
                            - statement.totalDebitsMicros()).as("%s %s: opening + credits + adjustments - debits", account, month)
                            .isEqualTo(statement.closingBalanceMicros());
                    assertThat(statement.closingBalanceMicros() - statement.openingBalanceMicros()).as("%s %s: movement", account, month)
                            .isEqualTo(movement);
                    assertThat(statement.openingBalanceMicros()).as("%s %s opens where the month before closed", account, month)
                            .isEqualTo(previousClosing);
                    StatementChecks.assertJsonAndCsvAgree(statement);
                    previousClosing = statement.closingBalanceMicros();
                    checked++;
                }
                // After the last month: the balance the journal and the live counters hold.
                LedgerState.Account replayed = reconciliation.ledger().account(account);
                int slot = history.ledger.accounts().slotOf(account);
                assertThat(previousClosing).isEqualTo(replayed.creditedMicros() - replayed.debitedMicros())
                        .isEqualTo(history.ledger.balances().creditedMicros(slot) - history.ledger.balances().debitedMicros(slot))
                        .isEqualTo(history.ledger.balances().availableMicros(slot)); // nothing reserved at the end

                // November's debits on the statement equal the debit export's lines of the account in November.
                long exportedDebits = exported.stream().skip(1).filter(row -> row[3].equals(account)).mapToLong(row -> Long.parseLong(row[20])).sum();
                assertThat(reconciliation.statement(account, YearMonth.of(2026, 11)).totalDebitsMicros()).isEqualTo(exportedDebits);
            }
            Statement october = reconciliation.statement("acct-0", YearMonth.of(2026, 10));
            assertThat(october.credits()).isNotEmpty();
            assertThat(october.adjustments()).isNotEmpty();
            // A line per model row and lane: each model row was used in each lane over the days of October simulated.
            assertThat(october.debits()).hasSize(SimulatedHistory.MODEL_ROWS.length * SimulatedHistory.LANES.length);
            assertThat(october.debits()).extracting(Statement.DebitLine::lane).containsOnly(SimulatedHistory.LANES);
            assertThat(reconciliation.statement("acct-0", YearMonth.of(2026, 11)).debits()).isNotEmpty();
            assertThat(reconciliation.ledger().accounts()).allSatisfy(account -> assertThat(account.writtenOffMicros()).isNotNegative());
            System.out.println("statements checked: " + checked + ", records: " + reconciliation.ledger().recordsApplied());
        }
    }
}
