package dev.tollgate.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.DayOfWeek;
import java.time.Instant;
import java.time.ZoneId;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Windows of the day in a time zone: the minute they start is in, the minute they end is out, also past midnight. */
class TimeWindowTest {
    private static final ZoneId SHANGHAI = ZoneId.of("Asia/Shanghai"); // UTC+8, no daylight saving

    private static long at(String localShanghai) {
        return java.time.LocalDateTime.parse(localShanghai).atZone(SHANGHAI).toInstant().toEpochMilli();
    }

    @Test
    void aWindowPastMidnightRunsIntoTheNextDayInItsOwnZone() {
        // Friday 22:00 to Saturday 06:00, Shanghai time.
        TimeWindow night = new TimeWindow(SHANGHAI, Set.of(DayOfWeek.FRIDAY), 22 * 60, 6 * 60, 50);
        assertThat(night.contains(at("2026-12-04T21:59"))).as("Friday 21:59").isFalse();
        assertThat(night.contains(at("2026-12-04T22:00"))).as("Friday 22:00").isTrue();
        assertThat(night.contains(at("2026-12-04T23:59"))).as("Friday 23:59").isTrue();
        assertThat(night.contains(at("2026-12-05T00:00"))).as("Saturday 00:00, past midnight").isTrue();
        assertThat(night.contains(at("2026-12-05T05:59"))).as("Saturday 05:59").isTrue();
        assertThat(night.contains(at("2026-12-05T06:00"))).as("Saturday 06:00, the end").isFalse();
        assertThat(night.contains(at("2026-12-05T22:30"))).as("Saturday night: not a listed day").isFalse();
        assertThat(night.contains(at("2026-12-04T03:00"))).as("Friday early morning: Thursday's night").isFalse();
        // The same instant is another local time elsewhere: Friday 23:30 in Shanghai is Friday 15:30 UTC.
        assertThat(Instant.ofEpochMilli(at("2026-12-04T23:30")).toString()).isEqualTo("2026-12-04T15:30:00Z");
    }

    @Test
    void aRowInsideAWindowIsPricedAtItsPercentageEverywhereAndOutsideAsWritten() {
        ModelRow row = new ModelRow("deepseek", "deepseek-flash", Set.of(EndpointFamily.CHAT_COMPLETIONS), "cl100k_base", 1_000_000, 384_000,
                300_000, 6_000, 300_000, 1_200_000, java.time.LocalDate.of(2026, 10, 17), java.net.URI.create("https://example.com"),
                List.of(new PriceTier(500_000, 600_000, 12_000, 600_000, 2_400_000)),
                List.of(new TimeWindow(ZoneId.of("UTC"), EnumSet.of(DayOfWeek.SATURDAY, DayOfWeek.SUNDAY), 0, TimeWindow.MINUTES_PER_DAY, 50)));
        long saturday = Instant.parse("2026-12-05T12:00:00Z").toEpochMilli();
        long friday = Instant.parse("2026-12-04T23:59:59Z").toEpochMilli();
        assertThat(row.pricedAt(friday)).isSameAs(row);
        ModelRow weekend = row.pricedAt(saturday);
        assertThat(new long[] {weekend.inputMicrosPerMillionTokens(), weekend.cacheReadMicrosPerMillionTokens(), weekend.cacheWriteMicrosPerMillionTokens(),
                weekend.outputMicrosPerMillionTokens()}).containsExactly(150_000, 3_000, 150_000, 600_000);
        assertThat(weekend.tiers()).containsExactly(new PriceTier(500_000, 300_000, 6_000, 300_000, 1_200_000));
        assertThat(weekend.timeWindows()).as("priced once").isEmpty();
        assertThat(row.pricedAt(Instant.parse("2026-12-07T00:00:00Z").toEpochMilli())).as("Monday 00:00").isSameAs(row);
    }
}
