package dev.tollgate.journal.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Regression test for a core {@link Journal} bug found while building the reconciler (it lives here
 * only because this helper's files are this package): the daily cycles roll by the wall clock, and a
 * clock stepped back across midnight (an NTP correction) made every append throw Chronicle's
 * {@code WriteAfterEOFException}, since the previous day's file is already closed; the request path
 * would refuse every request until the clock passed midnight again. Also across a restart.
 */
class JournalClockStepBackTest {
    @TempDir
    Path dir;

    @Test
    void appendsGoOnWhenTheClockStepsBackAcrossMidnight() {
        AtomicLong clock = new AtomicLong(Instant.parse("2026-11-01T23:59:59.500Z").toEpochMilli());
        List<Long> indexes = new ArrayList<>();
        try (Journal journal = Journal.open(dir, Durability.PAGE_CACHE, 0, clock::get)) {
            indexes.add(journal.append(new JournalEvent.AccountOpened(clock.get(), "before-midnight")));
            clock.set(Instant.parse("2026-11-02T00:00:00.200Z").toEpochMilli());
            indexes.add(journal.append(new JournalEvent.AccountOpened(clock.get(), "after-midnight")));
            clock.set(Instant.parse("2026-11-01T23:59:59.900Z").toEpochMilli()); // stepped back 300 ms
            indexes.add(journal.append(new JournalEvent.AccountOpened(clock.get(), "stepped-back")));
        }
        // And after a restart with the clock still behind the newest cycle.
        try (Journal journal = Journal.open(dir, Durability.PAGE_CACHE, 0, clock::get)) {
            indexes.add(journal.append(new JournalEvent.AccountOpened(clock.get(), "restarted-behind")));
            List<String> accounts = new ArrayList<>();
            journal.readAfter(-1, (index, event) -> accounts.add(((JournalEvent.AccountOpened) event).accountId()));
            assertThat(accounts).containsExactly("before-midnight", "after-midnight", "stepped-back", "restarted-behind");
        }
        assertThat(indexes).isSorted();
    }
}
