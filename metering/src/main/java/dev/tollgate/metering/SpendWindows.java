package dev.tollgate.metering;

import org.agrona.BitUtil;
import org.agrona.BufferUtil;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The spend caps of keys: per UTC day, per UTC month and in total, in one off-heap Agrona buffer next
 * to the accounts' {@link Balances}, one cache-line slot per capped key:
 *
 * <pre>
 *  +---------------------------------------------------------------+
 *  | day word:   UTC day number (20 bits) | used micros (44 bits)  |  0
 *  | month word: month number (20 bits)   | used micros (44 bits)  |  8
 *  |             total used micros (int64)                         | 16
 *  |             day cap, month cap, total cap (int64; -1: none)   | 24
 *  |             soft-alert percentage of each cap (int64; -1: none) | 48
 *  | alerted: day+1 (20 bits) | month+1 (20 bits) | total (1 bit)  | 56
 *  +---------------------------------------------------------------+
 * </pre>
 *
 * A cap is a reservation, not a check: admission takes the worst case from every window of the key (and
 * then from the account) in one step that takes all or none, so concurrent requests cannot together pass a
 * cap; settlement then moves the actual debit into the windows and gives back the rest. "Used" is money held
 * plus money debited. The period sits in the same word as what was used in it, so one compare-and-set both
 * rolls a window over to a new day and charges it, and a settlement of a request admitted yesterday gives
 * back nothing to today's window.
 *
 * <p>The soft alert sits in the same slot: after a settlement, a window whose used micros reached the alert
 * percentage of its cap is {@linkplain #claimAlert claimed} once per period by one compare-and-set, so of many
 * concurrent settlements that cross it exactly one raises the alert.
 */
public final class SpendWindows {
    public static final long NO_CAP = -1;
    public static final int NO_ALERT = -1;
    /** Periods (UTC day and month numbers) an alert can be marked for: below 2^20 - 1, about the year 4840. */
    public static final int MAX_ALERT_PERIOD = (1 << 20) - 2;
    /** The largest cap (about 8.8 million currency units): a window's used micros must fit in 44 bits with room for a write-off. */
    public static final long MAX_CAP_MICROS = 1L << 43;
    public static final int SLOT_LENGTH = BitUtil.CACHE_LINE_LENGTH;
    private static final int DAY = 0;
    private static final int MONTH = 8;
    private static final int TOTAL = 16;
    private static final int DAY_CAP = 24;
    private static final int MONTH_CAP = 32;
    private static final int TOTAL_CAP = 40;
    private static final int ALERT_PERCENT = 48;
    private static final int ALERTED = 56;
    private static final int PERIOD_BITS = 20;
    private static final long PERIOD_MASK = (1L << PERIOD_BITS) - 1;
    private static final long TOTAL_ALERTED = 1L << (2 * PERIOD_BITS);
    private static final int USED_BITS = 44;
    private static final long USED_MASK = (1L << USED_BITS) - 1;
    private static final long MS_PER_DAY = 86_400_000L;

    /** Which window refused, or none. */
    public enum Window {
        DAY, MONTH, TOTAL
    }

    private final AtomicBuffer buffer;
    private final int capacity;
    private int allocated;

    public SpendWindows(int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive: " + capacity);
        }
        this.capacity = capacity;
        this.buffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(capacity * SLOT_LENGTH, BitUtil.CACHE_LINE_LENGTH));
    }

    public int capacity() {
        return capacity;
    }

    /** How many slots are in use. */
    public synchronized int allocated() {
        return allocated;
    }

    /** A new slot with no caps and nothing used. */
    public synchronized int allocate() {
        if (allocated == capacity) {
            throw new IllegalStateException("all " + capacity + " spend-cap slots are in use");
        }
        int slot = allocated++;
        setCaps(slot, NO_CAP, NO_CAP, NO_CAP);
        setAlertPercent(slot, NO_ALERT);
        return slot;
    }

    public void setCaps(int slot, long dayCapMicros, long monthCapMicros, long totalCapMicros) {
        int base = offset(slot);
        buffer.putLongVolatile(base + DAY_CAP, requireCap(dayCapMicros));
        buffer.putLongVolatile(base + MONTH_CAP, requireCap(monthCapMicros));
        buffer.putLongVolatile(base + TOTAL_CAP, requireCap(totalCapMicros));
    }

    private static long requireCap(long capMicros) {
        if (capMicros != NO_CAP && (capMicros < 0 || capMicros > MAX_CAP_MICROS)) {
            throw new IllegalArgumentException("a cap is 0 to " + MAX_CAP_MICROS + " micros, or none: " + capMicros);
        }
        return capMicros;
    }

    /** The percentage (1 to 100) of each cap at which the key's soft alert is raised, or {@link #NO_ALERT}. */
    public void setAlertPercent(int slot, int percent) {
        if (percent != NO_ALERT && (percent < 1 || percent > 100)) {
            throw new IllegalArgumentException("an alert percentage is 1 to 100, or none: " + percent);
        }
        buffer.putLongVolatile(offset(slot) + ALERT_PERCENT, percent);
    }

    public int alertPercent(int slot) {
        return (int) buffer.getLongVolatile(offset(slot) + ALERT_PERCENT);
    }

    /**
     * Whether the window's used micros in {@code period} reached the alert percentage of its cap (false without a cap,
     * with a cap of zero, which only blocks, or without an alert percentage).
     */
    public boolean reachedAlert(int slot, Window window, int period) {
        return reached(cap(slot, window), used(slot, window, period), alertPercent(slot));
    }

    private static boolean reached(long cap, long used, long percent) {
        return percent > 0 && cap > 0 && used * 100 >= cap * percent;
    }

    /**
     * The windows whose alert is due for the UTC {@code day} and {@code month} (a settlement's: those its reservation was
     * admitted in), one bit per {@link Window} ordinal: their used micros reached the alert percentage of their cap and
     * their alert is not yet raised for that period. Zero, after one read, for a key without an alert percentage. What
     * {@link #claimAlert} then settles among concurrent callers.
     */
    public int alertsDue(int slot, int day, int month) {
        int base = offset(slot);
        long percent = buffer.getLongVolatile(base + ALERT_PERCENT);
        if (percent <= 0) {
            return 0;
        }
        // Plain reads: an alert is a soft signal, and a settlement's own writes to these words happened on this thread.
        long alerted = buffer.getLong(base + ALERTED);
        int due = 0;
        if (reached(buffer.getLong(base + DAY_CAP), usedIn(base + DAY, day), percent) && withAlerted(alerted, Window.DAY, day) != alerted) {
            due |= 1 << Window.DAY.ordinal();
        }
        if (reached(buffer.getLong(base + MONTH_CAP), usedIn(base + MONTH, month), percent)
                && withAlerted(alerted, Window.MONTH, month) != alerted) {
            due |= 1 << Window.MONTH.ordinal();
        }
        if (reached(buffer.getLong(base + TOTAL_CAP), buffer.getLong(base + TOTAL), percent) && withAlerted(alerted, Window.TOTAL, 0) != alerted) {
            due |= 1 << Window.TOTAL.ordinal();
        }
        return due;
    }

    /**
     * Marks the window's alert raised for {@code period} (the day or month number; ignored for the total): true for
     * the one caller that marked it, false when it already was for this period or a later one.
     */
    public boolean claimAlert(int slot, Window window, int period) {
        int offset = offset(slot) + ALERTED;
        while (true) {
            long word = buffer.getLongVolatile(offset);
            long marked = withAlerted(word, window, period);
            if (marked == word) {
                return false;
            }
            if (buffer.compareAndSetLong(offset, word, marked)) {
                return true;
            }
        }
    }

    /** The period a window's alert was last raised for ({@code 0} for the total), or -1 for never. */
    public int alertedPeriod(int slot, Window window) {
        long word = buffer.getLongVolatile(offset(slot) + ALERTED);
        return switch (window) {
            case DAY -> (int) (word & PERIOD_MASK) - 1;
            case MONTH -> (int) ((word >>> PERIOD_BITS) & PERIOD_MASK) - 1;
            case TOTAL -> (word & TOTAL_ALERTED) != 0 ? 0 : -1;
        };
    }

    /** Marks as {@link #claimAlert} does, without telling who: replaying the alerts the journal recorded, at start-up. */
    public void restoreAlerted(int slot, Window window, int period) {
        claimAlert(slot, window, period);
    }

    private static long withAlerted(long word, Window window, int period) {
        return switch (window) {
            case DAY -> (word & PERIOD_MASK) - 1 >= period ? word : (word & ~PERIOD_MASK) | (period + 1L);
            case MONTH -> ((word >>> PERIOD_BITS) & PERIOD_MASK) - 1 >= period ? word
                    : (word & ~(PERIOD_MASK << PERIOD_BITS)) | ((period + 1L) << PERIOD_BITS);
            case TOTAL -> word | TOTAL_ALERTED;
        };
    }

    /** Sets what was used, rebuilt from the journal at start-up, before any request can see the key. */
    public void restore(int slot, int day, long dayUsedMicros, int month, long monthUsedMicros, long totalUsedMicros) {
        int base = offset(slot);
        buffer.putLongVolatile(base + DAY, pack(day, Math.min(dayUsedMicros, USED_MASK)));
        buffer.putLongVolatile(base + MONTH, pack(month, Math.min(monthUsedMicros, USED_MASK)));
        buffer.putLongVolatile(base + TOTAL, totalUsedMicros);
    }

    /**
     * Takes up to {@code maxMicros} from every capped window of the key, if each has at least {@code minMicros} left:
     * returns the amount now held in each (the smallest room, or {@code maxMicros}), or -1 with nothing changed.
     */
    public long reserveUpTo(int slot, int day, int month, long minMicros, long maxMicros) {
        int base = offset(slot);
        long want = maxMicros;
        long dayCap = buffer.getLongVolatile(base + DAY_CAP);
        long monthCap = buffer.getLongVolatile(base + MONTH_CAP);
        long totalCap = buffer.getLongVolatile(base + TOTAL_CAP);
        long tookDay = -1;
        long tookMonth = -1;
        if (dayCap >= 0) {
            tookDay = take(base + DAY, day, dayCap, minMicros, want);
            if (tookDay < 0) {
                return -1;
            }
            want = tookDay;
        }
        if (monthCap >= 0) {
            tookMonth = take(base + MONTH, month, monthCap, minMicros, want);
            if (tookMonth < 0) {
                giveBack(base + DAY, day, tookDay);
                return -1;
            }
            want = tookMonth;
        }
        if (totalCap >= 0) {
            long tookTotal = takeTotal(base, totalCap, minMicros, want);
            if (tookTotal < 0) {
                giveBack(base + DAY, day, tookDay);
                giveBack(base + MONTH, month, tookMonth);
                return -1;
            }
            want = tookTotal;
        } else {
            buffer.getAndAddLong(base + TOTAL, want); // counted even without a cap, so a cap set later starts from the truth
        }
        if (dayCap < 0) {
            charge(base + DAY, day, want);
        }
        if (monthCap < 0) {
            charge(base + MONTH, month, want);
        }
        // An earlier window took more than a later one had room for: it holds only what the last one took.
        if (tookDay > want) {
            giveBack(base + DAY, day, tookDay - want);
        }
        if (tookMonth > want) {
            giveBack(base + MONTH, month, tookMonth - want);
        }
        return want;
    }

    /**
     * Moves {@code deltaMicros} into (positive) or out of (negative) the windows of the periods a reservation was
     * admitted in: the settled debit beyond or below what was held, a release, a refund. A window that has since
     * moved on to a later period is left alone.
     */
    public void adjust(int slot, int day, int month, long deltaMicros) {
        if (deltaMicros == 0) {
            return;
        }
        int base = offset(slot);
        addInPeriod(base + DAY, day, deltaMicros);
        addInPeriod(base + MONTH, month, deltaMicros);
        while (true) {
            long used = buffer.getLongVolatile(base + TOTAL);
            if (buffer.compareAndSetLong(base + TOTAL, used, Math.max(0, used + deltaMicros))) {
                return;
            }
        }
    }

    /** The first capped window with less than {@code micros} left now, or null when every one has room. */
    public Window tighterThan(int slot, int day, int month, long micros) {
        int base = offset(slot);
        if (room(buffer.getLongVolatile(base + DAY_CAP), usedIn(base + DAY, day)) < micros) {
            return Window.DAY;
        }
        if (room(buffer.getLongVolatile(base + MONTH_CAP), usedIn(base + MONTH, month)) < micros) {
            return Window.MONTH;
        }
        if (room(buffer.getLongVolatile(base + TOTAL_CAP), buffer.getLongVolatile(base + TOTAL)) < micros) {
            return Window.TOTAL;
        }
        return null;
    }

    private static long room(long cap, long used) {
        return cap < 0 ? Long.MAX_VALUE : cap - used;
    }

    /** What the window has used (held plus debited) in {@code period}; zero for a period it has not reached. */
    public long used(int slot, Window window, int period) {
        int base = offset(slot);
        return switch (window) {
            case DAY -> usedIn(base + DAY, period);
            case MONTH -> usedIn(base + MONTH, period);
            case TOTAL -> buffer.getLongVolatile(base + TOTAL);
        };
    }

    /** The window's cap, or {@link #NO_CAP}. */
    public long cap(int slot, Window window) {
        int base = offset(slot);
        return buffer.getLongVolatile(base + switch (window) {
            case DAY -> DAY_CAP;
            case MONTH -> MONTH_CAP;
            case TOTAL -> TOTAL_CAP;
        });
    }

    private long usedIn(int offset, int period) {
        long word = buffer.getLongVolatile(offset);
        return periodOf(word) == period ? word & USED_MASK : 0;
    }

    private long take(int offset, int period, long cap, long minMicros, long want) {
        while (true) {
            long word = buffer.getLongVolatile(offset);
            int current = periodOf(word);
            if (current > period) {
                return want; // admitted in a period the window has left (an extension after midnight): that window no longer binds
            }
            long used = current == period ? word & USED_MASK : 0;
            long room = cap - used;
            if (room < minMicros) {
                return -1;
            }
            long take = Math.min(room, want);
            if (buffer.compareAndSetLong(offset, word, pack(period, used + take))) {
                return take;
            }
        }
    }

    private long takeTotal(int base, long cap, long minMicros, long want) {
        while (true) {
            long used = buffer.getLongVolatile(base + TOTAL);
            long room = cap - used;
            if (room < minMicros) {
                return -1;
            }
            long take = Math.min(room, want);
            if (buffer.compareAndSetLong(base + TOTAL, used, used + take)) {
                return take;
            }
        }
    }

    /** Adds to a window without a cap (so a cap set later starts from what was used), rolling it over to {@code period}. */
    private void charge(int offset, int period, long micros) {
        while (true) {
            long word = buffer.getLongVolatile(offset);
            int current = periodOf(word);
            if (current > period) {
                return;
            }
            long used = Math.min((current == period ? word & USED_MASK : 0) + micros, USED_MASK);
            if (buffer.compareAndSetLong(offset, word, pack(period, used))) {
                return;
            }
        }
    }

    private void giveBack(int offset, int period, long micros) {
        if (micros > 0) {
            addInPeriod(offset, period, -micros);
        }
    }

    private void addInPeriod(int offset, int period, long deltaMicros) {
        while (true) {
            long word = buffer.getLongVolatile(offset);
            if (periodOf(word) != period) {
                return;
            }
            long used = Math.clamp((word & USED_MASK) + deltaMicros, 0, USED_MASK);
            if (buffer.compareAndSetLong(offset, word, pack(period, used))) {
                return;
            }
        }
    }

    private static long pack(int period, long usedMicros) {
        return ((long) period << USED_BITS) | usedMicros;
    }

    private static int periodOf(long word) {
        return (int) (word >>> USED_BITS);
    }

    /** The UTC day number of an instant (days since 1970-01-01). */
    public static int dayOf(long epochMs) {
        return (int) Math.floorDiv(epochMs, MS_PER_DAY);
    }

    /** The UTC month number of an instant (months since January 1970), without allocating: the civil-from-days algorithm. */
    public static int monthOf(long epochMs) {
        long z = dayOf(epochMs) + 719_468L;
        long era = Math.floorDiv(z, 146_097L);
        long dayOfEra = z - era * 146_097L;
        long yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365;
        long dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
        long mp = (5 * dayOfYear + 2) / 153;
        long monthOfYear = mp < 10 ? mp + 3 : mp - 9; // 1..12
        long year = yearOfEra + era * 400 + (monthOfYear <= 2 ? 1 : 0);
        return (int) ((year - 1970) * 12 + monthOfYear - 1);
    }

    private int offset(int slot) {
        if (slot < 0 || slot >= capacity) {
            throw new IndexOutOfBoundsException("spend-cap slot " + slot + " outside 0.." + (capacity - 1));
        }
        return slot * SLOT_LENGTH;
    }
}
