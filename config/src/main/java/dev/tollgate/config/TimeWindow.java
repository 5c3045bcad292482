package dev.tollgate.config;

import java.time.DayOfWeek;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.Set;

/**
 * A time of day (on some days of the week) in a named time zone during which a model's prices are {@code percent} of
 * the row's, as DeepSeek bills off-peak hours at half price. The price in force is the one when the request was
 * admitted, for the whole request however long it streams.
 *
 * @param zone        the provider's time zone, for example {@code UTC} or {@code Asia/Shanghai}
 * @param days        the days (in that zone) a window starts on; a window past midnight runs on into the next day
 * @param fromMinute  minute of the day it starts, 0 to 1439
 * @param untilMinute minute of the day it ends (exclusive), 1 to 1440; below {@code fromMinute} when it runs past midnight
 * @param percent     the share of the row's prices charged in it, 1 to 1000 (a discount below 100, a surcharge above)
 */
public record TimeWindow(ZoneId zone, Set<DayOfWeek> days, int fromMinute, int untilMinute, int percent) {
    public static final int MINUTES_PER_DAY = 1_440;

    public TimeWindow {
        days = Set.copyOf(days);
    }

    /** Whether the window holds at {@code epochMs}. */
    public boolean contains(long epochMs) {
        ZonedDateTime local = Instant.ofEpochMilli(epochMs).atZone(zone);
        int minute = local.getHour() * 60 + local.getMinute();
        DayOfWeek day = local.getDayOfWeek();
        if (fromMinute < untilMinute) {
            return days.contains(day) && minute >= fromMinute && minute < untilMinute;
        }
        // Past midnight: the evening of a listed day, or the early morning after one.
        return days.contains(day) && minute >= fromMinute || days.contains(day.minus(1)) && minute < untilMinute;
    }

    /** The minutes of the week (0 = Monday 00:00) it covers, as a mask, to find windows that overlap. */
    boolean[] weekMinutes() {
        boolean[] covered = new boolean[7 * MINUTES_PER_DAY];
        int length = fromMinute < untilMinute ? untilMinute - fromMinute : MINUTES_PER_DAY - fromMinute + untilMinute;
        for (DayOfWeek day : days) {
            int start = (day.getValue() - 1) * MINUTES_PER_DAY + fromMinute;
            for (int i = 0; i < length; i++) {
                covered[(start + i) % covered.length] = true;
            }
        }
        return covered;
    }
}
