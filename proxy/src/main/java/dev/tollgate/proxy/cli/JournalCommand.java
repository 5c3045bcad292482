package dev.tollgate.proxy.cli;

import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalFormatException;
import dev.tollgate.journal.LedgerReplayException;
import dev.tollgate.journal.LedgerState;
import dev.tollgate.journal.reconcile.DebitExport;
import dev.tollgate.journal.reconcile.JournalArchiver;
import dev.tollgate.journal.reconcile.JournalVerifier;
import dev.tollgate.journal.reconcile.Reconciliation;
import dev.tollgate.journal.reconcile.RecordFormat;
import dev.tollgate.journal.reconcile.Statement;
import dev.tollgate.journal.reconcile.UsageQuery;
import dev.tollgate.journal.reconcile.UsageRow;
import dev.tollgate.journal.reconcile.UsageTotals;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tollgate journal ...}: the offline commands, reading a journal directory directly. All but
 * {@code archive} open it read-only, so they are safe while Tollgate runs (they see the journal as
 * it was when they started). Exit codes: 0 fine, 1 the journal has a problem, 2 a usage error.
 */
@Command(name = "journal", mixinStandardHelpOptions = true, description = "Read a journal directory directly (read-only; Tollgate may be running).",
        subcommands = {JournalCommand.Verify.class, JournalCommand.Dump.class, JournalCommand.Usage.class, JournalCommand.StatementCommand.class,
                JournalCommand.Export.class, JournalCommand.Archive.class, JournalCommand.Rerate.class})
final class JournalCommand implements Runnable {
    static final int PROBLEM = 1;
    static final int USAGE_ERROR = 2;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a subcommand: verify, dump, usage, statement, export, archive or rerate");
    }

    /** Where the journal is; its snapshots are in {@code DIR/snapshots} unless told otherwise. */
    static final class Location {
        @Option(names = "--dir", required = true, paramLabel = "DIR", description = "The journal directory (journal.directory of the configuration).")
        Path directory;

        @Option(names = "--snapshots", paramLabel = "DIR", description = "The snapshot directory (default: DIR/snapshots).")
        Path snapshots;

        Path snapshotDirectory() {
            return snapshots != null ? snapshots : directory.resolve("snapshots");
        }
    }

    /** An optional period {@code [--from, --to)}: from the beginning, to no end, when left out. */
    static final class Period {
        @Option(names = "--from", paramLabel = "TIME", description = "Start, inclusive: 2026-11-01 (UTC midnight) or 2026-11-01T12:00:00Z (default: the beginning).")
        String from;

        @Option(names = "--to", paramLabel = "TIME", description = "End, exclusive (default: no end).")
        String to;

        long fromMs() {
            return from == null ? 0 : parseTime("--from", from);
        }

        long toMs() {
            return to == null ? Long.MAX_VALUE : parseTime("--to", to);
        }
    }

    /** The shared frame of the subcommands: output streams, and one way of reporting failures. */
    abstract static class Subcommand implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        Location location;

        PrintWriter out() {
            return spec.commandLine().getOut();
        }

        PrintWriter err() {
            return spec.commandLine().getErr();
        }

        @Override
        public final Integer call() {
            try {
                int code = run();
                out().flush();
                return code;
            } catch (JournalFormatException | LedgerReplayException e) {
                out().flush();
                err().println("tollgate journal " + spec.name() + ": " + e.getMessage());
                return PROBLEM;
            } catch (IllegalArgumentException | IllegalStateException | DateTimeException e) {
                out().flush();
                err().println("tollgate journal " + spec.name() + ": " + e.getMessage());
                return USAGE_ERROR;
            }
        }

        abstract int run();

        /** The snapshot plus the journal after it, read-only. */
        Reconciliation load() {
            try (Journal journal = Journal.openReadOnly(location.directory)) {
                return Reconciliation.load(journal, location.snapshotDirectory());
            }
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true, description = "Replay the whole journal with every check; print records, accounts, open reservations, "
            + "the state hash and each account's conservation check. Exits 1 on any problem.")
    static final class Verify extends Subcommand {
        @Option(names = "--stale-after-ms", paramLabel = "MS", description = "A reservation open longer than this is a problem, not a request in flight "
                + "(default: ${DEFAULT-VALUE}, past the longest request timeout).")
        long staleAfterMs = JournalVerifier.DEFAULT_STALE_AFTER_MS;

        @Override
        int run() {
            JournalVerifier.Report report = JournalVerifier.verify(location.directory, location.snapshotDirectory(), staleAfterMs, System.currentTimeMillis());
            report.lines().forEach(out()::println);
            if (report.ok()) {
                out().println("verify: ok");
                return 0;
            }
            out().flush();
            err().println("verify: " + report.problems().size() + " problem(s):");
            report.problems().forEach(problem -> err().println("  " + problem));
            return PROBLEM;
        }
    }

    @Command(name = "dump", mixinStandardHelpOptions = true, description = "One line per record, oldest first (key hashes shortened to their first 8 hex digits).")
    static final class Dump extends Subcommand {
        @Option(names = "--limit", paramLabel = "N", description = "At most N records (default: all).")
        long limit = Long.MAX_VALUE;

        @Override
        int run() {
            if (limit < 0) {
                throw new IllegalArgumentException("--limit must not be negative");
            }
            PrintWriter out = out();
            try (Journal journal = Journal.openReadOnly(location.directory); Journal.Cursor cursor = journal.cursor(null)) {
                cursor.seekAfter(-1);
                cursor.read(limit, (index, event) -> out.println(RecordFormat.line(index, event)));
            }
            return 0;
        }
    }

    @Command(name = "usage", mixinStandardHelpOptions = true, description = "Usage for a time range (whole UTC hours), from the rollups, grouped by any of account, key, model, lane, day.")
    static final class Usage extends Subcommand {
        @Mixin
        Period period;

        @Option(names = "--group-by", split = ",", paramLabel = "DIMENSION", description = "Any of account, key, model, lane, day (comma-separated).")
        List<String> groupBy = new ArrayList<>();

        @Option(names = "--account", description = "Only this account.")
        String account;

        @Option(names = "--key", paramLabel = "HASH", description = "Only this key (its SHA-256 hex, or a prefix of it).")
        String key;

        @Option(names = "--format", defaultValue = "table", description = "table or csv (default: ${DEFAULT-VALUE}).")
        String format;

        @Override
        int run() {
            EnumSet<UsageQuery.Dimension> dimensions = EnumSet.noneOf(UsageQuery.Dimension.class);
            for (String name : groupBy) {
                try {
                    dimensions.add(UsageQuery.Dimension.valueOf(name.trim().toUpperCase(Locale.ROOT)));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--group-by: unknown dimension '" + name + "' (account, key, model, lane, day)");
                }
            }
            boolean csv = switch (format) {
                case "csv" -> true;
                case "table" -> false;
                default -> throw new IllegalArgumentException("--format: table or csv, not " + format);
            };
            long fromMs = period.fromMs();
            long toMs = period.toMs();
            Reconciliation reconciliation = load();
            Map<String, String> labels = keyLabels(reconciliation.ledger());
            List<UsageRow> rows = reconciliation.usage(new UsageQuery(fromMs, toMs, account, key, dimensions));
            List<String[]> table = new ArrayList<>();
            table.add(new String[] {"day", "account", "key", "provider", "model", "lane", "requests", "released", "input", "cache_read",
                    "cache_write", "output", "reasoning", "debited_micros", "written_off_micros"});
            for (UsageRow row : rows) {
                UsageTotals t = row.totals();
                String keyName = row.keyHash() == null ? null
                        : (csv ? row.keyHash() : labels.getOrDefault(row.keyHash(), "?") + " " + RecordFormat.key(row.keyHash()));
                table.add(new String[] {text(row.day()), text(row.accountId()), text(keyName), text(row.provider()), text(row.model()), text(row.lane()),
                        Long.toString(t.requests()), Long.toString(t.released()), Long.toString(t.inputTokens()), Long.toString(t.cacheReadTokens()),
                        Long.toString(t.cacheWriteTokens()), Long.toString(t.outputTokens()), Long.toString(t.reasoningTokens()),
                        Long.toString(t.debitedMicros()), Long.toString(t.writtenOffMicros())});
            }
            // Only the columns grouped by, then the figures.
            boolean[] shown = {dimensions.contains(UsageQuery.Dimension.DAY), dimensions.contains(UsageQuery.Dimension.ACCOUNT),
                    dimensions.contains(UsageQuery.Dimension.KEY), dimensions.contains(UsageQuery.Dimension.MODEL),
                    dimensions.contains(UsageQuery.Dimension.MODEL), dimensions.contains(UsageQuery.Dimension.LANE)};
            print(table, shown, csv);
            return 0;
        }

        private void print(List<String[]> table, boolean[] shown, boolean csv) {
            int columns = table.get(0).length;
            int[] widths = new int[columns];
            for (String[] row : table) {
                for (int c = 0; c < columns; c++) {
                    widths[c] = Math.max(widths[c], row[c].length());
                }
            }
            for (String[] row : table) {
                StringBuilder line = new StringBuilder();
                for (int c = 0; c < columns; c++) {
                    if (c < shown.length && !shown[c]) {
                        continue;
                    }
                    if (csv) {
                        line.append(line.isEmpty() ? "" : ",").append(row[c]);
                    } else {
                        String cell = c < shown.length ? String.format("%-" + widths[c] + "s", row[c]) : String.format("%" + widths[c] + "s", row[c]);
                        line.append(line.isEmpty() ? "" : "  ").append(cell);
                    }
                }
                out().println(csv ? line : line.toString().stripTrailing());
            }
        }

        private static String text(Object value) {
            return value == null ? "" : value.toString();
        }
    }

    @Command(name = "statement", mixinStandardHelpOptions = true, description = "An account's monthly statement (UTC): opening balance, credits, adjustments, debits per model row, closing balance.")
    static final class StatementCommand extends Subcommand {
        @Option(names = "--account", required = true, description = "The account.")
        String account;

        @Option(names = "--month", required = true, paramLabel = "YYYY-MM", description = "The month, for example 2026-11.")
        String month;

        @Option(names = "--format", defaultValue = "json", description = "json or csv (default: ${DEFAULT-VALUE}).")
        String format;

        @Override
        int run() {
            YearMonth yearMonth;
            try {
                yearMonth = YearMonth.parse(month);
            } catch (DateTimeException e) {
                throw new IllegalArgumentException("--month: expected YYYY-MM, not " + month);
            }
            if (!format.equals("json") && !format.equals("csv")) {
                throw new IllegalArgumentException("--format: json or csv, not " + format);
            }
            Statement statement = load().statement(account, yearMonth);
            if (statement == null) {
                throw new IllegalArgumentException("no account " + account + " in the journal");
            }
            out().print(format.equals("json") ? statement.toJson() : statement.toCsv());
            return 0;
        }
    }

    @Command(name = "rerate", mixinStandardHelpOptions = true, description = "What the debits settled in [--from, --to) would cost under another price "
            + "catalog, by model: a report, nothing changes. Exits 1 when a request's model has no row in that catalog.")
    static final class Rerate extends Subcommand {
        @Option(names = "--catalog", required = true, paramLabel = "FILE", description = "The catalog to price the journal's usage with.")
        Path catalog;

        @Option(names = "--prices-as", paramLabel = "PROVIDER=PRICED_AS", description = "A configured provider's pricesAs: its debits are "
                + "priced by the rows of PRICED_AS (repeat for each; the journal names the serving provider).")
        java.util.Map<String, String> pricesAs = new java.util.HashMap<>();

        @Mixin
        Period period;

        @Override
        int run() {
            dev.tollgate.config.PriceCatalog prices;
            try {
                prices = dev.tollgate.config.CatalogLoader.load(catalog);
            } catch (dev.tollgate.config.ConfigException e) {
                throw new IllegalArgumentException("--catalog does not load: " + String.join("; ", e.problems()));
            }
            long fromMs = period.fromMs();
            long toMs = period.toMs();
            List<dev.tollgate.journal.reconcile.Rerating.Row> rows;
            try (Journal journal = Journal.openReadOnly(location.directory)) {
                rows = dev.tollgate.journal.reconcile.Rerating.rerate(journal, prices, pricesAs, fromMs, toMs);
            }
            String currency = prices.currency();
            AdminCommands.Table table = new AdminCommands.Table("PROVIDER", "MODEL", "REQUESTS", "BILLED", "RERATED", "DIFFERENCE", "UNPRICED");
            long billed = 0;
            long rerated = 0;
            long unpriced = 0;
            long requests = 0;
            for (dev.tollgate.journal.reconcile.Rerating.Row row : rows) {
                table.row(row.provider(), row.model(), row.requests(), dev.tollgate.proxy.Money.format(row.billedMicros(), currency),
                        dev.tollgate.proxy.Money.format(row.reratedMicros(), currency), dev.tollgate.proxy.Money.format(row.differenceMicros(), currency),
                        row.unpriced());
                billed += row.billedMicros();
                rerated += row.reratedMicros();
                unpriced += row.unpriced();
                requests += row.requests();
            }
            table.row("total", "", requests, dev.tollgate.proxy.Money.format(billed, currency), dev.tollgate.proxy.Money.format(rerated, currency),
                    dev.tollgate.proxy.Money.format(rerated - billed, currency), unpriced);
            table.print(out());
            if (unpriced > 0) {
                err().println("tollgate journal rerate: " + unpriced + " request(s) of models " + prices.source() + " has no row for (not in RERATED)");
                return PROBLEM;
            }
            return 0;
        }
    }

    @Command(name = "export", mixinStandardHelpOptions = true, description = "Every debit (settlement) recorded in [--from, --to), one CSV line per request, from the journal.")
    static final class Export extends Subcommand {
        @Option(names = "--from", required = true, paramLabel = "TIME", description = "Start, inclusive: 2026-11-01 or 2026-11-01T12:00:00Z.")
        String from;

        @Option(names = "--to", required = true, paramLabel = "TIME", description = "End, exclusive.")
        String to;

        @Override
        int run() {
            long fromMs = parseTime("--from", from);
            long toMs = parseTime("--to", to);
            if (toMs <= fromMs) {
                throw new IllegalArgumentException("--to must be after --from");
            }
            Map<String, String> labels = keyLabels(load().ledger());
            try (Journal journal = Journal.openReadOnly(location.directory)) {
                DebitExport.write(journal, fromMs, toMs, labels, out());
            }
            return 0;
        }
    }

    @Command(name = "archive", mixinStandardHelpOptions = true, description = "Move the journal's daily cycles before --before, which the reconciler's snapshot covers, to --to. "
            + "Statements do not change; the requests of those days leave the request log and the export.")
    static final class Archive extends Subcommand {
        @Option(names = "--to", required = true, paramLabel = "DIR", description = "Where the cycle files go.")
        Path archive;

        @Option(names = "--before", required = true, paramLabel = "DATE", description = "Archive days before this UTC date, for example 2026-11-01.")
        String before;

        @Option(names = "--dry-run", description = "Only say what would move.")
        boolean dryRun;

        @Override
        int run() {
            LocalDate day;
            try {
                day = LocalDate.parse(before);
            } catch (DateTimeException e) {
                throw new IllegalArgumentException("--before: expected YYYY-MM-DD, not " + before);
            }
            JournalArchiver.Result result = JournalArchiver.archive(location.directory, location.snapshotDirectory(), archive, day, dryRun);
            for (Path moved : result.moved()) {
                out().println((dryRun ? "would move " : "moved ") + moved.getFileName() + " to " + moved.getParent());
            }
            out().println((dryRun ? "would archive " : "archived ") + result.moved().size() + " cycle(s), covered by the snapshot at index "
                    + Long.toHexString(result.coveredIndex()) + "; " + result.kept().size() + " cycle(s) stay");
            return 0;
        }
    }

    /** {@code 2026-11-01} is that day's UTC midnight; anything else must be an ISO instant. */
    static long parseTime(String option, String value) {
        try {
            if (value.length() == 10) {
                return LocalDate.parse(value).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
            }
            return Instant.parse(value).toEpochMilli();
        } catch (DateTimeException e) {
            throw new IllegalArgumentException(option + ": expected 2026-11-01 or 2026-11-01T12:00:00Z, not " + value);
        }
    }

    static Map<String, String> keyLabels(LedgerState ledger) {
        Map<String, String> labels = new HashMap<>();
        for (LedgerState.Key key : ledger.keys()) {
            labels.put(key.keyHash(), key.label());
        }
        return labels;
    }
}
