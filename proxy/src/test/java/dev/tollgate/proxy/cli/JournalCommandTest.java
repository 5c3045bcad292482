package dev.tollgate.proxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.Ledger;
import dev.tollgate.journal.LedgerReservation;
import dev.tollgate.journal.reconcile.Reconciler;
import dev.tollgate.journal.reconcile.ReconcilerSettings;
import dev.tollgate.journal.reconcile.Reconciliation;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.Usage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.YearMonth;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code tollgate journal ...} run in-process on a journal written here, across a month boundary. */
class JournalCommandTest {
    private static final String ACME_KEY = "a1".repeat(32);
    private static final String BETA_KEY = "b2".repeat(32);
    private static final long DAY_MS = 86_400_000L;

    @TempDir
    Path dir;
    Path journalDirectory;
    long settlements;
    long novemberSettlements;

    private record Run(int exitCode, String out, String err) {
        List<String> lines() {
            return out.isEmpty() ? List.of() : Arrays.asList(out.split("\n"));
        }
    }

    private static Run tollgate(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine command = new CommandLine(new TollgateCli());
        command.setOut(new PrintWriter(out, true));
        command.setErr(new PrintWriter(err, true));
        int code = command.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    /** Five days, 2026-10-30 to 2026-11-03, one cycle file each: two accounts, requests every few hours, a refund, a release. */
    @BeforeEach
    void writeJournal() {
        journalDirectory = dir.resolve("journal");
        AtomicLong clock = new AtomicLong(Instant.parse("2026-10-30T10:00:00Z").toEpochMilli());
        try (Journal journal = Journal.open(journalDirectory, Durability.PAGE_CACHE, 0, clock::get)) {
            Ledger ledger = Ledger.recover(journal, journalDirectory.resolve("snapshots"), 8, clock::get);
            ledger.openAccount("acme");
            ledger.credit("acme", 2_000_000, "opening");
            ledger.issueKey(ACME_KEY, "tg-a1", "acme-ci", "acme");
            ledger.openAccount("beta");
            ledger.credit("beta", 500_000, "opening");
            ledger.issueKey(BETA_KEY, "tg-b2", "beta-batch", "beta");
            ApiKeys.ApiKey acme = new ApiKeys.ApiKey(ACME_KEY, "acme-ci", "acme", ledger.accounts().slotOf("acme"));
            ApiKeys.ApiKey beta = new ApiKeys.ApiKey(BETA_KEY, "beta-batch", "beta", ledger.accounts().slotOf("beta"));
            long start = clock.get();
            int n = 0;
            for (long t = start; t < start + 4 * DAY_MS; t += 5 * 3_600_000L) {
                clock.set(t);
                for (ApiKeys.ApiKey key : List.of(acme, beta)) {
                    String requestId = "tg_req_" + (++n);
                    LedgerReservation reservation = ledger.reserve(key, 1, 20_000, requestId);
                    boolean gpt = n % 3 != 0;
                    RequestFacts facts = new RequestFacts(requestId, key.accountId(), key.sha256Hex(), key == beta ? "batch" : "interactive",
                            gpt ? "openai" : "anthropic", gpt ? "gpt-4o-mini" : "claude-haiku-4-5", "/v1/chat/completions", t, t + 900, "up-" + n);
                    clock.set(t + 1_000);
                    if (n % 7 == 0) {
                        reservation.release(facts, "upstream_status_500");
                    } else {
                        reservation.settle(100 + n, facts, new Usage(50 + n, n % 2 == 0 ? 10 : 0, 0, 20 + n, 0), true, "completed");
                        settlements++;
                        if (t + 1_000 >= Instant.parse("2026-11-01T00:00:00Z").toEpochMilli()) {
                            novemberSettlements++;
                        }
                    }
                }
            }
            clock.set(Instant.parse("2026-11-01T12:00:00Z").toEpochMilli());
            ledger.adjust("acme", -1_234, "refund, ticket \"T-9\"", "adj-1");
            clock.set(start + 4 * DAY_MS);
            // The node's reconciler ran and stopped cleanly: its snapshot covers the whole journal.
            Reconciler.start(journal, journalDirectory.resolve("snapshots"), null, ReconcilerSettings.defaults(), clock::get).close();
        }
    }

    /**
     * The shipped catalog with claude-haiku-4-5 retired on 2026-11-01 (in the middle of the journal's days) and gpt-4o-mini on
     * 2026-12-01 (after them): only the first is reported with traffic, exactly the requests from its retirement on.
     */
    @Test
    void pricingCheckReportsRetiredModelsWithTrafficAndStaleRows() throws Exception {
        String shipped = java.nio.file.Files.readString(Path.of("..", "config", "pricing.yaml"));
        String catalog = shipped.replaceFirst("(    model: claude-haiku-4-5\n(?:    .*\n)*?    source: .*\n)", "$1    retiredOn: 2026-11-01\n")
                .replaceFirst("(    model: gpt-4o-mini\n(?:    .*\n)*?    source: .*\n)    retiredOn: 2027-01-14\n", "$1    retiredOn: 2026-12-01\n");
        Path file = dir.resolve("pricing.yaml");
        java.nio.file.Files.writeString(file, catalog);
        long haikuSince;
        try (Journal journal = Journal.openReadOnly(journalDirectory)) {
            long[] count = {0};
            long fromMs = Instant.parse("2026-11-01T00:00:00Z").toEpochMilli();
            journal.readAfter(-1, (index, event) -> {
                RequestFacts facts = event instanceof dev.tollgate.journal.JournalEvent.Settled e ? e.request()
                        : event instanceof dev.tollgate.journal.JournalEvent.Released e ? e.request() : null;
                if (facts != null && facts.model().equals("claude-haiku-4-5") && facts.endMs() >= fromMs) {
                    count[0]++;
                }
            });
            haikuSince = count[0];
        }
        assertThat(haikuSince).isPositive();

        Run run = tollgate("pricing", "check", "--catalog", file.toString(), "--journal", journalDirectory.toString(), "--today", "2026-12-07",
                "--max-age-days", "100000", "--json");
        assertThat(run.exitCode()).as(run.err()).isEqualTo(1);
        com.fasterxml.jackson.databind.JsonNode report = new com.fasterxml.jackson.databind.ObjectMapper().readTree(run.out());
        java.util.Map<String, Long> since = new java.util.HashMap<>();
        report.path("retired").forEach(row -> since.put(row.path("model").asText(), row.path("requests_since").asLong()));
        assertThat(since).containsEntry("claude-haiku-4-5", haikuSince).containsEntry("gpt-4o-mini", 0L);
        assertThat(report.path("stale")).isEmpty();

        Run table = tollgate("pricing", "check", "--catalog", file.toString(), "--today", "2026-12-07", "--max-age-days", "0");
        assertThat(table.exitCode()).isEqualTo(1);
        assertThat(table.out()).contains("claude-haiku-4-5   2026-11-01  (no --journal)").contains("gpt-4o-mini")
                .contains("stale row(s), ");
        Run quiet = tollgate("pricing", "check", "--catalog", file.toString(), "--today", "2026-01-01", "--max-age-days", "100000");
        assertThat(quiet.out()).contains("Retired models (retiredOn on or before 2026-01-01):\n  none");
        assertThat(quiet.exitCode()).isZero();
        Run broken = tollgate("pricing", "check", "--catalog", dir.resolve("missing.yaml").toString());
        assertThat(broken.exitCode()).isEqualTo(2);
        assertThat(broken.err()).contains("the catalog does not load");
    }

    /** gpt-4o-mini at a promotional price until 2026-11-15, its list price after: the promotion is past its period from that day on. */
    @Test
    void pricingCheckListsRowsPastTheirEffectivePeriod() throws Exception {
        String shipped = java.nio.file.Files.readString(Path.of("..", "config", "pricing.yaml"));
        java.util.regex.Matcher mini = java.util.regex.Pattern.compile("  - provider: openai\n    model: gpt-4o-mini\n(?:    .*\n)*").matcher(shipped);
        assertThat(mini.find()).isTrue();
        String promotion = mini.group().replace("    outputMicrosPerMillionTokens: 600000\n", "    outputMicrosPerMillionTokens: 300000\n")
                + "    effectiveUntil: 2026-11-15\n";
        String list = mini.group() + "    effectiveFrom: 2026-11-15\n";
        Path file = dir.resolve("promoted.yaml");
        java.nio.file.Files.writeString(file, shipped.replace(mini.group(), promotion + list));

        Run run = tollgate("pricing", "check", "--catalog", file.toString(), "--today", "2026-12-07", "--max-age-days", "100000", "--json");
        assertThat(run.exitCode()).as("a row past its period must stay: not a finding that fails the check").isZero();
        com.fasterxml.jackson.databind.JsonNode past = new com.fasterxml.jackson.databind.ObjectMapper().readTree(run.out()).path("past_effective_period");
        assertThat(past).hasSize(1);
        assertThat(past.get(0).path("model").asText()).isEqualTo("gpt-4o-mini");
        assertThat(past.get(0).path("effective_from").isNull()).isTrue();
        assertThat(past.get(0).path("effective_until").asText()).isEqualTo("2026-11-15T00:00:00Z");

        Run onTheDay = tollgate("pricing", "check", "--catalog", file.toString(), "--today", "2026-11-15", "--max-age-days", "100000");
        assertThat(onTheDay.out()).contains("Rows past their effective period (effectiveUntil at or before 2026-11-15T00:00:00Z):")
                .containsPattern("gpt-4o-mini +\\(since always\\) +2026-11-15T00:00:00Z").contains("1 row(s) past their period.");
        Run before = tollgate("pricing", "check", "--catalog", file.toString(), "--today", "2026-11-14", "--max-age-days", "100000");
        assertThat(before.out()).contains("(effectiveUntil at or before 2026-11-14T00:00:00Z):\n  none").contains("0 row(s) past their period.");
    }

    @Test
    void rerateReportsWhatTheDebitsWouldCostUnderAnotherCatalog() throws Exception {
        dev.tollgate.config.PriceCatalog shipped = dev.tollgate.config.CatalogLoader.load(Path.of("..", "config", "pricing.yaml"));
        long[] expected = new long[3]; // requests, billed, rerated, in November
        long fromMs = Instant.parse("2026-11-01T00:00:00Z").toEpochMilli();
        try (Journal journal = Journal.openReadOnly(journalDirectory)) {
            journal.readAfter(-1, (index, event) -> {
                if (event instanceof dev.tollgate.journal.JournalEvent.Settled e && e.timestampMs() >= fromMs) {
                    expected[0]++;
                    expected[1] += e.costMicros();
                    expected[2] += dev.tollgate.metering.CostRule.costMicros(shipped.find(e.request().provider(), e.request().model()), e.usage());
                }
            });
        }
        assertThat(expected[0]).isEqualTo(novemberSettlements);
        Run run = tollgate("journal", "rerate", "--dir", journalDirectory.toString(), "--catalog", Path.of("..", "config", "pricing.yaml").toString(),
                "--from", "2026-11-01");
        assertThat(run.exitCode()).as(run.err()).isZero();
        String total = run.lines().get(run.lines().size() - 1);
        assertThat(total).startsWith("total").contains(" " + expected[0] + " ")
                .contains(dev.tollgate.proxy.Money.format(expected[1], "USD")).contains(dev.tollgate.proxy.Money.format(expected[2], "USD"));
        assertThat(run.out()).contains("gpt-4o-mini").contains("claude-haiku-4-5");

        // A catalog without one of the models: its requests are unpriced, and the command says so.
        String withoutHaiku = java.nio.file.Files.readString(Path.of("..", "config", "pricing.yaml"))
                .replaceFirst("  - provider: anthropic\n    model: claude-haiku-4-5\n(?:    .*\n)*", "");
        Path file = dir.resolve("no-haiku.yaml");
        java.nio.file.Files.writeString(file, withoutHaiku);
        Run partial = tollgate("journal", "rerate", "--dir", journalDirectory.toString(), "--catalog", file.toString());
        assertThat(partial.exitCode()).isEqualTo(1);
        assertThat(partial.err()).contains("request(s) of models no-haiku.yaml has no row for");
    }

    /**
     * A journal of requests served by openai-eu, a provider configured with {@code pricesAs: openai}: the journal names
     * openai-eu, and {@code --prices-as openai-eu=openai} prices them by openai's rows again, in rerate and pricing check.
     */
    @Test
    void rerateAndPricingCheckPriceAProviderWithPricesAsByTheRowsItNames() throws Exception {
        dev.tollgate.config.PriceCatalog shipped = dev.tollgate.config.CatalogLoader.load(Path.of("..", "config", "pricing.yaml"));
        dev.tollgate.config.ModelRow mini = shipped.find("openai", "gpt-4o-mini", Instant.parse("2026-11-02T00:00:00Z").toEpochMilli());
        Usage usage = new Usage(1_000, 0, 0, 333, 0);
        long cost = dev.tollgate.metering.CostRule.costMicros(mini, usage);
        Path euJournal = dir.resolve("eu-journal");
        AtomicLong clock = new AtomicLong(Instant.parse("2026-11-02T00:00:00Z").toEpochMilli());
        try (Journal journal = Journal.open(euJournal, Durability.PAGE_CACHE, 0, clock::get)) {
            Ledger ledger = Ledger.recover(journal, euJournal.resolve("snapshots"), 4, clock::get);
            ledger.openAccount("acme");
            ledger.credit("acme", 1_000_000, "opening");
            ledger.issueKey(ACME_KEY, "tg-a1", "acme-ci", "acme");
            ApiKeys.ApiKey acme = new ApiKeys.ApiKey(ACME_KEY, "acme-ci", "acme", ledger.accounts().slotOf("acme"));
            for (int i = 0; i < 3; i++) {
                long t = clock.get();
                ledger.reserve(acme, 1, 20_000, "tg_req_eu" + i).settle(cost, new RequestFacts("tg_req_eu" + i, "acme", ACME_KEY, "interactive",
                        "openai-eu", "gpt-4o-mini", "/v1/chat/completions", t, t, "", shipped.version(), mini.rowVersion(), ""), usage, true, "completed");
                clock.addAndGet(3_600_000L);
            }
        }
        String catalogPath = Path.of("..", "config", "pricing.yaml").toString();

        Run unpriced = tollgate("journal", "rerate", "--dir", euJournal.toString(), "--catalog", catalogPath);
        assertThat(unpriced.exitCode()).as("openai-eu has no rows of its own").isEqualTo(1);
        Run rerated = tollgate("journal", "rerate", "--dir", euJournal.toString(), "--catalog", catalogPath, "--prices-as", "openai-eu=openai");
        assertThat(rerated.exitCode()).as(rerated.err()).isZero();
        assertThat(rerated.out()).containsPattern("openai-eu +gpt-4o-mini +3 +" + java.util.regex.Pattern.quote(dev.tollgate.proxy.Money.format(3 * cost, "USD"))
                + " +" + java.util.regex.Pattern.quote(dev.tollgate.proxy.Money.format(3 * cost, "USD")));

        // gpt-4o-mini retired on 2026-11-01 in a copy of the shipped catalog: openai-eu's traffic after it is openai's row's.
        Path retired = dir.resolve("pricing.yaml");
        java.nio.file.Files.writeString(retired, java.nio.file.Files.readString(Path.of("..", "config", "pricing.yaml"))
                .replaceFirst("(    model: gpt-4o-mini\n(?:    .*\n)*?    source: .*\n)    retiredOn: 2027-01-14\n", "$1    retiredOn: 2026-11-01\n"));
        Run blind = tollgate("pricing", "check", "--catalog", retired.toString(), "--journal", euJournal.toString(), "--today", "2026-11-15",
                "--max-age-days", "100000", "--json");
        Run seen = tollgate("pricing", "check", "--catalog", retired.toString(), "--journal", euJournal.toString(), "--today", "2026-11-15",
                "--max-age-days", "100000", "--json", "--prices-as", "openai-eu=openai");
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        java.util.function.Function<Run, Long> miniSince = run -> {
            try {
                for (com.fasterxml.jackson.databind.JsonNode row : json.readTree(run.out()).path("retired")) {
                    if (row.path("model").asText().equals("gpt-4o-mini")) {
                        return row.path("requests_since").asLong();
                    }
                }
            } catch (java.io.IOException e) {
                throw new AssertionError(run.out(), e);
            }
            throw new AssertionError("gpt-4o-mini is not reported retired: " + run.out());
        };
        assertThat(miniSince.apply(blind)).isZero();
        assertThat(blind.exitCode()).isZero();
        assertThat(miniSince.apply(seen)).isEqualTo(3);
        assertThat(seen.exitCode()).as("a retired model with traffic is a finding").isEqualTo(1);
    }

    @Test
    void verifyReplaysEverythingAndReportsEachAccount() {
        Run run = tollgate("journal", "verify", "--dir", journalDirectory.toString());
        assertThat(run.exitCode()).as(run.err()).isZero();
        String hash = hashOfReplay();
        assertThat(run.lines()).contains("replaying from the first record", "accounts: 2, keys: 2 (0 revoked)", "open reservations: 0",
                "state hash: " + hash, "verify: ok");
        assertThat(run.lines()).anySatisfy(line -> assertThat(line).matches("records: \\d+ \\(index \\p{XDigit}+ to \\p{XDigit}+\\)"));
        assertThat(run.lines()).anySatisfy(line -> assertThat(line).startsWith("snapshot ledger-").endsWith("matches the replay at its index; its rollups match"));
        assertThat(run.lines()).filteredOn(line -> line.startsWith("account ")).hasSize(2).allSatisfy(line -> assertThat(line).endsWith("conservation ok"));
        assertThat(run.err()).isEmpty();
    }

    @Test
    void verifyExitsNonZeroOnARecordThatContradictsTheJournal() {
        try (Journal journal = Journal.open(journalDirectory, Durability.PAGE_CACHE, 0)) {
            journal.append(new JournalEvent.ReservationExtended(System.currentTimeMillis(), 424_242, 10));
        }
        Run run = tollgate("journal", "verify", "--dir", journalDirectory.toString());
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err()).contains("verify: 1 problem(s):", "closes or extends reservation 424242, which is not open");
    }

    @Test
    void dumpPrintsOneLinePerRecordAndOnlyKeyHashPrefixes() {
        Run run = tollgate("journal", "dump", "--dir", journalDirectory.toString());
        assertThat(run.exitCode()).as(run.err()).isZero();
        long records;
        try (Journal journal = Journal.openReadOnly(journalDirectory)) {
            records = journal.recordsAfter(-1);
        }
        assertThat(run.lines()).hasSize((int) records);
        assertThat(run.lines().get(0)).matches("\\p{XDigit}+ 2026-10-30T10:00:00Z ACCOUNT_OPENED account=acme");
        assertThat(run.lines()).filteredOn(line -> line.contains(" SETTLED ")).hasSize((int) settlements)
                .allSatisfy(line -> assertThat(line).contains("debited_micros=").containsAnyOf("account=acme key=a1a1a1a1.. ", "account=beta key=b2b2b2b2.. ")
                        .doesNotContain(ACME_KEY).doesNotContain(BETA_KEY));
        assertThat(run.out()).doesNotContainPattern("[0-9a-f]{64}");
        assertThat(run.out()).contains("reason=\"refund, ticket \\\"T-9\\\"\"");
        assertThat(tollgate("journal", "dump", "--dir", journalDirectory.toString(), "--limit", "3").lines()).hasSize(3);
    }

    @Test
    void usageGroupsTheRollups() {
        Run run = tollgate("journal", "usage", "--dir", journalDirectory.toString(), "--from", "2026-11-01", "--to", "2026-11-03",
                "--group-by", "day,model", "--format", "csv");
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.lines().get(0)).isEqualTo("day,provider,model,requests,released,input,cache_read,cache_write,output,reasoning,debited_micros,written_off_micros");
        assertThat(run.lines()).hasSize(1 + 2 * 2); // two days, two models
        assertThat(run.lines().get(1)).startsWith("2026-11-01,anthropic,claude-haiku-4-5,");
        Run table = tollgate("journal", "usage", "--dir", journalDirectory.toString(), "--group-by", "account,key");
        assertThat(table.exitCode()).isZero();
        assertThat(table.lines()).hasSize(3);
        assertThat(table.lines().get(1)).startsWith("acme     acme-ci a1a1a1a1..");
        Run bad = tollgate("journal", "usage", "--dir", journalDirectory.toString(), "--group-by", "planet");
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(bad.err()).contains("unknown dimension 'planet'");
    }

    @Test
    void statementAndExportAgreeWithTheJavaApiAndWithEachOther() throws Exception {
        Reconciliation reconciliation;
        try (Journal journal = Journal.openReadOnly(journalDirectory)) {
            reconciliation = Reconciliation.load(journal, dir.resolve("none"));
        }
        Run json = tollgate("journal", "statement", "--dir", journalDirectory.toString(), "--account", "acme", "--month", "2026-11");
        assertThat(json.exitCode()).as(json.err()).isZero();
        assertThat(json.out()).isEqualTo(reconciliation.statement("acme", YearMonth.of(2026, 11)).toJson());
        assertThat(json.out()).contains("\"reason\" : \"refund, ticket \\\"T-9\\\"\"");
        Run csv = tollgate("journal", "statement", "--dir", journalDirectory.toString(), "--account", "acme", "--month", "2026-11", "--format", "csv");
        assertThat(csv.out()).isEqualTo(reconciliation.statement("acme", YearMonth.of(2026, 11)).toCsv());

        Run export = tollgate("journal", "export", "--dir", journalDirectory.toString(), "--from", "2026-11-01", "--to", "2026-12-01");
        assertThat(export.exitCode()).as(export.err()).isZero();
        assertThat(export.lines()).hasSize(1 + (int) novemberSettlements);
        assertThat(export.lines().get(0)).startsWith("settled_at,journal_index,request_id,account,key,key_label,");
        long exportedAcme = export.lines().stream().skip(1).map(line -> line.split(",")).filter(row -> row[3].equals("acme"))
                .mapToLong(row -> Long.parseLong(row[20])).sum();
        assertThat(exportedAcme).isEqualTo(reconciliation.statement("acme", YearMonth.of(2026, 11)).totalDebitsMicros()).isPositive();
        assertThat(export.lines()).filteredOn(line -> line.contains(",acme,")).allSatisfy(line -> assertThat(line).contains(",a1a1a1a1a1a1,acme-ci,"));

        Run unknown = tollgate("journal", "statement", "--dir", journalDirectory.toString(), "--account", "nobody", "--month", "2026-11");
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.err()).contains("no account nobody");
        assertThat(tollgate("journal", "statement", "--dir", journalDirectory.toString(), "--account", "acme", "--month", "November").exitCode()).isEqualTo(2);
        assertThat(tollgate("journal", "statement", "--dir", journalDirectory.toString(), "--account", "acme").exitCode()).isEqualTo(2);
        assertThat(tollgate("journal").exitCode()).isEqualTo(2);
    }

    @Test
    void archiveMovesTheCoveredCyclesAndTheStatementsStayTheSame() throws Exception {
        Path archive = dir.resolve("archive");
        String octoberBefore = tollgate("journal", "statement", "--dir", journalDirectory.toString(), "--account", "acme", "--month", "2026-10").out();
        String novemberBefore = tollgate("journal", "statement", "--dir", journalDirectory.toString(), "--account", "beta", "--month", "2026-11",
                "--format", "csv").out();

        Run dryRun = tollgate("journal", "archive", "--dir", journalDirectory.toString(), "--to", archive.toString(), "--before", "2026-11-02", "--dry-run");
        assertThat(dryRun.exitCode()).as(dryRun.err()).isZero();
        assertThat(archive).doesNotExist();
        Run run = tollgate("journal", "archive", "--dir", journalDirectory.toString(), "--to", archive.toString(), "--before", "2026-11-02");
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.lines()).containsExactly(
                "moved 20261030F.cq4 to " + archive,
                "moved 20261031F.cq4 to " + archive,
                "moved 20261101F.cq4 to " + archive,
                run.lines().get(3));
        assertThat(run.lines().get(3)).startsWith("archived 3 cycle(s), covered by the snapshot at index ").endsWith("; 2 cycle(s) stay");
        try (var files = Files.list(archive)) {
            assertThat(files).hasSize(3);
        }

        assertThat(tollgate("journal", "statement", "--dir", journalDirectory.toString(), "--account", "acme", "--month", "2026-10").out())
                .isEqualTo(octoberBefore);
        assertThat(tollgate("journal", "statement", "--dir", journalDirectory.toString(), "--account", "beta", "--month", "2026-11", "--format", "csv")
                .out()).isEqualTo(novemberBefore);
        Run verify = tollgate("journal", "verify", "--dir", journalDirectory.toString());
        assertThat(verify.exitCode()).as(verify.err()).isZero();
        assertThat(verify.lines().get(0)).startsWith("replaying from the snapshot");

        // Without the snapshot that covers them, nothing answers from a journal with a gap.
        try (var snapshots = Files.list(journalDirectory.resolve("snapshots"))) {
            for (Path file : snapshots.filter(path -> path.toString().endsWith(".snapshot")).toList()) {
                Files.delete(file);
            }
        }
        Run gap = tollgate("journal", "statement", "--dir", journalDirectory.toString(), "--account", "acme", "--month", "2026-10");
        assertThat(gap.exitCode()).isEqualTo(2);
        assertThat(gap.err()).contains("were archived, but the newest snapshot");
        assertThat(tollgate("journal", "verify", "--dir", journalDirectory.toString()).exitCode()).isEqualTo(1);
    }

    private String hashOfReplay() {
        try (Journal journal = Journal.openReadOnly(journalDirectory)) {
            return Reconciliation.load(journal, dir.resolve("none")).ledger().stateHash();
        }
    }
}
