package dev.tollgate.journal.reconcile;

import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent;
import dev.tollgate.journal.LedgerState;
import dev.tollgate.journal.Snapshots;
import dev.tollgate.metering.AccountBook;
import java.nio.file.Path;
import java.time.Duration;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reconciliation, live: one thread, off the request path, reads the journal through the named
 * tailer {@value #TAILER_NAME} and applies every record to its own {@link Reconciliation} (a
 * replayed ledger and the rollups). The request path never waits for it.
 *
 * <p><b>Restarts.</b> Delivery is at-least-once and the work idempotent: what the reconciler has
 * applied is exactly what its snapshot says ({@link Reconciliation#lastIndex()}), so on start it
 * loads the newest snapshot, moves the tailer to just after the snapshot's index (wherever the
 * tailer itself had got to) and catches up. Records it had applied before a crash but after its
 * last snapshot are applied again, to a state that has not seen them; a record delivered twice to
 * the same state is skipped by index. Snapshots are written every
 * {@link ReconcilerSettings#snapshotEveryRecords()} records or {@link ReconcilerSettings#snapshotEveryMs()},
 * and on {@link #close()} after catching up to the end; recovery ({@code Ledger.recover}) reads the
 * same files, which is what keeps start-up replay short.
 *
 * <p><b>Conservation.</b> When caught up, every {@link ReconcilerSettings#checkEveryMs()} it compares
 * the journal-derived balances with the live counters ({@link #checkConservation()}; the figure is
 * defined in {@link DriftReport}) and logs a warning when they differ.
 *
 * <p>Queries from other threads ({@link #usage}, {@link #statement}, {@link #read}) take a read lock
 * that the thread holds for one batch at a time.
 */
public final class Reconciler implements AutoCloseable {
    public static final String TAILER_NAME = "reconciler";
    private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);

    private final Journal journal;
    private final Path snapshotDirectory;
    private final AccountBook live;
    private final ReconcilerSettings settings;
    private final LongSupplier clockMs;
    private final Reconciliation reconciliation;
    private final long startIndex;
    private final long seekAfter;
    private final String tailerName;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Thread thread;

    private volatile long appliedIndex;
    private volatile long appliedTimestampMs;
    private volatile long snapshotIndex;
    private volatile boolean stopping;
    private volatile boolean finalSnapshot = true;
    private volatile boolean snapshotRequested;
    private volatile Throwable failure;
    private volatile DriftReport drift;
    private long lastWarnedDriftMicros;

    private Reconciler(Journal journal, Path snapshotDirectory, AccountBook live, ReconcilerSettings settings, LongSupplier clockMs,
                       Reconciliation reconciliation, String tailerName, long seekAfter, long snapshotIndex) {
        this.journal = journal;
        this.snapshotDirectory = snapshotDirectory;
        this.live = live;
        this.settings = settings;
        this.clockMs = clockMs;
        this.reconciliation = reconciliation;
        this.startIndex = reconciliation.lastIndex();
        this.seekAfter = seekAfter;
        this.tailerName = tailerName;
        this.appliedIndex = reconciliation.lastIndex();
        this.appliedTimestampMs = reconciliation.rollups().newestTimestampMs();
        this.snapshotIndex = snapshotIndex;
        this.drift = DriftReport.inconclusive(live == null ? DriftReport.Status.NO_LIVE_COUNTERS : DriftReport.Status.NOT_CHECKED, -1,
                clockMs.getAsLong());
        this.thread = Thread.ofPlatform().daemon().name("tollgate-reconciler").unstarted(this::run);
    }

    /**
     * Loads the newest snapshot of {@code snapshotDirectory} (rebuilding from the first record when
     * there is none with rollups) and starts the thread.
     *
     * @param live the node's live counters to check conservation against, or null for none
     */
    public static Reconciler start(Journal journal, Path snapshotDirectory, AccountBook live, ReconcilerSettings settings, LongSupplier clockMs) {
        return start(journal, snapshotDirectory, live, settings, clockMs, TAILER_NAME, null);
    }

    /**
     * As {@link #start(Journal, Path, AccountBook, ReconcilerSettings, LongSupplier)}, for tests: another
     * tailer name (two reconcilers on one journal), and the tailer starting after
     * {@code seekAfterOverride} instead of after the snapshot's index (re-delivering records the
     * snapshot already covers, as an at-least-once tailer may).
     */
    static Reconciler start(Journal journal, Path snapshotDirectory, AccountBook live, ReconcilerSettings settings, LongSupplier clockMs,
                            String tailerName, Long seekAfterOverride) {
        Objects.requireNonNull(journal, "journal");
        Objects.requireNonNull(snapshotDirectory, "snapshotDirectory");
        Snapshots.Loaded snapshot = Snapshots.latest(snapshotDirectory);
        Reconciliation reconciliation = Reconciliation.fromSnapshot(snapshot);
        long snapshotIndex = reconciliation == null ? Long.MIN_VALUE : reconciliation.lastIndex();
        if (reconciliation == null) {
            if (snapshot != null) {
                LOG.warn("snapshot {} has no reconciler rollups: rebuilding them from the first journal record", snapshot.file());
            }
            reconciliation = Reconciliation.empty();
        }
        long seekAfter = seekAfterOverride != null ? seekAfterOverride : reconciliation.lastIndex();
        Reconciler reconciler = new Reconciler(journal, snapshotDirectory, live, settings, clockMs, reconciliation, tailerName, seekAfter,
                snapshotIndex);
        reconciler.thread.start();
        return reconciler;
    }

    private void run() {
        try (Journal.Cursor cursor = journal.cursor(tailerName)) {
            // Chronicle tailers belong to the thread that made them: this one makes, uses and closes it.
            cursor.seekAfter(seekAfter);
            long sinceSnapshot = 0;
            long lastSnapshotMs = clockMs.getAsLong();
            long lastCheckMs = Long.MIN_VALUE;
            while (true) {
                if (stopping && !finalSnapshot) {
                    return; // halted: as if the process died here
                }
                long read = applyBatch(cursor);
                sinceSnapshot += read;
                long now = clockMs.getAsLong();
                if (read > 0) {
                    if (sinceSnapshot >= settings.snapshotEveryRecords()) {
                        snapshot();
                        sinceSnapshot = 0;
                        lastSnapshotMs = now;
                    }
                    continue;
                }
                // Caught up with the journal as it was a moment ago.
                if (stopping) {
                    if (snapshotIndex != reconciliation.lastIndex()) {
                        snapshot();
                    }
                    return;
                }
                if (snapshotRequested || (sinceSnapshot > 0 && now - lastSnapshotMs >= settings.snapshotEveryMs())) {
                    snapshotRequested = false;
                    snapshot();
                    sinceSnapshot = 0;
                    lastSnapshotMs = now;
                }
                if (live != null && (lastCheckMs == Long.MIN_VALUE || now - lastCheckMs >= settings.checkEveryMs())) {
                    checkConservation();
                    lastCheckMs = now;
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(settings.idleWaitMs()));
            }
        } catch (Throwable e) {
            failure = e;
            drift = DriftReport.inconclusive(DriftReport.Status.FAILED, appliedIndex, clockMs.getAsLong());
            LOG.error("the reconciler stopped at journal index {}: {}", Long.toHexString(appliedIndex), e.toString(), e);
        }
    }

    private long applyBatch(Journal.Cursor cursor) {
        lock.writeLock().lock();
        try {
            return cursor.read(settings.batchLimit(), this::applyOne);
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void applyOne(long index, JournalEvent event) {
        if (reconciliation.apply(index, event)) {
            appliedIndex = index;
            appliedTimestampMs = reconciliation.rollups().newestTimestampMs();
        }
    }

    /** Called on the reconciler thread only, the one writer, so it needs no lock to read the state. */
    private void snapshot() {
        try {
            reconciliation.writeSnapshot(snapshotDirectory);
            snapshotIndex = reconciliation.lastIndex();
        } catch (RuntimeException e) {
            // A full disk must not stop reconciliation; the next period tries again.
            LOG.error("the reconciler could not write a snapshot in {}: {}", snapshotDirectory, e.getMessage());
        }
    }

    /** Asks the thread for a snapshot once it is caught up, and waits (up to {@code timeout}) until it is written. */
    public boolean snapshotNow(Duration timeout) {
        long target = journal.lastIndex();
        snapshotRequested = true;
        LockSupport.unpark(thread);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (snapshotIndex < target || snapshotRequested) {
            if (failure != null || !thread.isAlive() || System.nanoTime() > deadline) {
                return false;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        return true;
    }

    /** Waits until every record appended before this call is applied; false on timeout or failure. */
    public boolean awaitCaughtUp(Duration timeout) {
        long target = journal.lastIndex();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (appliedIndex < target) {
            if (failure != null || !thread.isAlive() || System.nanoTime() > deadline) {
                return false;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        return true;
    }

    /** Records and milliseconds behind the journal's newest record. */
    public Lag lag() {
        long applied = appliedIndex;
        long last = journal.lastIndex();
        if (last <= applied) {
            return new Lag(applied, last, 0, 0);
        }
        long behind = journal.recordsAfter(applied);
        long[] newest = {-1};
        journal.readBackward((index, event) -> {
            newest[0] = event.timestampMs();
            return false;
        });
        long appliedMs = appliedTimestampMs >= 0 ? appliedTimestampMs : firstTimestamp();
        return new Lag(applied, last, behind, Math.max(0, newest[0] - appliedMs));
    }

    private long firstTimestamp() {
        long[] first = {-1};
        try {
            journal.readAfter(-1, (index, event) -> {
                first[0] = event.timestampMs();
                throw STOP;
            });
        } catch (StopReading stop) {
            // one record was enough
        }
        return first[0];
    }

    private static final class StopReading extends RuntimeException {
        private static final long serialVersionUID = 1L;

        StopReading() {
            super(null, null, false, false);
        }
    }

    private static final StopReading STOP = new StopReading();

    /** The last conclusive conservation check (or why there is none yet). */
    public DriftReport drift() {
        return drift;
    }

    /**
     * Compares the journal-derived balances with the live counters now, on the calling thread, and
     * returns the result (see {@link DriftReport} for when it is conclusive). A conclusive result
     * becomes {@link #drift()}; a non-zero one is logged as a warning.
     */
    public DriftReport checkConservation() {
        DriftReport first = compareOnce();
        if (first.status() == DriftReport.Status.DRIFT) {
            if (settings.confirmDriftMs() > 0) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(settings.confirmDriftMs()));
            }
            DriftReport second = compareOnce();
            if (second.status() != DriftReport.Status.DRIFT || second.journalIndex() != first.journalIndex()
                    || !second.accounts().equals(first.accounts())) {
                return DriftReport.inconclusive(DriftReport.Status.NOT_QUIESCENT, second.journalIndex(), second.checkedAtMs());
            }
            first = second;
        }
        if (first.conclusive()) {
            publish(first);
        }
        return first;
    }

    private synchronized void publish(DriftReport report) {
        if (failure != null) {
            return;
        }
        drift = report;
        if (report.driftMicros() != 0 && report.driftMicros() != lastWarnedDriftMicros) {
            LOG.warn("conservation drift of {} micro-units between the journal and the live counters at journal index {}: {}",
                    report.driftMicros(), Long.toHexString(report.journalIndex()), report.accounts());
        } else if (report.driftMicros() == 0 && lastWarnedDriftMicros != 0) {
            LOG.info("the journal and the live counters agree again at journal index {}", Long.toHexString(report.journalIndex()));
        }
        lastWarnedDriftMicros = report.driftMicros();
    }

    private DriftReport compareOnce() {
        long now = clockMs.getAsLong();
        if (failure != null) {
            return DriftReport.inconclusive(DriftReport.Status.FAILED, appliedIndex, now);
        }
        if (live == null) {
            return DriftReport.inconclusive(DriftReport.Status.NO_LIVE_COUNTERS, appliedIndex, now);
        }
        lock.readLock().lock();
        try {
            long before = journal.lastIndex();
            if (reconciliation.lastIndex() != before) {
                return DriftReport.inconclusive(DriftReport.Status.NOT_CAUGHT_UP, before, now);
            }
            Map<String, AccountBook.AccountSnapshot> counters = new TreeMap<>();
            for (String accountId : live.accountIds()) {
                counters.put(accountId, live.snapshot(accountId));
            }
            if (journal.lastIndex() != before) {
                return DriftReport.inconclusive(DriftReport.Status.NOT_QUIESCENT, before, now);
            }
            LedgerState ledger = reconciliation.ledger();
            TreeSet<String> ids = new TreeSet<>(counters.keySet());
            ledger.accounts().forEach(account -> ids.add(account.id()));
            List<DriftReport.AccountDrift> differing = new ArrayList<>();
            long total = 0;
            for (String id : ids) {
                AccountBook.AccountSnapshot counter = counters.get(id);
                LedgerState.Account journaled = ledger.account(id);
                DriftReport.AccountDrift difference = new DriftReport.AccountDrift(id,
                        (counter == null ? 0 : counter.creditedMicros()) - (journaled == null ? 0 : journaled.creditedMicros()),
                        (counter == null ? 0 : counter.debitedMicros()) - (journaled == null ? 0 : journaled.debitedMicros()),
                        (counter == null ? 0 : counter.availableMicros()) - (journaled == null ? 0 : journaled.availableMicros()),
                        (counter == null ? 0 : counter.reservedMicros()) - (journaled == null ? 0 : journaled.reservedMicros()),
                        (counter == null ? 0 : counter.writtenOffMicros()) - (journaled == null ? 0 : journaled.writtenOffMicros()));
                if (difference.totalMicros() != 0) {
                    differing.add(difference);
                    total += difference.totalMicros();
                }
            }
            return new DriftReport(total == 0 ? DriftReport.Status.CONSISTENT : DriftReport.Status.DRIFT, before, now, total, differing);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Runs {@code query} against the reconciled state under the read lock (keep it short: the thread waits). */
    public <T> T read(Function<Reconciliation, T> query) {
        lock.readLock().lock();
        try {
            return query.apply(reconciliation);
        } finally {
            lock.readLock().unlock();
        }
    }

    public List<UsageRow> usage(UsageQuery query) {
        return read(reconciliation -> reconciliation.usage(query));
    }

    /** The account's statement for {@code month} as far as the reconciler has got; null for an unknown account. */
    /**
     * What each key had spent by {@code nowMs} in its UTC day, its UTC month and in total (hash to those three): debited from
     * the balance plus billed directly by a provider (a direct route's cost counts against the caps too), from
     * the rollups (by the hour each debit was settled): what a key's spend windows start from. Waits up to
     * {@code timeout} to catch up with the journal first.
     */
    public java.util.Map<String, long[]> spentByKey(long nowMs, Duration timeout) {
        if (!awaitCaughtUp(timeout)) {
            throw new IllegalStateException("the reconciler did not catch up with the journal within " + timeout, failure);
        }
        java.time.LocalDate today = java.time.Instant.ofEpochMilli(nowMs).atZone(java.time.ZoneOffset.UTC).toLocalDate();
        long[] starts = {today.atStartOfDay(java.time.ZoneOffset.UTC).toInstant().toEpochMilli(),
                today.withDayOfMonth(1).atStartOfDay(java.time.ZoneOffset.UTC).toInstant().toEpochMilli(), 0};
        java.util.Map<String, long[]> spent = new java.util.HashMap<>();
        for (int window = 0; window < starts.length; window++) {
            for (UsageRow row : usage(UsageQuery.of(starts[window], nowMs + 1, UsageQuery.Dimension.KEY))) {
                spent.computeIfAbsent(row.keyHash(), hash -> new long[3])[window] += row.totals().debitedMicros() + row.totals().directMicros();
            }
        }
        return spent;
    }

    public Statement statement(String accountId, YearMonth month) {
        return read(reconciliation -> reconciliation.statement(accountId, month));
    }

    /** The per-request log, from the journal itself (see {@link RequestLog}). */
    public RequestLog.Page requestLog(RequestLog.Query query) {
        return RequestLog.query(journal, query);
    }

    /** The rollups as their snapshot bytes: two reconcilers that applied the same records give equal bytes. */
    public byte[] serializedRollups() {
        return read(reconciliation -> reconciliation.rollups().serialize());
    }

    public String stateHash() {
        return read(reconciliation -> reconciliation.ledger().stateHash());
    }

    /** The snapshot index it started from (-1: from the first record). */
    public long startIndex() {
        return startIndex;
    }

    /** The index of the newest snapshot it wrote or started from ({@code Long.MIN_VALUE}: none). */
    public long snapshotIndex() {
        return snapshotIndex;
    }

    /** Why the thread stopped, or null while it runs (or after a clean close). */
    public Throwable failure() {
        return failure;
    }

    /** Catches up to the end of the journal, writes a final snapshot, and stops. Stop appending first. */
    @Override
    public void close() {
        stop(true);
    }

    /** Stops at once, without catching up or a final snapshot: what a crash leaves, for tests. */
    void halt() {
        stop(false);
    }

    private void stop(boolean withFinalSnapshot) {
        finalSnapshot = withFinalSnapshot;
        stopping = true;
        LockSupport.unpark(thread);
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
