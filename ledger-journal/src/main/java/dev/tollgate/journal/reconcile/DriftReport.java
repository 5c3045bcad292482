package dev.tollgate.journal.reconcile;

import java.util.List;

/**
 * The conservation check: the balances the journal gives (the reconciler's replayed ledger) against
 * the live Agrona counters.
 *
 * <p>Drift, precisely: for every account open on either side, the absolute differences
 * {@code live - journal} of its five counters (credited, debited, available, reserved, written off),
 * summed over counters and accounts, in micro-units. It is measured only at a quiescent point:
 * the reconciler has applied the journal's last record, and the journal's last index is the same
 * before and after the live counters are read. A difference is then reported only if a second
 * comparison {@link ReconcilerSettings#confirmDriftMs()} later, with still no new record, finds the same
 * differences: a request between its counter update and its journal append (the ledger does one,
 * then the other) makes a difference for microseconds, which the second look does not see. Requests
 * merely in flight make none: their reservation is both in the counters and in the journal.
 *
 * @param status       {@link Status#CONSISTENT} (drift 0) or {@link Status#DRIFT} are conclusive; the others say why no
 *                     figure could be measured
 * @param journalIndex the journal index the comparison was made at
 * @param checkedAtMs  when
 * @param driftMicros  the drift defined above (0 unless {@code DRIFT})
 * @param accounts     the accounts that differ, with their signed differences
 */
public record DriftReport(Status status, long journalIndex, long checkedAtMs, long driftMicros, List<AccountDrift> accounts) {

    public enum Status {
        /** Journal and counters agree exactly. */
        CONSISTENT,
        /** They differ, and kept differing with no record appended between two looks. */
        DRIFT,
        /** Not yet measured since start. */
        NOT_CHECKED,
        /** The reconciler has not applied the journal's last record yet. */
        NOT_CAUGHT_UP,
        /** Records were appended while comparing, or the difference changed between the two looks. */
        NOT_QUIESCENT,
        /** The reconciler runs without live counters (offline). */
        NO_LIVE_COUNTERS,
        /** The reconciler stopped on a record it could not apply. */
        FAILED
    }

    /** One account's {@code live - journal} differences, in micro-units. */
    public record AccountDrift(String accountId, long creditedMicros, long debitedMicros, long availableMicros, long reservedMicros,
                               long writtenOffMicros) {
        public long totalMicros() {
            return Math.abs(creditedMicros) + Math.abs(debitedMicros) + Math.abs(availableMicros) + Math.abs(reservedMicros)
                    + Math.abs(writtenOffMicros);
        }
    }

    public DriftReport {
        accounts = List.copyOf(accounts);
    }

    static DriftReport inconclusive(Status status, long journalIndex, long checkedAtMs) {
        return new DriftReport(status, journalIndex, checkedAtMs, 0, List.of());
    }

    public boolean conclusive() {
        return status == Status.CONSISTENT || status == Status.DRIFT;
    }
}
