package dev.tollgate.metering;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Money held for one request between admission and its outcome. It ends in exactly one
 * {@link #settle settle} or one {@link #release release}: the first call wins and every later one
 * is refused, so a timeout racing a normal completion cannot close it twice.
 *
 * <p>The whole life of a reservation is one word, {@code state}: the micros it holds, with the sign
 * bit set once it is closed. Every change (an extension adding to the amount, a close setting the
 * bit) is one compare-and-set on that word, so an extension and a close from different threads are
 * ordered: either the extension lands first and the close returns it with the rest, or the close
 * lands first and the extension gives its money straight back to the balance. No interleaving loses
 * an extension or closes twice.
 */
public final class Reservation {
    private static final long CLOSED_BIT = Long.MIN_VALUE;
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Reservation.class, "state", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Balances balances;
    private final int accountSlot;
    /** Held micros in the low 63 bits; {@link #CLOSED_BIT} set once settled or released. */
    @SuppressWarnings("unused") // accessed through STATE
    private volatile long state;

    private Reservation(Balances balances, int accountSlot, long heldMicros) {
        this.balances = balances;
        this.accountSlot = accountSlot;
        this.state = heldMicros;
    }

    /** Reserves up to {@code maxMicros} if at least {@code minMicros} is available; null when it is not. */
    public static Reservation tryReserve(Balances balances, int accountSlot, long minMicros, long maxMicros) {
        long held = balances.reserveUpTo(accountSlot, minMicros, maxMicros);
        return held < 0 ? null : new Reservation(balances, accountSlot, held);
    }

    public int accountSlot() {
        return accountSlot;
    }

    /** What the reservation holds now, or held when it closed. */
    public long heldMicros() {
        return state & ~CLOSED_BIT;
    }

    public boolean isClosed() {
        return state < 0;
    }

    /**
     * Holds more money for a response that outgrows its reservation: at least {@code minMicros},
     * at most {@code maxMicros}. Returns false, holding nothing more, when even the minimum is not
     * available or the reservation is already closed (also when it closes while this runs: the
     * money then goes straight back to the balance).
     */
    public boolean extend(long minMicros, long maxMicros) {
        return extendMicros(minMicros, maxMicros) >= 0;
    }

    /**
     * As {@link #extend}, but says how much more is held: the amount (0 when {@code minMicros} is 0
     * and nothing was available), or -1 when nothing more is held because the minimum is not
     * available or the reservation is closed.
     */
    public long extendMicros(long minMicros, long maxMicros) {
        if (isClosed()) {
            return -1;
        }
        long more = balances.reserveUpTo(accountSlot, minMicros, maxMicros);
        if (more < 0) {
            return -1;
        }
        while (true) {
            long current = state;
            if (current < 0 || more > Long.MAX_VALUE - current) {
                // Closed between the check and the withdrawal, so the close did not see this money
                // (or the sum would reach the closed bit): it goes back untouched.
                balances.release(accountSlot, more);
                return -1;
            }
            if (STATE.compareAndSet(this, current, current + more)) {
                return more;
            }
        }
    }

    /**
     * Debits the actual cost and returns the rest of the reservation to the balance.
     *
     * @return the settlement, or null if this reservation was already closed (nothing changes then)
     */
    public Settlement settle(long costMicros) {
        if (costMicros < 0) {
            throw new IllegalArgumentException("negative cost: " + costMicros);
        }
        long held = close();
        if (held < 0) {
            return null;
        }
        long writtenOff = balances.settle(accountSlot, held, costMicros);
        return new Settlement(held, costMicros - writtenOff, writtenOff);
    }

    /**
     * Turns this reservation's {@code settlement} into a release after the fact: the debit goes back to the
     * balance. For a debit whose record the journal could not keep; call at most once per settlement.
     */
    public void refund(Settlement settlement) {
        if (!isClosed()) {
            throw new IllegalStateException("refund of a reservation that was never settled");
        }
        balances.refund(accountSlot, settlement.debitedMicros(), settlement.writtenOffMicros());
    }

    /** Returns the whole reservation: the request cost nothing. False if it was already closed. */
    public boolean release() {
        long held = close();
        if (held < 0) {
            return false;
        }
        balances.release(accountSlot, held);
        return true;
    }

    /** Sets the closed bit; returns the micros held at that instant, or -1 if another close won. */
    private long close() {
        while (true) {
            long current = state;
            if (current < 0) {
                return -1;
            }
            if (STATE.compareAndSet(this, current, current | CLOSED_BIT)) {
                return current;
            }
        }
    }

    /**
     * @param heldMicros        what the reservation held when it closed
     * @param debitedMicros     what the account paid
     * @param writtenOffMicros  cost beyond the reservation that the balance could not cover
     */
    public record Settlement(long heldMicros, long debitedMicros, long writtenOffMicros) {
    }
}
