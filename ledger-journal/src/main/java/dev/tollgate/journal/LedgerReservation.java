package dev.tollgate.journal;

import dev.tollgate.journal.JournalEvent.Released;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.JournalEvent.ReservationExtended;
import dev.tollgate.journal.JournalEvent.Settled;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.Reservation;
import dev.tollgate.metering.Usage;

/**
 * A {@link Reservation} whose every change is also a journal record, written by the ledger's
 * {@link JournalWriter} in the order of the calls. Exactly one settle or release ends it. Each change
 * has a form that waits for the journal and one that only tells a callback (for event loops).
 */
public final class LedgerReservation {
    /** Why a settled reservation was released after all: the journal could not keep its debit. */
    public static final String NOT_JOURNALED_REASON = "debit_not_journaled";

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

    /** Holds at least {@code minMicros} and at most {@code maxMicros} more and waits until that is journaled; false when the balance cannot. */
    public boolean extend(long minMicros, long maxMicros) {
        JournalWriter.Acknowledgement journaled = new JournalWriter.Acknowledgement();
        boolean extended = extend(minMicros, maxMicros, journaled);
        if (extended) {
            journaled.await(ledger.writer());
        }
        return extended;
    }

    /**
     * Holds more as above, at once; the extension is journaled in order and {@code whenJournaled} (may be
     * null; not called when nothing more was held) is told when it is.
     */
    public boolean extend(long minMicros, long maxMicros, JournalWriter.Appended whenJournaled) {
        // False also when the reservation closed meanwhile: the money went back, nothing to record.
        long moreMicros = reservation.extendMicros(minMicros, maxMicros);
        if (moreMicros < 0) {
            return false;
        }
        if (moreMicros > 0) {
            // With minMicros 0 and nothing available the extension holds nothing more: it succeeded,
            // but there is no change of money to record (and a zero extension is not a valid record).
            ledger.writer().submit(new ReservationExtended(ledger.now(), reservationId, moreMicros), whenJournaled);
        } else if (whenJournaled != null) {
            whenJournaled.appended(null); // nothing to record
        }
        return true;
    }

    /**
     * Journals that the usage read for this reservation was beyond what its request could use: {@code reported} as read,
     * {@code billed} within the bounds. Submitted before the settlement, so it precedes it in the journal; not awaited
     * (it moves no money, and a drift record the journal refuses loses only the evidence, never a debit).
     */
    public void recordDrift(Usage reported, Usage billed) {
        JournalEvent.UsageDrift record = new JournalEvent.UsageDrift(ledger.now(), reservationId, reported, billed);
        JournalCodec.validate(record);
        ledger.writer().submit(record, null);
    }

    /** Debits {@code costMicros} and waits until the debit is journaled; null if the reservation was already closed. */
    public Reservation.Settlement settle(long costMicros, RequestFacts facts, Usage usage, boolean usageReportedByProvider, String reason) {
        JournalWriter.Acknowledgement journaled = new JournalWriter.Acknowledgement();
        Reservation.Settlement settlement = settle(costMicros, facts, usage, usageReportedByProvider, reason, journaled);
        if (settlement != null) {
            journaled.await(ledger.writer());
        }
        return settlement;
    }

    /**
     * Debits {@code costMicros} at once and journals the debit; {@code whenJournaled} (may be null) is
     * told when it is in the journal (on the writer's thread, or on this one before this returns). Null if the reservation was already closed
     * (then nothing is journaled and the callback is not called).
     */
    public Reservation.Settlement settle(long costMicros, RequestFacts facts, Usage usage, boolean usageReportedByProvider, String reason,
                                         JournalWriter.Appended whenJournaled) {
        return settle(costMicros, facts, usage, usageReportedByProvider, reason, whenJournaled, () -> reservation.settle(costMicros));
    }

    /**
     * The debit of {@code debitMicros} from the balance, made by {@code closing} on the counters and then journaled.
     * The record is checked before the reservation closes: one that fails validation after the counters moved would leave
     * a debit the journal never sees (and a reservation that is closed here but open in the journal, so the next recovery
     * would release it and undo the debit). Only the split between debit and write-off is unknown yet, and any split is valid.
     */
    private Reservation.Settlement settle(long debitMicros, RequestFacts facts, Usage usage, boolean usageReportedByProvider, String reason,
                                          JournalWriter.Appended whenJournaled, java.util.function.Supplier<Reservation.Settlement> closing) {
        long nowMs = ledger.now();
        JournalCodec.validate(new Settled(nowMs, reservationId, facts, usage, usageReportedByProvider, debitMicros, debitMicros, 0, reason));
        Reservation.Settlement settlement = closing.get();
        if (settlement != null) {
            ledger.writer().submit(new Settled(nowMs, reservationId, facts, usage, usageReportedByProvider, debitMicros,
                    settlement.debitedMicros(), settlement.writtenOffMicros(), reason), failure -> {
                if (failure != null) {
                    // The journal still holds this reservation open, and the client is told it failed: undo the
                    // debit here too, and record the release once the journal takes records again.
                    reservation.refund(settlement);
                    ledger.recordLater(new Released(ledger.now(), reservationId, facts, NOT_JOURNALED_REASON));
                }
                if (whenJournaled != null) {
                    whenJournaled.appended(failure);
                }
            });
            ledger.alerts().afterSettle(key, reservation.day(), reservation.month(), nowMs);
        }
        return settlement;
    }

    /** Whether the provider bills this request's tokens (a direct route): settle it with {@link #settleDirect}. */
    public boolean direct() {
        return reservation.direct();
    }

    /** What the request's cost at the catalog price may reach before an extension is needed ({@link Reservation#coverageMicros}). */
    public long coverageMicros() {
        return reservation.coverageMicros();
    }

    /**
     * Settles a direct reservation: the balance is debited {@code feeMicros}, the platform fee, and the key's caps count the
     * fee and the provider's cost, which {@code facts} carries as its {@code directCostMicros}. Journaled and told as
     * {@link #settle(long, RequestFacts, Usage, boolean, String, JournalWriter.Appended)}.
     */
    public Reservation.Settlement settleDirect(long feeMicros, RequestFacts facts, Usage usage, boolean usageReportedByProvider, String reason,
                                               JournalWriter.Appended whenJournaled) {
        if (!facts.direct()) {
            throw new IllegalArgumentException("a direct settlement's facts name no direct cost");
        }
        return settle(feeMicros, facts, usage, usageReportedByProvider, reason, whenJournaled,
                () -> reservation.settleDirect(feeMicros, facts.directCostMicros()));
    }

    /** Returns the whole reservation and waits until the release is journaled; false if it was already closed. */
    public boolean release(RequestFacts facts, String reason) {
        JournalWriter.Acknowledgement journaled = new JournalWriter.Acknowledgement();
        if (!release(facts, reason, journaled)) {
            return false;
        }
        journaled.await(ledger.writer());
        return true;
    }

    /** Returns the whole reservation at once and journals why; {@code whenJournaled} may be null. False if already closed. */
    public boolean release(RequestFacts facts, String reason, JournalWriter.Appended whenJournaled) {
        Released record = new Released(ledger.now(), reservationId, facts, reason);
        JournalCodec.validate(record); // before the reservation closes, as in settle
        if (!reservation.release()) {
            return false;
        }
        ledger.writer().submit(record, failure -> {
            if (failure != null) {
                ledger.recordLater(record); // the counters have released; the journal will say so when it can
            }
            if (whenJournaled != null) {
                whenJournaled.appended(failure);
            }
        });
        return true;
    }

    /**
     * Returns the money of a reservation whose own record could not be journaled, recording nothing:
     * for the journal it never existed.
     */
    public void abandon() {
        reservation.release();
    }
}
