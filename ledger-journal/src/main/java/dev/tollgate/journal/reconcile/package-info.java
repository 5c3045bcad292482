/**
 * Reconciliation: everything that reads the journal after the fact, off the request path.
 *
 * <ul>
 *   <li>{@link dev.tollgate.journal.reconcile.Reconciler}: a thread that tails the journal through the
 *       named tailer {@code reconciler}, keeps a replayed {@link dev.tollgate.journal.LedgerState} and
 *       {@link dev.tollgate.journal.reconcile.Rollups}, snapshots both, and checks the journal-derived
 *       balances against the live counters (drift) while reporting how far behind it is (lag).</li>
 *   <li>{@link dev.tollgate.journal.reconcile.Reconciliation}: the replayed state and rollups
 *       themselves, with the queries answered from them (usage, monthly statements); the offline
 *       commands build one from a snapshot plus the journal after it.</li>
 *   <li>{@link dev.tollgate.journal.reconcile.RequestLog} and
 *       {@link dev.tollgate.journal.reconcile.DebitExport}: the queries answered from the journal itself.</li>
 *   <li>{@link dev.tollgate.journal.reconcile.JournalArchiver} and
 *       {@link dev.tollgate.journal.reconcile.JournalVerifier}: the operator's offline tools.</li>
 * </ul>
 *
 * <p>Time: every record is placed by its own {@code timestampMs} (the time it was journaled), in
 * UTC. An hour, day or month contains a record when its timestamp falls inside it, whatever order
 * the records were appended in, so a statement's totals do not depend on how concurrent requests
 * interleaved.
 */
package dev.tollgate.journal.reconcile;
