package dev.tollgate.metering;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Names the slots of {@link Balances}: which account lives where. Opening an account is rare and
 * synchronized; looking one up is a lock-free map read.
 */
public final class AccountBook {
    private final Balances balances;
    private final Map<String, Integer> slotById = new ConcurrentHashMap<>();
    private final String[] idBySlot;
    private int nextSlot;

    public AccountBook(int capacity) {
        this.balances = new Balances(capacity);
        this.idBySlot = new String[capacity];
    }

    public Balances balances() {
        return balances;
    }

    /** Opens an account with no money and returns its slot. */
    public synchronized int open(String accountId) {
        if (slotById.containsKey(accountId)) {
            throw new IllegalArgumentException("account already open: " + accountId);
        }
        if (nextSlot == idBySlot.length) {
            throw new IllegalStateException("all " + idBySlot.length + " account slots are in use (limits.maxAccounts)");
        }
        int slot = nextSlot++;
        idBySlot[slot] = accountId;
        slotById.put(accountId, slot);
        return slot;
    }

    /** The slot of an account, or -1 if no such account is open. */
    public int slotOf(String accountId) {
        Integer slot = slotById.get(accountId);
        return slot == null ? -1 : slot;
    }

    public synchronized List<String> accountIds() {
        // Only the opened slots: List.of refuses the nulls of the slots not yet in use.
        return List.of(Arrays.copyOf(idBySlot, nextSlot));
    }

    /** A consistent-enough view of one account for reports; exact when no request is in flight. */
    public AccountSnapshot snapshot(String accountId) {
        int slot = slotOf(accountId);
        if (slot < 0) {
            return null;
        }
        return new AccountSnapshot(accountId, balances.availableMicros(slot), balances.reservedMicros(slot),
                balances.creditedMicros(slot), balances.debitedMicros(slot), balances.writtenOffMicros(slot));
    }

    public record AccountSnapshot(String accountId, long availableMicros, long reservedMicros, long creditedMicros,
                                  long debitedMicros, long writtenOffMicros) {
    }
}
