package dev.tollgate.journal.reconcile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.Ledger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.YearMonth;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ArchiveTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final List<YearMonth> MONTHS = List.of(YearMonth.of(2026, 10), YearMonth.of(2026, 11), YearMonth.of(2026, 12));

    @TempDir
    Path dir;

    @Test
    void statementsAreIdenticalAfterArchivingTheCyclesTheSnapshotCovers() throws Exception {
        long seed = TestSeeds.seed("ArchiveTest.statementsIdentical");
        Path journalDirectory = dir.resolve("journal");
        Path snapshots = journalDirectory.resolve("snapshots");
        Path archive = dir.resolve("archive");
        try (SimulatedHistory history = new SimulatedHistory(journalDirectory, seed, Instant.parse("2026-10-28T00:00:00Z"), 5 * 60_000)) {
            Reconciler reconciler = Reconciler.start(history.journal, snapshots, history.ledger.accounts(), ReconcilerSettings.defaults(),
                    history.clock::get);
            history.run(3_000); // about ten days: one cycle file per day
            assertThat(reconciler.snapshotNow(WAIT)).isTrue();

            Map<String, String> before = statements(Reconciliation.load(history.journal, dir.resolve("no-snapshots")), history.accounts);
            List<Path> cyclesBefore = history.journal.cycleFiles();
            assertThat(cyclesBefore.size()).isGreaterThanOrEqualTo(9);

            // While the node still appends and its reconciler tails, as an operator would do it.
            LocalDate cutoff = LocalDate.of(2026, 11, 3);
            JournalArchiver.Result dryRun = JournalArchiver.archive(journalDirectory, snapshots, archive, cutoff, true);
            assertThat(history.journal.cycleFiles()).isEqualTo(cyclesBefore);
            JournalArchiver.Result result = JournalArchiver.archive(journalDirectory, snapshots, archive, cutoff, false);
            assertThat(result.moved()).isEqualTo(dryRun.moved());
            assertThat(result.moved()).extracting(path -> path.getFileName().toString())
                    .containsExactly("20261028F.cq4", "20261029F.cq4", "20261030F.cq4", "20261031F.cq4", "20261101F.cq4", "20261102F.cq4");
            assertThat(result.moved()).allSatisfy(path -> assertThat(path).exists());
            assertThat(history.journal.cycleFiles()).hasSize(cyclesBefore.size() - 6);
            assertThat(JournalArchiver.archivedThrough(snapshots)).isEqualTo(result.coveredIndex());

            // Straight after: from the snapshot plus the rest of the journal, every statement is the same.
            try (Journal readOnly = Journal.openReadOnly(journalDirectory)) {
                assertThat(statements(Reconciliation.load(readOnly, snapshots), history.accounts)).isEqualTo(before);
            }
            assertThat(statements(reconciler.read(r -> r), history.accounts)).isEqualTo(before);

            // The node goes on; a restarted reconciler and a fresh offline reader agree on everything, old months included.
            history.run(1_000);
            history.closeAll();
            assertThat(reconciler.awaitCaughtUp(WAIT)).isTrue();
            Map<String, String> live = statements(reconciler.read(r -> r), history.accounts);
            reconciler.close();
            // October was over before the archive: only "through" (the newest record seen) may differ.
            for (String account : history.accounts) {
                String key = account + " " + YearMonth.of(2026, 10);
                assertThat(withoutThrough(live.get(key))).isEqualTo(withoutThrough(before.get(key)));
            }
            Reconciler restarted = Reconciler.start(history.journal, snapshots, null, ReconcilerSettings.defaults(), history.clock::get);
            assertThat(restarted.awaitCaughtUp(WAIT)).isTrue();
            assertThat(statements(restarted.read(r -> r), history.accounts)).isEqualTo(live);
            restarted.close();
            String liveHash = reconciler.stateHash();
            history.close();

            try (Journal readOnly = Journal.openReadOnly(journalDirectory)) {
                assertThat(statements(Reconciliation.load(readOnly, snapshots), history.accounts)).isEqualTo(live);
            }
            JournalVerifier.Report verified = JournalVerifier.verify(journalDirectory, snapshots, JournalVerifier.DEFAULT_STALE_AFTER_MS, history.clock.get());
            assertThat(verified.problems()).isEmpty();
            assertThat(verified.lines().get(0)).startsWith("replaying from the snapshot");
            assertThat(verified.stateHash()).isEqualTo(liveHash);
            // Recovery starts from the same snapshot and never needs the archived cycles.
            try (Journal reopened = Journal.open(journalDirectory, Durability.PAGE_CACHE, 0)) {
                Ledger recovered = Ledger.recover(reopened, snapshots, 64, System::currentTimeMillis);
                assertThat(recovered.recoveryReport().stateHash()).isEqualTo(liveHash);
                assertThat(recovered.recoveryReport().releasedOnRecovery()).isEmpty();
            }
        }
    }

    @Test
    void nothingIsArchivedWithoutAReconcilerSnapshotNorTheSnapshotsOwnCycle() throws Exception {
        long seed = TestSeeds.seed("ArchiveTest.limits");
        Path journalDirectory = dir.resolve("journal");
        Path snapshots = journalDirectory.resolve("snapshots");
        try (SimulatedHistory history = new SimulatedHistory(journalDirectory, seed, Instant.parse("2026-10-28T00:00:00Z"), 5 * 60_000)) {
            history.run(1_500);
            assertThatThrownBy(() -> JournalArchiver.archive(journalDirectory, snapshots, dir.resolve("archive"), LocalDate.of(2027, 1, 1), false))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("no reconciler snapshot");

            // A snapshot in the middle of the history: its cycle and everything after stay, whatever the date.
            Reconciliation upTo = Reconciliation.empty();
            long middle = history.journal.cycleFiles().size() / 2;
            history.journal.readAfter(-1, (index, event) -> {
                if (history.journal.cycleOf(index) - history.journal.cycleOf(history.journal.firstIndex()) < middle) {
                    upTo.apply(index, event);
                }
            });
            upTo.writeSnapshot(snapshots);
            JournalArchiver.Result result = JournalArchiver.archive(journalDirectory, snapshots, dir.resolve("archive"), LocalDate.of(2027, 1, 1), false);
            assertThat(result.moved()).hasSize((int) middle - 1);
            assertThat(history.journal.cycleOf(history.journal.lastIndex())).isGreaterThan(history.journal.cycleOf(upTo.lastIndex()));
            try (Stream<Path> files = Files.list(journalDirectory)) {
                assertThat(files.map(path -> JournalArchiver.dayOf(path)).filter(day -> day != null))
                        .allSatisfy(day -> assertThat(day.toEpochDay()).isGreaterThanOrEqualTo(history.journal.cycleOf(upTo.lastIndex())));
            }
        }
    }

    /**
     * The snapshot that covered the archived cycles is lost (deleted, or failing its checksum): the
     * next older one ends inside the archive, so the records between it and the first live one are in
     * neither. Recovery used to replay from the live cycles as if they followed it, losing the credits
     * in between without a word; now it refuses to start and says what is missing.
     */
    @Test
    void recoveryRefusesToStartWhenNoSnapshotCoversTheArchivedCycles() throws Exception {
        Path journalDirectory = dir.resolve("journal");
        Path snapshots = journalDirectory.resolve("snapshots");
        java.util.concurrent.atomic.AtomicLong clock = new java.util.concurrent.atomic.AtomicLong(Instant.parse("2026-10-28T10:00:00Z").toEpochMilli());
        Path covering;
        try (Journal journal = Journal.open(journalDirectory, Durability.PAGE_CACHE, 0, clock::get)) {
            Ledger ledger = Ledger.recover(journal, snapshots, 8, clock::get);
            ledger.openAccount("acme");
            ledger.credit("acme", 100, "day-1");
            Reconciliation.load(journal, snapshots).writeSnapshot(snapshots); // ends on day 1
            clock.addAndGet(86_400_000L);
            ledger.credit("acme", 50, "day-2");
            clock.addAndGet(86_400_000L);
            ledger.credit("acme", 25, "day-3");
            covering = Reconciliation.load(journal, snapshots).writeSnapshot(snapshots); // ends on day 3
            clock.addAndGet(86_400_000L);
            ledger.credit("acme", 10, "day-4");
            ledger.close();
        }
        JournalArchiver.Result result = JournalArchiver.archive(journalDirectory, snapshots, dir.resolve("archive"), LocalDate.of(2026, 10, 31), false);
        assertThat(result.moved()).extracting(path -> path.getFileName().toString()).containsExactly("20261028F.cq4", "20261029F.cq4");
        try (Journal journal = Journal.open(journalDirectory, Durability.PAGE_CACHE, 0, clock::get)) {
            assertThat(Ledger.recover(journal, snapshots, 8, clock::get).balances().availableMicros(0)).isEqualTo(185);
        }

        Files.delete(covering);
        try (Journal journal = Journal.open(journalDirectory, Durability.PAGE_CACHE, 0, clock::get)) {
            assertThatThrownBy(() -> Ledger.recover(journal, snapshots, 8, clock::get))
                    .isInstanceOf(dev.tollgate.journal.JournalGapException.class)
                    .hasMessageContaining("archived")
                    .hasMessageContaining(Long.toHexString(result.coveredIndex()));
        }
    }

    private static String withoutThrough(String statement) {
        return statement.replaceAll("\"through\" : \"[^\"]*\"", "");
    }

    private static Map<String, String> statements(Reconciliation reconciliation, List<String> accounts) {
        Map<String, String> statements = new LinkedHashMap<>();
        for (String account : accounts) {
            for (YearMonth month : MONTHS) {
                Statement statement = reconciliation.statement(account, month);
                statements.put(account + " " + month, statement.toJson() + statement.toCsv());
            }
        }
        return statements;
    }
}
