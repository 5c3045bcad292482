package dev.tollgate.journal.reconcile;

import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent;
import dev.tollgate.journal.JournalEvent.Adjusted;
import dev.tollgate.journal.JournalEvent.CreditAdded;
import dev.tollgate.journal.LedgerState;
import dev.tollgate.journal.Snapshots;
import dev.tollgate.journal.reconcile.UsageQuery.Dimension;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The journal replayed for reconciliation: a {@link LedgerState} and the {@link Rollups} built from
 * the same records, always covering exactly the same journal prefix (up to {@link #lastIndex()}).
 * Persisted as one snapshot (the state, with the rollups as its extension bytes), which recovery
 * also reads. Applying a record at or before {@link #lastIndex()} changes nothing, so an
 * at-least-once reader can hand it the same records again.
 *
 * <p>Not thread-safe; {@link Reconciler} guards a live one, the offline commands own theirs.
 */
public final class Reconciliation {
    private final LedgerState ledger;
    private final Rollups rollups;

    private Reconciliation(LedgerState ledger, Rollups rollups) {
        this.ledger = ledger;
        this.rollups = rollups;
    }

    /** Nothing applied yet: the start of a replay from the first record. */
    public static Reconciliation empty() {
        return new Reconciliation(new LedgerState(), new Rollups());
    }

    /**
     * The reconciliation a snapshot carries, or null when the snapshot has no rollups (it was not
     * written by a reconciler), in which case the rollups can only be rebuilt from the first record.
     */
    public static Reconciliation fromSnapshot(Snapshots.Loaded snapshot) {
        if (snapshot == null || !Rollups.isRollups(snapshot.extension())) {
            return null;
        }
        return new Reconciliation(snapshot.state(), Rollups.deserialize(snapshot.extension()));
    }

    /**
     * The newest snapshot with rollups in {@code snapshotDirectory}, or an empty reconciliation when
     * there is none. Does not read the journal.
     */
    public static Reconciliation loadSnapshot(Path snapshotDirectory) {
        Snapshots.Loaded snapshot = snapshotDirectory == null ? null : Snapshots.latest(snapshotDirectory);
        Reconciliation loaded = fromSnapshot(snapshot);
        return loaded != null ? loaded : empty();
    }

    /**
     * The newest snapshot with rollups, then every journal record after it: what the offline commands
     * answer from. Reads {@code journal} only.
     *
     * @throws IllegalStateException when cycles were archived that no snapshot covers (the records
     *                               before the journal's first one are gone, so a replay would be wrong)
     */
    public static Reconciliation load(Journal journal, Path snapshotDirectory) {
        Reconciliation reconciliation = loadSnapshot(snapshotDirectory);
        long archivedThrough = snapshotDirectory == null ? -1 : JournalArchiver.archivedThrough(snapshotDirectory);
        if (archivedThrough > reconciliation.lastIndex()) {
            throw new IllegalStateException("cycles up to index " + Long.toHexString(archivedThrough) + " were archived, but the newest snapshot in "
                    + snapshotDirectory + " covers only up to " + Long.toHexString(reconciliation.lastIndex()));
        }
        journal.readAfter(reconciliation.lastIndex(), reconciliation::apply);
        return reconciliation;
    }

    /**
     * Applies the record at {@code index} to the state and the rollups. Returns false, changing
     * nothing, for a record already applied. A record that contradicts the state throws
     * {@link dev.tollgate.journal.LedgerReplayException} before anything changes.
     */
    public boolean apply(long index, JournalEvent event) {
        if (index <= ledger.lastIndex()) {
            return false;
        }
        // The ledger applies a credit or adjustment once per idempotency key; a statement must list it once too.
        boolean moneyApplied = switch (event.change()) {
            case CreditAdded e -> !ledger.idempotencyKeyApplied(e.accountId(), e.idempotencyKey());
            case Adjusted e -> !ledger.idempotencyKeyApplied(e.accountId(), e.idempotencyKey());
            default -> false;
        };
        ledger.apply(index, event);
        rollups.record(index, event, moneyApplied);
        return true;
    }

    /** Index of the last record applied, -1 before any. */
    public long lastIndex() {
        return ledger.lastIndex();
    }

    public LedgerState ledger() {
        return ledger;
    }

    public Rollups rollups() {
        return rollups;
    }

    /** Writes the state and the rollups as one snapshot (atomic, checksummed) and returns its file. */
    public Path writeSnapshot(Path snapshotDirectory) {
        return Snapshots.write(snapshotDirectory, ledger, rollups.serialize());
    }

    /** Usage for a time range, grouped as the query asks; rows sorted by day, account, key, provider, model, lane. */
    public List<UsageRow> usage(UsageQuery query) {
        Map<UsageRow, UsageTotals> groups = new TreeMap<>(ROW_ORDER);
        rollups.forEachRow(query.accountId(), query.fromMs(), query.toMs(), (key, totals) -> {
            if (query.keyHash() != null && !key.keyHash().startsWith(query.keyHash())) {
                return;
            }
            UsageRow group = new UsageRow(
                    query.groupBy().contains(Dimension.ACCOUNT) ? key.accountId() : null,
                    query.groupBy().contains(Dimension.KEY) ? key.keyHash() : null,
                    query.groupBy().contains(Dimension.MODEL) ? key.provider() : null,
                    query.groupBy().contains(Dimension.MODEL) ? key.model() : null,
                    query.groupBy().contains(Dimension.LANE) ? key.lane() : null,
                    query.groupBy().contains(Dimension.DAY) ? LocalDate.ofInstant(Instant.ofEpochMilli(key.hourStartMs()), ZoneOffset.UTC) : null,
                    null);
            groups.merge(group, totals, UsageTotals::plus);
        });
        List<UsageRow> rows = new ArrayList<>(groups.size());
        groups.forEach((group, totals) -> rows.add(new UsageRow(group.accountId(), group.keyHash(), group.provider(), group.model(),
                group.lane(), group.day(), totals)));
        return rows;
    }

    private static final Comparator<UsageRow> ROW_ORDER = Comparator
            .comparing(UsageRow::day, Comparator.nullsFirst(Comparator.naturalOrder()))
            .thenComparing(UsageRow::accountId, Comparator.nullsFirst(Comparator.naturalOrder()))
            .thenComparing(UsageRow::keyHash, Comparator.nullsFirst(Comparator.naturalOrder()))
            .thenComparing(UsageRow::provider, Comparator.nullsFirst(Comparator.naturalOrder()))
            .thenComparing(UsageRow::model, Comparator.nullsFirst(Comparator.naturalOrder()))
            .thenComparing(UsageRow::lane, Comparator.nullsFirst(Comparator.naturalOrder()));

    /** What a statement's debit line is of. */
    private record LineKey(String provider, String model, String rowVersion, String lane, int priceMultiplierBps, boolean direct) {
    }

    /**
     * The monthly statement of an account, from the credits and adjustments the rollups keep and the
     * hourly debit rows; null when the account was never opened. Needs no journal, so archiving old
     * cycles does not change it.
     */
    public Statement statement(String accountId, YearMonth month) {
        Objects.requireNonNull(month, "month");
        if (ledger.account(accountId) == null) {
            return null;
        }
        long startMs = month.atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
        long endMs = month.plusMonths(1).atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();

        long opening = 0;
        List<Statement.CreditLine> credits = new ArrayList<>();
        for (Rollups.CreditEntry credit : rollups.credits(accountId)) {
            if (credit.timestampMs() < startMs) {
                opening = Math.addExact(opening, credit.amountMicros());
            } else if (credit.timestampMs() < endMs) {
                credits.add(new Statement.CreditLine(credit.timestampMs(), credit.amountMicros(), credit.idempotencyKey()));
            }
        }
        List<Statement.AdjustmentLine> adjustments = new ArrayList<>();
        for (Rollups.AdjustmentEntry adjustment : rollups.adjustments(accountId)) {
            if (adjustment.timestampMs() < startMs) {
                opening = Math.addExact(opening, adjustment.amountMicros());
            } else if (adjustment.timestampMs() < endMs) {
                adjustments.add(new Statement.AdjustmentLine(adjustment.timestampMs(), adjustment.amountMicros(), adjustment.reason(),
                        adjustment.idempotencyKey()));
            }
        }
        long[] debitedBefore = {0};
        rollups.forEachRow(accountId, 0, startMs, (key, totals) -> debitedBefore[0] = Math.addExact(debitedBefore[0], totals.debitedMicros()));
        opening = Math.subtractExact(opening, debitedBefore[0]);

        // A line per price set, so a month spanning a price change shows each period's requests at its own prices, per
        // lane and multiplier, so a batch discount shows as the line it priced, and per billing path, so the provider-billed
        // spend stands beside the prepaid one.
        Map<LineKey, UsageTotals> byModelRow = new TreeMap<>(Comparator.comparing(LineKey::provider).thenComparing(LineKey::model)
                .thenComparing(LineKey::rowVersion).thenComparing(LineKey::lane).thenComparingInt(LineKey::priceMultiplierBps)
                .thenComparing(LineKey::direct));
        rollups.forEachRow(accountId, startMs, endMs, (key, totals) -> {
            if (totals.requests() > 0) {
                byModelRow.merge(new LineKey(key.provider(), key.model(), key.rowVersion(), key.lane(), key.priceMultiplierBps(), key.direct()),
                        totals.settledOnly(),
                        UsageTotals::plus);
            }
        });
        List<Statement.DebitLine> debits = new ArrayList<>(byModelRow.size());
        byModelRow.forEach((line, totals) -> debits.add(new Statement.DebitLine(line.provider(), line.model(), line.rowVersion(), line.lane(),
                line.priceMultiplierBps(), line.direct(), totals)));

        // Time order for the reader; the sort is stable, so equal timestamps keep journal order.
        credits.sort(Comparator.comparingLong(Statement.CreditLine::timestampMs));
        adjustments.sort(Comparator.comparingLong(Statement.AdjustmentLine::timestampMs));

        long closing = opening;
        for (Statement.CreditLine credit : credits) {
            closing = Math.addExact(closing, credit.amountMicros());
        }
        for (Statement.AdjustmentLine adjustment : adjustments) {
            closing = Math.addExact(closing, adjustment.amountMicros());
        }
        for (Statement.DebitLine debit : debits) {
            closing = Math.subtractExact(closing, debit.costMicros());
        }
        return new Statement(accountId, month, opening, credits, adjustments, debits, closing, rollups.newestTimestampMs());
    }
}
