package dev.tollgate.journal.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.journal.JournalEvent;
import dev.tollgate.metering.Usage;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JournalVerifierTest {
    @TempDir
    Path dir;

    @Test
    void aSoundJournalVerifiesAndItsSnapshotMatchesTheReplay() throws Exception {
        long seed = TestSeeds.seed("JournalVerifierTest.sound");
        Path journalDirectory = dir.resolve("journal");
        Path snapshots = journalDirectory.resolve("snapshots");
        try (SimulatedHistory history = new SimulatedHistory(journalDirectory, seed, Instant.parse("2026-11-02T00:00:00Z"), 60_000)) {
            history.run(700);
            Reconciliation.load(history.journal, snapshots).writeSnapshot(snapshots);
            history.run(300); // in flight at the end: open reservations are reported, not problems
            // The history closes open reservations in random order a simulated minute apart, so one can stay
            // open for simulated hours; staleness has its own test below, so none is stale here.
            JournalVerifier.Report report = JournalVerifier.verify(journalDirectory, snapshots, Long.MAX_VALUE, history.clock.get());
            assertThat(report.problems()).isEmpty();
            assertThat(report.ok()).isTrue();
            assertThat(report.lines()).anySatisfy(line -> assertThat(line).matches("snapshot ledger-\\p{XDigit}{16}\\.snapshot: matches the replay at its index; its rollups match"));
            assertThat(report.lines()).filteredOn(line -> line.startsWith("account ")).hasSize(3).allSatisfy(line -> assertThat(line).endsWith("conservation ok"));
            assertThat(report.lines()).anySatisfy(line -> assertThat(line).startsWith("open reservations: " + history.openCount()));
            assertThat(report.stateHash()).isEqualTo(Reconciliation.load(history.journal, dir.resolve("none")).ledger().stateHash());
            assertThat(report.recordsRead()).isEqualTo(history.journal.recordsAfter(-1));
        }
    }

    @Test
    void aSnapshotThatDisagreesWithTheJournalIsAProblem() throws Exception {
        long seed = TestSeeds.seed("JournalVerifierTest.badSnapshot");
        Path journalDirectory = dir.resolve("journal");
        Path snapshots = journalDirectory.resolve("snapshots");
        try (SimulatedHistory history = new SimulatedHistory(journalDirectory, seed, Instant.parse("2026-11-02T00:00:00Z"), 60_000)) {
            history.run(300);
            List<Long> indexes = new ArrayList<>();
            history.journal.readAfter(-1, (index, event) -> indexes.add(index));
            long target = indexes.get(indexes.size() / 2);
            // The journal up to the record before target, then something else at target's index.
            Reconciliation forged = Reconciliation.empty();
            history.journal.readAfter(-1, (index, event) -> {
                if (index < target) {
                    forged.apply(index, event);
                }
            });
            forged.apply(target, new JournalEvent.AccountOpened(0, "ghost"));
            forged.writeSnapshot(snapshots);
            JournalVerifier.Report report = JournalVerifier.verify(journalDirectory, snapshots);
            assertThat(report.ok()).isFalse();
            assertThat(report.problems()).anySatisfy(problem -> assertThat(problem).contains("differs from the replay"));
        }
    }

    @Test
    void aRecordThatContradictsTheStateIsAProblemNamingItsIndex() throws Exception {
        long seed = TestSeeds.seed("JournalVerifierTest.contradiction");
        Path journalDirectory = dir.resolve("journal");
        try (SimulatedHistory history = new SimulatedHistory(journalDirectory, seed, Instant.parse("2026-11-02T00:00:00Z"), 60_000)) {
            history.run(100);
            JournalEvent.RequestFacts facts = new JournalEvent.RequestFacts("r", "acct-0", "cd".repeat(32), "interactive", "openai", "gpt-4o-mini",
                    "/v1/chat/completions", 0, 0, "");
            long index = history.journal.append(new JournalEvent.Settled(history.clock.get(), 987_654, facts, Usage.ZERO, true, 5, 5, 0, "completed"));
            JournalVerifier.Report report = JournalVerifier.verify(journalDirectory, journalDirectory.resolve("snapshots"), Long.MAX_VALUE, 0);
            assertThat(report.ok()).isFalse();
            assertThat(report.problems()).containsExactly("journal record at index " + Long.toHexString(index)
                    + " closes or extends reservation 987654, which is not open");
        }
    }

    @Test
    void aReservationOpenLongerThanAnyRequestMayTakeIsAProblem() throws Exception {
        long seed = TestSeeds.seed("JournalVerifierTest.stale");
        Path journalDirectory = dir.resolve("journal");
        Path snapshots = journalDirectory.resolve("snapshots");
        try (SimulatedHistory history = new SimulatedHistory(journalDirectory, seed, Instant.parse("2026-11-02T00:00:00Z"), 60_000)) {
            history.run(300);
            while (history.openCount() == 0) {
                history.run(1);
            }
            long lastOpenedMs = history.clock.get();
            long openFor = lastOpenedMs - Instant.parse("2026-11-02T00:00:00Z").toEpochMilli();
            JournalVerifier.Report fresh = JournalVerifier.verify(journalDirectory, snapshots, openFor + 60_000, lastOpenedMs);
            JournalVerifier.Report later = JournalVerifier.verify(journalDirectory, snapshots, openFor + 60_000, lastOpenedMs + openFor + 10 * 60_000);
            assertThat(later.ok()).isFalse();
            assertThat(later.problems()).anySatisfy(problem -> assertThat(problem).contains("has been open for").contains("longer than any request may take"));
            assertThat(later.problems()).hasSize(history.openCount());
            assertThat(fresh.problems()).as("none is older than any request may take yet").isEmpty();
        }
    }
}
