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
    private static final VarHandle DIRECT_STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Reservation.class, "state", long.class);
            DIRECT_STATE = MethodHandles.lookup().findVarHandle(Reservation.class, "directState", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Balances balances;
    private final int accountSlot;
    /** The key's spend caps, or null for a key without any; with the periods this reservation was admitted in. */
    private final SpendWindows windows;
    private final int windowSlot;
    private final int day;
    private final int month;
    /** Held micros in the low 63 bits; {@link #CLOSED_BIT} set once settled or released. */
    @SuppressWarnings("unused") // accessed through STATE
    private volatile long state;
    /** A direct reservation ({@link #tryReserveDirect}); false for one paid from the balance. */
    private final boolean direct;
    /**
     * Of a direct reservation, what the key's windows hold beyond {@code state} for the cost the provider bills (the balance
     * holds only the platform fee, in {@code state}); with {@link #CLOSED_BIT} set once closed, like {@code state}. 0 otherwise.
     */
    @SuppressWarnings("unused") // accessed through DIRECT_STATE
    private volatile long directState;
    /** Of a settled direct reservation, the cost the provider bills: what a refund takes back out of the windows. */
    private long directSettledMicros;

    private Reservation(Balances balances, int accountSlot, SpendWindows windows, int windowSlot, int day, int month, long heldMicros) {
        this(balances, accountSlot, windows, windowSlot, day, month, heldMicros, false, 0);
    }

    private Reservation(Balances balances, int accountSlot, SpendWindows windows, int windowSlot, int day, int month, long heldMicros,
                        boolean direct, long directHeldMicros) {
        this.balances = balances;
        this.accountSlot = accountSlot;
        this.windows = windows;
        this.windowSlot = windowSlot;
        this.day = day;
        this.month = month;
        this.direct = direct;
        this.directState = directHeldMicros;
        this.state = heldMicros;
    }

    /**
     * Reserves for a request whose provider tokens the provider bills the account directly: the balance holds exactly
     * {@code feeMicros} (the platform fee of the worst case), and the key's spend windows hold the fee plus between
     * {@code minCostMicros} and {@code maxCostMicros} of the provider's cost, all or none. A key without windows holds only
     * the fee: nothing here caps what the provider bills. Null when the balance lacks the fee or a window lacks the minimum.
     */
    public static Reservation tryReserveDirect(Balances balances, int accountSlot, SpendWindows windows, int windowSlot, long nowMs, long feeMicros,
                                               long minCostMicros, long maxCostMicros) {
        if (feeMicros < 0 || minCostMicros < 0 || maxCostMicros < minCostMicros) {
            throw new IllegalArgumentException("fee " + feeMicros + ", cost " + minCostMicros + ".." + maxCostMicros);
        }
        boolean capped = windows != null && windowSlot >= 0;
        int day = capped ? SpendWindows.dayOf(nowMs) : 0;
        int month = capped ? SpendWindows.monthOf(nowMs) : 0;
        long allowed = 0;
        if (capped) {
            allowed = windows.reserveUpTo(windowSlot, day, month, Math.addExact(minCostMicros, feeMicros), Math.addExact(maxCostMicros, feeMicros));
            if (allowed < 0) {
                return null;
            }
        }
        long held = balances.reserveUpTo(accountSlot, feeMicros, feeMicros);
        if (held < 0) {
            if (capped) {
                windows.adjust(windowSlot, day, month, -allowed);
            }
            return null;
        }
        return capped
                ? new Reservation(balances, accountSlot, windows, windowSlot, day, month, held, true, allowed - held)
                : new Reservation(balances, accountSlot, null, -1, 0, 0, held, true, 0);
    }

    /**
     * What the cost at the catalog price may reach before the reservation must be extended: what it holds, or for a
     * direct one what the windows hold for the provider's cost (unbounded for a key without windows: nothing caps it).
     */
    public long coverageMicros() {
        if (!direct) {
            return heldMicros();
        }
        return windows == null ? Long.MAX_VALUE / 4 : directHeldMicros();
    }

    /** Whether the provider bills this request's tokens ({@link #tryReserveDirect}). */
    public boolean direct() {
        return direct;
    }

    /** Of a direct reservation, what the key's windows hold for the provider's cost now (or when it closed); 0 otherwise. */
    public long directHeldMicros() {
        return directState & ~CLOSED_BIT;
    }

    /** Reserves up to {@code maxMicros} if at least {@code minMicros} is available; null when it is not. */
    public static Reservation tryReserve(Balances balances, int accountSlot, long minMicros, long maxMicros) {
        long held = balances.reserveUpTo(accountSlot, minMicros, maxMicros);
        return held < 0 ? null : new Reservation(balances, accountSlot, null, -1, 0, 0, held);
    }

    /**
     * Reserves as above against the account and every spend window of the key's slot in {@code windows}, all or
     * none: the windows first (each takes what it has room for, down to {@code minMicros}), then the account up to
     * what they took; whatever the account could not match goes back to the windows. Null when the account or a
     * window has less than {@code minMicros} left.
     */
    public static Reservation tryReserve(Balances balances, int accountSlot, SpendWindows windows, int windowSlot, long nowMs, long minMicros,
                                         long maxMicros) {
        if (windows == null || windowSlot < 0) {
            return tryReserve(balances, accountSlot, minMicros, maxMicros);
        }
        int day = SpendWindows.dayOf(nowMs);
        int month = SpendWindows.monthOf(nowMs);
        long allowed = windows.reserveUpTo(windowSlot, day, month, minMicros, maxMicros);
        if (allowed < 0) {
            return null;
        }
        long held = balances.reserveUpTo(accountSlot, minMicros, allowed);
        if (held < 0) {
            windows.adjust(windowSlot, day, month, -allowed);
            return null;
        }
        windows.adjust(windowSlot, day, month, held - allowed);
        return new Reservation(balances, accountSlot, windows, windowSlot, day, month, held);
    }

    public int accountSlot() {
        return accountSlot;
    }

    /** The UTC day number the reservation was admitted in, whose windows its debit goes to (0 without windows). */
    public int day() {
        return day;
    }

    /** The UTC month number the reservation was admitted in (0 without windows). */
    public int month() {
        return month;
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
        if (direct) {
            return extendDirect(minMicros, maxMicros);
        }
        long allowed = maxMicros;
        if (windows != null) {
            allowed = windows.reserveUpTo(windowSlot, day, month, minMicros, maxMicros);
            if (allowed < 0) {
                return -1;
            }
        }
        long more = balances.reserveUpTo(accountSlot, minMicros, allowed);
        if (windows != null) {
            windows.adjust(windowSlot, day, month, (more < 0 ? 0 : more) - allowed);
        }
        if (more < 0) {
            return -1;
        }
        while (true) {
            long current = state;
            if (current < 0 || more > Long.MAX_VALUE - current) {
                // Closed between the check and the withdrawal, so the close did not see this money
                // (or the sum would reach the closed bit): it goes back untouched.
                balances.release(accountSlot, more);
                if (windows != null) {
                    windows.adjust(windowSlot, day, month, -more);
                }
                return -1;
            }
            if (STATE.compareAndSet(this, current, current + more)) {
                return more;
            }
        }
    }

    /**
     * A direct reservation's extension: the provider's cost outgrew what the windows hold, so they hold more (the balance,
     * which pays only the fee, is not touched; a fee beyond what it holds is taken at the settlement). Without windows
     * nothing caps the cost: the maximum counts as held. Not journaled: the journal's holds are the balance's.
     */
    private long extendDirect(long minMicros, long maxMicros) {
        if (windows == null) {
            return 0;
        }
        long more = windows.reserveUpTo(windowSlot, day, month, minMicros, maxMicros);
        if (more < 0) {
            return -1;
        }
        while (true) {
            long current = directState;
            if (current < 0 || more > Long.MAX_VALUE - current) {
                windows.adjust(windowSlot, day, month, -more);
                return -1;
            }
            if (DIRECT_STATE.compareAndSet(this, current, current + more)) {
                return 0; // nothing more held in the balance
            }
        }
    }

    /**
     * Settles a direct reservation: the balance pays {@code feeMicros} (the platform fee), and the key's windows count the
     * fee and {@code directCostMicros}, the cost at the catalog price that the provider bills the account.
     *
     * @return the settlement of the balance's part, or null if this reservation was already closed
     */
    public Settlement settleDirect(long feeMicros, long directCostMicros) {
        if (!direct) {
            throw new IllegalStateException("a direct settlement of a reservation paid from the balance");
        }
        if (feeMicros < 0 || directCostMicros < 0) {
            throw new IllegalArgumentException("negative fee or cost: " + feeMicros + ", " + directCostMicros);
        }
        long held = close();
        if (held < 0) {
            return null;
        }
        long directHeld = closeDirect();
        long writtenOff = balances.settle(accountSlot, held, feeMicros);
        directSettledMicros = directCostMicros;
        if (windows != null) {
            windows.adjust(windowSlot, day, month, directCostMicros + feeMicros - writtenOff - held - directHeld);
        }
        return new Settlement(held, feeMicros - writtenOff, writtenOff);
    }

    /**
     * Debits the actual cost and returns the rest of the reservation to the balance.
     *
     * @return the settlement, or null if this reservation was already closed (nothing changes then)
     */
    public Settlement settle(long costMicros) {
        if (direct) {
            throw new IllegalStateException("a direct reservation settles with settleDirect");
        }
        if (costMicros < 0) {
            throw new IllegalArgumentException("negative cost: " + costMicros);
        }
        long held = close();
        if (held < 0) {
            return null;
        }
        long writtenOff = balances.settle(accountSlot, held, costMicros);
        if (windows != null) {
            windows.adjust(windowSlot, day, month, costMicros - writtenOff - held); // the windows keep what was debited
        }
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
        if (windows != null) {
            windows.adjust(windowSlot, day, month, -settlement.debitedMicros() - directSettledMicros);
        }
    }

    /** Returns the whole reservation: the request cost nothing. False if it was already closed. */
    public boolean release() {
        long held = close();
        if (held < 0) {
            return false;
        }
        long directHeld = direct ? closeDirect() : 0;
        balances.release(accountSlot, held);
        if (windows != null) {
            windows.adjust(windowSlot, day, month, -held - directHeld);
        }
        return true;
    }

    /** Closes a direct reservation's windows-only part (after {@link #close}); returns what it held. */
    private long closeDirect() {
        while (true) {
            long current = directState;
            if (current < 0) {
                return 0;
            }
            if (DIRECT_STATE.compareAndSet(this, current, current | CLOSED_BIT)) {
                return current;
            }
        }
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
