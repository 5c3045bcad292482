package dev.tollgate.proxy.faults;

import dev.tollgate.journal.JournalEvent;
import dev.tollgate.journal.LedgerState;
import dev.tollgate.proxy.TestGateways;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The money invariants, checked after a fault scenario once its exchanges have ended: conservation and
 * {@code available >= 0} per account, nothing still held, exactly one outcome per reservation, each debit plus
 * write-off equal to its cost, and the journal replayed from empty equal to the live counters.
 */
public final class InvariantChecker {
    private InvariantChecker() {
    }

    /**
     * @param violations  what does not hold, each said in a sentence; empty when every invariant holds
     * @param reservations reservations the journal holds
     */
    public record Report(List<String> violations, int reservations, int settled, int released) {
        public void assertHolds() {
            if (!violations.isEmpty()) {
                throw new AssertionError(violations.size() + " invariant violation(s):\n  " + String.join("\n  ", violations));
            }
        }
    }

    public static Report check(TestGateways test) {
        List<String> violations = new ArrayList<>();
        var balances = test.gateway.accounts().balances();
        int slot = test.slot();
        if (balances.conservationErrorMicros(slot) != 0) {
            violations.add("conservation is off by " + balances.conservationErrorMicros(slot) + " micros");
        }
        if (balances.availableMicros(slot) < 0) {
            violations.add("available is negative: " + balances.availableMicros(slot));
        }
        if (balances.reservedMicros(slot) != 0) {
            violations.add(balances.reservedMicros(slot) + " micros still held after every exchange ended");
        }
        Map<Long, Long> heldById = new HashMap<>();
        Map<Long, Integer> outcomesById = new HashMap<>();
        int[] settled = {0};
        int[] released = {0};
        LedgerState replayed = test.replayJournal();
        test.journal.readAfter(-1, (index, event) -> {
            switch (event) {
                case JournalEvent.ReservationMade made -> heldById.put(made.reservationId(), made.amountMicros());
                case JournalEvent.ReservationExtended extended -> heldById.merge(extended.reservationId(), extended.amountMicros(), Long::sum);
                case JournalEvent.Settled settle -> {
                    settled[0]++;
                    outcomesById.merge(settle.reservationId(), 1, Integer::sum);
                    // A debit may exceed what was held (output a provider sent past the cap is billed from available),
                    // so the bound on a debit is checked per scenario, against the output it really carried.
                    if (!heldById.containsKey(settle.reservationId())) {
                        violations.add("reservation " + settle.reservationId() + " settled before it was made");
                    }
                    if (settle.debitedMicros() + settle.writtenOffMicros() != settle.costMicros()) {
                        violations.add("reservation " + settle.reservationId() + ": debited + written off != cost");
                    }
                }
                case JournalEvent.Released release -> {
                    released[0]++;
                    outcomesById.merge(release.reservationId(), 1, Integer::sum);
                }
                default -> {
                }
            }
        });
        for (Long id : heldById.keySet()) {
            int outcomes = outcomesById.getOrDefault(id, 0);
            if (outcomes != 1) {
                violations.add("reservation " + id + " has " + outcomes + " outcomes");
            }
        }
        for (Long id : outcomesById.keySet()) {
            if (!heldById.containsKey(id)) {
                violations.add("an outcome for reservation " + id + ", which was never made");
            }
        }
        var account = replayed.account(TestGateways.ACCOUNT);
        if (account.availableMicros() != balances.availableMicros(slot) || account.reservedMicros() != balances.reservedMicros(slot)) {
            violations.add("the journal replayed (available " + account.availableMicros() + ", held " + account.reservedMicros()
                    + ") differs from the counters (available " + balances.availableMicros(slot) + ", held " + balances.reservedMicros(slot) + ")");
        }
        return new Report(List.copyOf(violations), heldById.size(), settled[0], released[0]);
    }
}
