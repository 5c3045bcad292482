package dev.tollgate.journal;

import dev.tollgate.journal.JournalEvent.Released;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.JournalEvent.ReservationExtended;
import dev.tollgate.journal.JournalEvent.Settled;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.Reservation;
import dev.tollgate.metering.Usage;

/** A {@link Reservation} whose every change is also a journal record. Exactly one settle or release ends it. */
public final class LedgerReservation {
    private final Ledger ledger;
    private final Reservation reservation;
    private final long reservationId;
    private final ApiKeys.ApiKey key;

    LedgerReservation(Ledger ledger, Reservation reservation, long reservationId, ApiKeys.ApiKey key) {
        this.ledger = ledger;
        this.reservation = reservation;
        this.reservationId = reservationId;
        this.key = key;
    }

    public long reservationId() {
        return reservationId;
    }

    public long heldMicros() {
        return reservation.heldMicros();
    }

    public boolean isClosed() {
        return reservation.isClosed();
    }

    public ApiKeys.ApiKey key() {
        return key;
    }

    /** Holds at least {@code minMicros} and at most {@code maxMicros} more; false when the balance cannot. */
    public boolean extend(long minMicros, long maxMicros) {
        long before = reservation.heldMicros();
        if (!reservation.extend(minMicros, maxMicros)) {
            return false;
        }
        long moreMicros = reservation.heldMicros() - before;
        if (moreMicros > 0) {
            // With minMicros 0 and nothing available the extension holds nothing more: it succeeded,
            // but there is no change of money to record (and a zero extension is not a valid record).
            ledger.journal().append(new ReservationExtended(ledger.now(), reservationId, moreMicros));
        }
        return true;
    }

    /** Debits {@code costMicros} and journals the debit; null if the reservation was already closed. */
    public Reservation.Settlement settle(long costMicros, RequestFacts facts, Usage usage, boolean usageReportedByProvider, String reason) {
        long nowMs = ledger.now();
        // The record is checked before the reservation closes: one that fails validation after the
        // counters moved would leave a debit the journal never sees (and a reservation that is closed
        // here but open in the journal, so the next recovery would release it and undo the debit).
        // Only the split between debit and write-off is unknown yet, and any split is valid.
        JournalCodec.validate(new Settled(nowMs, reservationId, facts, usage, usageReportedByProvider, costMicros, costMicros, 0, reason));
        Reservation.Settlement settlement = reservation.settle(costMicros);
        if (settlement != null) {
            ledger.journal().append(new Settled(nowMs, reservationId, facts, usage, usageReportedByProvider, costMicros,
                    settlement.debitedMicros(), settlement.writtenOffMicros(), reason));
        }
        return settlement;
    }

    /** Returns the whole reservation and journals why; false if it was already closed. */
    public boolean release(RequestFacts facts, String reason) {
        Released record = new Released(ledger.now(), reservationId, facts, reason);
        JournalCodec.validate(record); // before the reservation closes, as in settle
        if (!reservation.release()) {
            return false;
        }
        ledger.journal().append(record);
        return true;
    }
}
