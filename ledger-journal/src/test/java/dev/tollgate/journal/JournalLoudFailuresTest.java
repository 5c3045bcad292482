package dev.tollgate.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.JournalEvent.AccountOpened;
import dev.tollgate.journal.JournalEvent.CreditAdded;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What used to go wrong silently in the journal now fails loudly, or is made durable: a read after a
 * record whose cycle file is gone, a snapshot directory that cannot be listed, and a new cycle file
 * whose directory entry was never forced to disk.
 */
class JournalLoudFailuresTest {
    private static final long DAY_MS = TimeUnit.DAYS.toMillis(1);
    private static final long START_MS = 1_795_000_000_000L;

    @TempDir
    Path directory;

    /** Two records on each of three days; returns the indexes, day by day. */
    private static List<List<Long>> threeDays(Path journalDirectory) {
        AtomicLong clock = new AtomicLong(START_MS);
        List<List<Long>> days = new ArrayList<>();
        try (Journal journal = Journal.open(journalDirectory, Durability.PAGE_CACHE, 0, clock::get)) {
            for (int day = 0; day < 3; day++) {
                List<Long> indexes = new ArrayList<>();
                indexes.add(journal.append(new AccountOpened(clock.get(), "acct-" + day)));
                indexes.add(journal.append(new CreditAdded(clock.get(), "acct-" + day, 10 + day, "k" + day)));
                days.add(indexes);
                clock.addAndGet(DAY_MS);
            }
            assertThat(journal.cycleFiles()).hasSize(3);
        }
        return days;
    }

    @Test
    void readingAfterARecordWhoseCycleFileIsGoneThrowsInsteadOfStartingOver() throws IOException {
        Path journalDirectory = directory.resolve("journal");
        List<List<Long>> days = threeDays(journalDirectory);
        Path middle;
        try (Journal journal = Journal.openReadOnly(journalDirectory)) {
            middle = journal.cycleFiles().get(1);
        }
        Files.delete(middle);
        try (Journal journal = Journal.openReadOnly(journalDirectory)) {
            List<Long> delivered = new ArrayList<>();
            long afterMissing = days.get(1).get(0);
            assertThatThrownBy(() -> journal.readAfter(afterMissing, (index, event) -> delivered.add(index)))
                    .isInstanceOf(JournalGapException.class)
                    .hasMessageContaining(Long.toHexString(afterMissing));
            assertThat(delivered).as("nothing delivered from the start").isEmpty();
            try (Journal.Cursor cursor = journal.cursor(null)) {
                assertThatThrownBy(() -> cursor.seekAfter(afterMissing)).isInstanceOf(JournalGapException.class);
            }
            // A record that is there still reads exactly what follows it, and past the end is still nothing.
            List<Long> afterLast = new ArrayList<>();
            journal.readAfter(days.get(2).get(0), (index, event) -> afterLast.add(index));
            assertThat(afterLast).containsExactly(days.get(2).get(1));
            assertThat(journal.readAfter(days.get(2).get(1) + 5, (index, event) -> { })).isZero();
        }
    }

    @Test
    void readingFromTheStartAfterTheOldestCycleFileIsGoneReadsWhatIsThere() throws IOException {
        Path journalDirectory = directory.resolve("journal");
        List<List<Long>> days = threeDays(journalDirectory);
        Path oldest;
        try (Journal journal = Journal.openReadOnly(journalDirectory)) {
            oldest = journal.cycleFiles().get(0);
        }
        Files.delete(oldest);
        try (Journal journal = Journal.openReadOnly(journalDirectory)) {
            List<Long> delivered = new ArrayList<>();
            journal.readAfter(-1, (index, event) -> delivered.add(index));
            assertThat(delivered).as("the records of the cycles still there").containsExactly(days.get(1).get(0), days.get(1).get(1),
                    days.get(2).get(0), days.get(2).get(1));
        }
    }

    /** A directory that exists but cannot be listed, or null when this platform offers none (root ignores permissions). */
    private static Path unlistableDirectory(Path parent) throws IOException {
        Path locked = Files.createDirectories(parent.resolve("locked"));
        Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("---------"));
        if (!listable(locked)) {
            return locked;
        }
        Path mapFiles = Path.of("/proc/1/map_files"); // needs CAP_SYS_ADMIN, which even root in a container lacks
        return Files.isDirectory(mapFiles) && !listable(mapFiles) ? mapFiles : null;
    }

    private static boolean listable(Path directory) {
        try (Stream<Path> files = Files.list(directory)) {
            files.count();
            return true;
        } catch (IOException | UncheckedIOException e) {
            return false;
        }
    }

    @Test
    void aSnapshotDirectoryThatCannotBeListedFailsRecoveryInsteadOfReplayingWithoutSnapshots() throws IOException {
        Path unlistable = unlistableDirectory(directory);
        assumeTrue(unlistable != null, "no directory here that cannot be listed");
        try {
            assertThatThrownBy(() -> Snapshots.latest(unlistable)).isInstanceOf(UncheckedIOException.class)
                    .hasMessageContaining("cannot list the snapshots in " + unlistable);
            try (Journal journal = Journal.open(directory.resolve("journal"), Durability.PAGE_CACHE, 0)) {
                assertThatThrownBy(() -> Ledger.recover(journal, unlistable, 4, () -> START_MS)).isInstanceOf(UncheckedIOException.class);
            }
        } finally {
            if (unlistable.startsWith(directory)) {
                Files.setPosixFilePermissions(unlistable, PosixFilePermissions.fromString("rwx------"));
            }
        }
    }

    @Test
    void aNewCycleFileIsFollowedByAForceOfTheJournalDirectory() {
        AtomicLong clock = new AtomicLong(START_MS);
        try (Journal journal = Journal.open(directory.resolve("per-debit"), Durability.PER_DEBIT, 100, clock::get)) {
            journal.append(new AccountOpened(clock.get(), "acme"));
            journal.append(new CreditAdded(clock.get(), "acme", 5, "day-1"));
            assertThat(journal.directoryForces()).as("the first cycle's file").isEqualTo(1);
            journal.append(new CreditAdded(clock.get(), "acme", 6, "day-1-again"));
            assertThat(journal.directoryForces()).as("no new file, no new force").isEqualTo(1);
            clock.addAndGet(DAY_MS);
            journal.append(new CreditAdded(clock.get(), "acme", 7, "day-2"));
            assertThat(journal.cycleFiles()).hasSize(2);
            assertThat(journal.directoryForces()).as("the second cycle's file").isEqualTo(2);
        }
        clock.set(START_MS);
        try (Journal journal = Journal.open(directory.resolve("periodic"), Durability.PERIODIC, 3_600_000, clock::get)) {
            journal.append(new AccountOpened(clock.get(), "acme"));
            journal.forceNewestCycles();
            assertThat(journal.directoryForces()).isEqualTo(1);
            journal.forceNewestCycles();
            assertThat(journal.directoryForces()).isEqualTo(1);
            clock.addAndGet(DAY_MS);
            journal.append(new CreditAdded(clock.get(), "acme", 7, "day-2"));
            journal.forceNewestCycles();
            assertThat(journal.directoryForces()).isEqualTo(2);
        }
        clock.set(START_MS);
        try (Journal journal = Journal.open(directory.resolve("page-cache"), Durability.PAGE_CACHE, 0, clock::get)) {
            journal.append(new CreditAdded(clock.get(), "acme", 5, "never-forced"));
            assertThat(journal.directoryForces()).as("page_cache forces nothing").isZero();
        }
    }
}
