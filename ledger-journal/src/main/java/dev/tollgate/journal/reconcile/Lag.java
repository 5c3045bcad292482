package dev.tollgate.journal.reconcile;

/**
 * How far the reconciler is behind the journal.
 *
 * @param appliedIndex  the last record it applied (-1: none)
 * @param journalIndex  the journal's last record (-1: empty)
 * @param recordsBehind records appended but not yet applied
 * @param millisBehind  the newest record's timestamp minus that of the newest record applied (0 when caught up)
 */
public record Lag(long appliedIndex, long journalIndex, long recordsBehind, long millisBehind) {
    public boolean caughtUp() {
        return recordsBehind == 0;
    }
}
