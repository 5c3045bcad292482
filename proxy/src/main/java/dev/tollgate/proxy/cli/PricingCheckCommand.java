package dev.tollgate.proxy.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.ConfigException;
import dev.tollgate.config.ModelRow;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.reconcile.Reconciliation;
import dev.tollgate.journal.reconcile.UsageQuery;
import dev.tollgate.journal.reconcile.UsageRow;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code tollgate pricing check}: what in a price catalog needs an operator's eye, offline (a catalog file and,
 * optionally, a journal directory read-only): rows of models the provider retired that still get traffic after the
 * day, rows whose prices were last checked ({@code asOf}) longer ago than {@code --max-age-days}, and rows past their
 * effective period ({@code effectiveUntil} at or before the day's start, UTC). Exit codes: 0 nothing to report, 1
 * findings, 2 a usage error (a catalog that does not load, a bad option). A row past its period is listed but is not
 * a finding that fails the check: it must stay (a reload refuses to remove it) so that the debits it priced keep their
 * price, so it is something to know, not to fix; as a retired model without traffic is.
 */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Report retired models that still get traffic (with --journal), rows not checked for --max-age-days, and rows past their effective period. Exits 1 on findings.")
final class PricingCheckCommand implements Callable<Integer> {
    static final int FINDINGS = 1;
    static final int USAGE_ERROR = 2;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Option(names = "--catalog", paramLabel = "FILE", description = "The catalog file to check (default: the built-in one).")
    Path catalogFile;

    @Option(names = "--journal", paramLabel = "DIR", description = "A journal directory, read-only: count the traffic each retired model got after retiring.")
    Path journalDirectory;

    @Option(names = "--prices-as", paramLabel = "PROVIDER=PRICED_AS", description = "A configured provider's pricesAs: with --journal, its "
            + "traffic counts for the rows of PRICED_AS (repeat for each; the journal names the serving provider).")
    Map<String, String> pricesAs = new HashMap<>();

    @Option(names = "--max-age-days", defaultValue = "180", description = "A row whose asOf is older than this many days is stale (default: ${DEFAULT-VALUE}).")
    int maxAgeDays;

    @Option(names = "--today", paramLabel = "DATE", description = "The day to check as of (default: today, UTC), for reproducible reports.")
    LocalDate today;

    @Option(names = "--json", description = "Print JSON instead of tables.")
    boolean json;

    /** A retired model's row and the requests it got after its retirement (-1 without a journal to count them in). */
    record Retired(ModelRow row, long requestsSince) {
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (maxAgeDays < 0) {
            err.println("tollgate pricing check: --max-age-days must not be negative");
            return USAGE_ERROR;
        }
        PriceCatalog catalog;
        try {
            catalog = catalogFile == null ? CatalogLoader.loadBuiltin() : CatalogLoader.load(catalogFile);
        } catch (ConfigException e) {
            err.println("tollgate pricing check: the catalog does not load:");
            e.problems().forEach(problem -> err.println("  " + problem));
            return USAGE_ERROR;
        }
        LocalDate day = today != null ? today : LocalDate.now(ZoneOffset.UTC);
        Map<String, Long> requestsAfterRetirement = journalDirectory == null ? null : trafficAfterRetirement(catalog);
        List<Retired> retired = new ArrayList<>();
        List<ModelRow> stale = new ArrayList<>();
        List<ModelRow> past = new ArrayList<>();
        Instant dayStart = day.atStartOfDay(ZoneOffset.UTC).toInstant();
        for (ModelRow row : catalog.rows()) {
            if (row.effectiveUntil() != null && !row.effectiveUntil().isAfter(dayStart)) {
                past.add(row);
            }
            if (row.retiredOn() != null && !row.retiredOn().isAfter(day)) {
                long since = requestsAfterRetirement == null ? -1 : requestsAfterRetirement.getOrDefault(row.provider() + '/' + row.model(), 0L);
                retired.add(new Retired(row, since));
            }
            if (row.asOf().plusDays(maxAgeDays).isBefore(day)) {
                stale.add(row);
            }
        }
        List<Retired> withTraffic = retired.stream().filter(r -> r.requestsSince() > 0).toList();
        if (json) {
            printJson(out, day, retired, stale, past);
        } else {
            printTables(out, day, retired, stale, past);
        }
        out.flush();
        return withTraffic.isEmpty() && stale.isEmpty() ? 0 : FINDINGS;
    }

    /** Requests per (provider, model) on or after each retired model's retirement day, from the journal's debits and releases. */
    private Map<String, Long> trafficAfterRetirement(PriceCatalog catalog) {
        Reconciliation reconciliation;
        try (Journal journal = Journal.openReadOnly(journalDirectory)) {
            reconciliation = Reconciliation.load(journal, journalDirectory.resolve("snapshots"));
        }
        Map<String, Long> counts = new HashMap<>();
        for (ModelRow row : catalog.rows()) {
            if (row.retiredOn() == null) {
                continue;
            }
            long fromMs = row.retiredOn().atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
            for (UsageRow usage : reconciliation.usage(UsageQuery.of(fromMs, Long.MAX_VALUE, UsageQuery.Dimension.MODEL))) {
                if (row.model().equals(usage.model())
                        && (usage.provider() == null || row.provider().equals(pricesAs.getOrDefault(usage.provider(), usage.provider())))) {
                    counts.merge(row.provider() + '/' + row.model(), usage.totals().requests() + usage.totals().released(), Long::sum);
                }
            }
        }
        return counts;
    }

    private void printTables(PrintWriter out, LocalDate day, List<Retired> retired, List<ModelRow> stale, List<ModelRow> past) {
        out.println("Retired models (retiredOn on or before " + day + "):");
        if (retired.isEmpty()) {
            out.println("  none");
        } else {
            AdminCommands.Table table = new AdminCommands.Table("PROVIDER", "MODEL", "RETIRED ON", "REQUESTS SINCE");
            for (Retired r : retired) {
                table.row(r.row().provider(), r.row().model(), r.row().retiredOn(), r.requestsSince() < 0 ? "(no --journal)" : r.requestsSince());
            }
            table.print(out);
        }
        out.println();
        out.println("Rows not checked for more than " + maxAgeDays + " days (asOf before " + day.minusDays(maxAgeDays) + "):");
        if (stale.isEmpty()) {
            out.println("  none");
        } else {
            AdminCommands.Table table = new AdminCommands.Table("PROVIDER", "MODEL", "AS OF", "SOURCE");
            for (ModelRow row : stale) {
                table.row(row.provider(), row.model(), row.asOf(), row.source());
            }
            table.print(out);
        }
        out.println();
        out.println("Rows past their effective period (effectiveUntil at or before " + day.atStartOfDay(ZoneOffset.UTC).toInstant() + "):");
        if (past.isEmpty()) {
            out.println("  none");
        } else {
            AdminCommands.Table table = new AdminCommands.Table("PROVIDER", "MODEL", "EFFECTIVE FROM", "EFFECTIVE UNTIL");
            for (ModelRow row : past) {
                table.row(row.provider(), row.model(), row.effectiveFrom() == null ? "(since always)" : row.effectiveFrom(), row.effectiveUntil());
            }
            table.print(out);
        }
        long trafficked = retired.stream().filter(r -> r.requestsSince() > 0).count();
        out.println();
        out.println(trafficked + " retired model(s) with traffic, " + stale.size() + " stale row(s), " + past.size() + " row(s) past their period.");
    }

    private void printJson(PrintWriter out, LocalDate day, List<Retired> retired, List<ModelRow> stale, List<ModelRow> past) {
        ObjectNode root = JSON.createObjectNode();
        root.put("today", day.toString());
        root.put("max_age_days", maxAgeDays);
        ArrayNode retiredRows = root.putArray("retired");
        for (Retired r : retired) {
            ObjectNode node = retiredRows.addObject().put("provider", r.row().provider()).put("model", r.row().model())
                    .put("retired_on", r.row().retiredOn().toString());
            if (r.requestsSince() >= 0) {
                node.put("requests_since", r.requestsSince());
            } else {
                node.putNull("requests_since");
            }
        }
        ArrayNode staleRows = root.putArray("stale");
        for (ModelRow row : stale) {
            staleRows.addObject().put("provider", row.provider()).put("model", row.model()).put("as_of", row.asOf().toString())
                    .put("source", String.valueOf(row.source()));
        }
        ArrayNode pastRows = root.putArray("past_effective_period");
        for (ModelRow row : past) {
            pastRows.addObject().put("provider", row.provider()).put("model", row.model())
                    .put("effective_from", row.effectiveFrom() == null ? null : row.effectiveFrom().toString())
                    .put("effective_until", row.effectiveUntil().toString()).put("row_version", row.rowVersion());
        }
        out.println(root.toPrettyString());
    }
}
