package dev.tollgate.metering;

import org.agrona.BitUtil;
import org.agrona.BufferUtil;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The money counters of every account, in one off-heap Agrona buffer allocated once at start-up.
 * Each account owns one cache-line slot, so two busy accounts never share a line:
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                     availableMicros (int64)                   |  0
 *  |                     reservedMicros  (int64)                   |  8
 *  |                     creditedMicros  (int64)                   | 16
 *  |                     debitedMicros   (int64)                   | 24
 *  |                     writtenOffMicros (int64)                  | 32
 *  |                     padding to 64 bytes                       | 40
 *  +---------------------------------------------------------------+
 * </pre>
 *
 * <p>The conservation law, exact at every quiescent point: {@code credited - debited == available + reserved}.
 * {@code writtenOff} is what upstream usage cost beyond a reservation that the balance could not
 * cover; it is never taken from {@code available}, which therefore never goes below zero.
 *
 * <p>Every update is an atomic read-modify-write (compare-and-set or get-and-add), so event-loop
 * threads spend from the same account concurrently without locks. Admission is a single
 * compare-and-set that takes money out of {@code available}: the check and the spend are one step,
 * which is what makes concurrent overspend impossible.
 */
public final class Balances {
    public static final int SLOT_LENGTH = BitUtil.CACHE_LINE_LENGTH;
    static final int AVAILABLE_OFFSET = 0;
    static final int RESERVED_OFFSET = 8;
    static final int CREDITED_OFFSET = 16;
    static final int DEBITED_OFFSET = 24;
    static final int WRITTEN_OFF_OFFSET = 32;

    private final AtomicBuffer buffer;
    private final int capacity;

    public Balances(int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive: " + capacity);
        }
        this.capacity = capacity;
        this.buffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(capacity * SLOT_LENGTH, BitUtil.CACHE_LINE_LENGTH));
    }

    public int capacity() {
        return capacity;
    }

    /** Adds money to an account: a top-up or opening credit. */
    public void credit(int slot, long amountMicros) {
        requirePositiveOrZero(amountMicros);
        int base = offset(slot);
        buffer.getAndAddLong(base + CREDITED_OFFSET, amountMicros);
        buffer.getAndAddLong(base + AVAILABLE_OFFSET, amountMicros);
    }

    /**
     * An operator's correction: adds {@code amountMicros} (negative to take money back) to both
     * credited and available. A negative adjustment larger than what is available is refused
     * (returns false, nothing changes), so it can never push available below zero.
     */
    public boolean adjust(int slot, long amountMicros) {
        int base = offset(slot);
        if (amountMicros < 0 && takeAvailable(base, -amountMicros, -amountMicros) < 0) {
            return false;
        }
        if (amountMicros > 0) {
            buffer.getAndAddLong(base + AVAILABLE_OFFSET, amountMicros);
        }
        buffer.getAndAddLong(base + CREDITED_OFFSET, amountMicros);
        return true;
    }

    /**
     * Sets an account's counters to values rebuilt from the journal, at start-up, before any request
     * can see the account.
     */
    public void restore(int slot, long creditedMicros, long debitedMicros, long availableMicros, long reservedMicros, long writtenOffMicros) {
        int base = offset(slot);
        buffer.putLongVolatile(base + CREDITED_OFFSET, creditedMicros);
        buffer.putLongVolatile(base + DEBITED_OFFSET, debitedMicros);
        buffer.putLongVolatile(base + AVAILABLE_OFFSET, availableMicros);
        buffer.putLongVolatile(base + RESERVED_OFFSET, reservedMicros);
        buffer.putLongVolatile(base + WRITTEN_OFF_OFFSET, writtenOffMicros);
    }

    /**
     * Takes up to {@code maxMicros} out of {@code available} into {@code reserved}, but only if at
     * least {@code minMicros} is available. Returns the amount reserved, or -1 when even the
     * minimum cannot be covered (nothing changes then).
     */
    public long reserveUpTo(int slot, long minMicros, long maxMicros) {
        requirePositiveOrZero(minMicros);
        if (maxMicros < minMicros) {
            throw new IllegalArgumentException("maxMicros " + maxMicros + " < minMicros " + minMicros);
        }
        int base = offset(slot);
        long take = takeAvailable(base, minMicros, maxMicros);
        if (take >= 0) {
            buffer.getAndAddLong(base + RESERVED_OFFSET, take);
        }
        return take;
    }

    /** One compare-and-set step: the availability check and the withdrawal cannot be separated by another spender. */
    private long takeAvailable(int base, long minMicros, long maxMicros) {
        while (true) {
            long available = buffer.getLongVolatile(base + AVAILABLE_OFFSET);
            if (available < minMicros) {
                return -1;
            }
            long take = Math.min(available, maxMicros);
            if (buffer.compareAndSetLong(base + AVAILABLE_OFFSET, available, available - take)) {
                return take;
            }
        }
    }

    /**
     * Closes a reservation with its actual cost. The whole reservation leaves {@code reserved};
     * what it does not cost returns to {@code available}. If the cost exceeds the reservation, the
     * excess is taken from {@code available} as far as it goes and the rest is written off, so
     * {@code available} stays non-negative.
     *
     * @return the amount written off (0 in the normal case); the debit is {@code costMicros} minus it
     */
    public long settle(int slot, long reservedMicros, long costMicros) {
        requirePositiveOrZero(reservedMicros);
        requirePositiveOrZero(costMicros);
        int base = offset(slot);
        long writtenOff = 0;
        if (costMicros <= reservedMicros) {
            buffer.getAndAddLong(base + AVAILABLE_OFFSET, reservedMicros - costMicros);
        } else {
            long excess = costMicros - reservedMicros;
            long covered = takeAvailable(base, 0, excess);
            writtenOff = excess - covered;
            buffer.getAndAddLong(base + WRITTEN_OFF_OFFSET, writtenOff);
        }
        buffer.getAndAddLong(base + RESERVED_OFFSET, -reservedMicros);
        buffer.getAndAddLong(base + DEBITED_OFFSET, costMicros - writtenOff);
        return writtenOff;
    }

    /**
     * Undoes a settlement that {@link #settle} made: its debit goes back to {@code available} and its write-off
     * is forgotten, leaving the counters as a release would have (for a debit its record could not keep).
     */
    public void refund(int slot, long debitedMicros, long writtenOffMicros) {
        requirePositiveOrZero(debitedMicros);
        requirePositiveOrZero(writtenOffMicros);
        int base = offset(slot);
        buffer.getAndAddLong(base + DEBITED_OFFSET, -debitedMicros);
        buffer.getAndAddLong(base + WRITTEN_OFF_OFFSET, -writtenOffMicros);
        buffer.getAndAddLong(base + AVAILABLE_OFFSET, debitedMicros);
    }

    /** Returns a whole reservation to {@code available}: the request cost nothing. */
    public void release(int slot, long reservedMicros) {
        settle(slot, reservedMicros, 0);
    }

    public long availableMicros(int slot) {
        return buffer.getLongVolatile(offset(slot) + AVAILABLE_OFFSET);
    }

    public long reservedMicros(int slot) {
        return buffer.getLongVolatile(offset(slot) + RESERVED_OFFSET);
    }

    public long creditedMicros(int slot) {
        return buffer.getLongVolatile(offset(slot) + CREDITED_OFFSET);
    }

    public long debitedMicros(int slot) {
        return buffer.getLongVolatile(offset(slot) + DEBITED_OFFSET);
    }

    public long writtenOffMicros(int slot) {
        return buffer.getLongVolatile(offset(slot) + WRITTEN_OFF_OFFSET);
    }

    /** {@code credited - debited - available - reserved}: zero at every quiescent point. */
    public long conservationErrorMicros(int slot) {
        return creditedMicros(slot) - debitedMicros(slot) - availableMicros(slot) - reservedMicros(slot);
    }

    private int offset(int slot) {
        if (slot < 0 || slot >= capacity) {
            throw new IndexOutOfBoundsException("account slot " + slot + " outside 0.." + (capacity - 1));
        }
        return slot * SLOT_LENGTH;
    }

    private static void requirePositiveOrZero(long amountMicros) {
        if (amountMicros < 0) {
            throw new IllegalArgumentException("negative amount: " + amountMicros);
        }
    }
}
