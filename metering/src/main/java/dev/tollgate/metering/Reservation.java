package dev.tollgate.metering;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Money held for one request between admission and its outcome. It ends in exactly one
 * {@link #settle settle} or one {@link #release release}: the first call wins and every later one
 * is refused, so a timeout racing a normal completion cannot close it twice.
 *
 * <p>Extensions happen on the request's own event loop; only the closing transition is guarded
 * against other threads.
 */
public final class Reservation {
    private static final VarHandle CLOSED;

    static {
        try {
            CLOSED = MethodHandles.lookup().findVarHandle(Reservation.class, "closed", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Balances balances;
    private final int accountSlot;
    private long heldMicros;
    @SuppressWarnings("unused") // accessed through CLOSED
    private volatile boolean closed;

    private Reservation(Balances balances, int accountSlot, long heldMicros) {
        this.balances = balances;
        this.accountSlot = accountSlot;
        this.heldMicros = heldMicros;
    }

    /** Reserves up to {@code maxMicros} if at least {@code minMicros} is available; null when it is not. */
    public static Reservation tryReserve(Balances balances, int accountSlot, long minMicros, long maxMicros) {
        long held = balances.reserveUpTo(accountSlot, minMicros, maxMicros);
        return held < 0 ? null : new Reservation(balances, accountSlot, held);
    }

    public int accountSlot() {
        return accountSlot;
    }

    public long heldMicros() {
        return heldMicros;
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Holds more money for a response that outgrows its reservation: at least {@code minMicros},
     * at most {@code maxMicros}. Returns false, holding nothing more, when even the minimum is not available.
     */
    public boolean extend(long minMicros, long maxMicros) {
        if (closed) {
            throw new IllegalStateException("reservation already closed");
        }
        long more = balances.reserveUpTo(accountSlot, minMicros, maxMicros);
        if (more < 0) {
            return false;
        }
        heldMicros += more;
        return true;
    }

    /**
     * Debits the actual cost and returns the rest of the reservation to the balance.
     *
     * @return the settlement, or null if this reservation was already closed (nothing changes then)
     */
    public Settlement settle(long costMicros) {
        if (!CLOSED.compareAndSet(this, false, true)) {
            return null;
        }
        long writtenOff = balances.settle(accountSlot, heldMicros, costMicros);
        return new Settlement(heldMicros, costMicros - writtenOff, writtenOff);
    }

    /** Returns the whole reservation: the request cost nothing. False if it was already closed. */
    public boolean release() {
        if (!CLOSED.compareAndSet(this, false, true)) {
            return false;
        }
        balances.release(accountSlot, heldMicros);
        return true;
    }

    /**
     * @param heldMicros        what the reservation held when it closed
     * @param debitedMicros     what the account paid
     * @param writtenOffMicros  cost beyond the reservation that the balance could not cover
     */
    public record Settlement(long heldMicros, long debitedMicros, long writtenOffMicros) {
    }
}
