package dev.tollgate.journal.reconcile;

/**
 * How often the reconciler snapshots and checks. Each setting is a trio, as in Agrona: the system
 * property that sets it, its default, and the accessor.
 *
 * @param snapshotEveryRecords write a snapshot after this many records applied since the last one
 * @param snapshotEveryMs      or after this long, if anything was applied since the last one
 * @param checkEveryMs         compare the journal-derived balances with the live counters this often, when caught up
 * @param confirmDriftMs       a difference counts as drift only if it is still there, unchanged and with no new
 *                             record, this much later (a request between its counter update and its journal
 *                             append is a difference for microseconds)
 * @param batchLimit           records applied per batch (queries wait at most one batch)
 * @param idleWaitMs           how long the thread waits for new records once caught up
 */
public record ReconcilerSettings(long snapshotEveryRecords, long snapshotEveryMs, long checkEveryMs, long confirmDriftMs, int batchLimit,
                                 long idleWaitMs) {
    public static final String SNAPSHOT_EVERY_RECORDS_PROP = "tollgate.reconciler.snapshotEveryRecords";
    /** Bounds what start-up replays after the newest snapshot (plus what arrived in the last period). */
    public static final long SNAPSHOT_EVERY_RECORDS_DEFAULT = 250_000;
    public static final String SNAPSHOT_EVERY_MS_PROP = "tollgate.reconciler.snapshotEveryMs";
    public static final long SNAPSHOT_EVERY_MS_DEFAULT = 60_000;
    public static final String CHECK_EVERY_MS_PROP = "tollgate.reconciler.checkEveryMs";
    public static final long CHECK_EVERY_MS_DEFAULT = 1_000;
    public static final String CONFIRM_DRIFT_MS_PROP = "tollgate.reconciler.confirmDriftMs";
    public static final long CONFIRM_DRIFT_MS_DEFAULT = 50;
    public static final String BATCH_LIMIT_PROP = "tollgate.reconciler.batchLimit";
    public static final int BATCH_LIMIT_DEFAULT = 4_096;
    public static final String IDLE_WAIT_MS_PROP = "tollgate.reconciler.idleWaitMs";
    public static final long IDLE_WAIT_MS_DEFAULT = 10;

    public ReconcilerSettings {
        require(snapshotEveryRecords > 0, SNAPSHOT_EVERY_RECORDS_PROP);
        require(snapshotEveryMs > 0, SNAPSHOT_EVERY_MS_PROP);
        require(checkEveryMs > 0, CHECK_EVERY_MS_PROP);
        require(confirmDriftMs >= 0, CONFIRM_DRIFT_MS_PROP);
        require(batchLimit > 0, BATCH_LIMIT_PROP);
        require(idleWaitMs > 0, IDLE_WAIT_MS_PROP);
    }

    public static ReconcilerSettings defaults() {
        return new ReconcilerSettings(SNAPSHOT_EVERY_RECORDS_DEFAULT, SNAPSHOT_EVERY_MS_DEFAULT, CHECK_EVERY_MS_DEFAULT, CONFIRM_DRIFT_MS_DEFAULT,
                BATCH_LIMIT_DEFAULT, IDLE_WAIT_MS_DEFAULT);
    }

    /** The defaults, overridden by any of the properties above that is set. */
    public static ReconcilerSettings fromSystemProperties() {
        return new ReconcilerSettings(
                Long.getLong(SNAPSHOT_EVERY_RECORDS_PROP, SNAPSHOT_EVERY_RECORDS_DEFAULT),
                Long.getLong(SNAPSHOT_EVERY_MS_PROP, SNAPSHOT_EVERY_MS_DEFAULT),
                Long.getLong(CHECK_EVERY_MS_PROP, CHECK_EVERY_MS_DEFAULT),
                Long.getLong(CONFIRM_DRIFT_MS_PROP, CONFIRM_DRIFT_MS_DEFAULT),
                Integer.getInteger(BATCH_LIMIT_PROP, BATCH_LIMIT_DEFAULT),
                Long.getLong(IDLE_WAIT_MS_PROP, IDLE_WAIT_MS_DEFAULT));
    }

    public ReconcilerSettings withSnapshotEvery(long records, long ms) {
        return new ReconcilerSettings(records, ms, checkEveryMs, confirmDriftMs, batchLimit, idleWaitMs);
    }

    public ReconcilerSettings withCheckEvery(long ms) {
        return new ReconcilerSettings(snapshotEveryRecords, snapshotEveryMs, ms, confirmDriftMs, batchLimit, idleWaitMs);
    }

    public ReconcilerSettings withBatchLimit(int records) {
        return new ReconcilerSettings(snapshotEveryRecords, snapshotEveryMs, checkEveryMs, confirmDriftMs, records, idleWaitMs);
    }

    private static void require(boolean condition, String property) {
        if (!condition) {
            throw new IllegalArgumentException(property + " out of range");
        }
    }
}
