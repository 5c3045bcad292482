package dev.tollgate.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.JournalEvent.CreditAdded;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Replaying the journal: deterministic, idempotent, and the same from a snapshot as from empty. */
class LedgerReplayTest {
    @TempDir
    Path directory;

    record Read(long index, JournalEvent event) {
    }

    /** A realistic journal (no crash): the randomized simulation's history, checked against its model as it goes. */
    private LedgerSimulationTest.Simulation history(long seed, int steps) {
        LedgerSimulationTest.Simulation simulation = new LedgerSimulationTest.Simulation(seed, directory.resolve("history"), false);
        simulation.run(steps);
        return simulation;
    }

    private static LedgerState replay(Journal journal) {
        LedgerState state = new LedgerState();
        journal.readAfter(-1, state::apply);
        return state;
    }

    private static List<Read> records(Journal journal) {
        List<Read> records = new ArrayList<>();
        journal.readAfter(-1, (index, event) -> records.add(new Read(index, event)));
        return records;
    }

    @Test
    void replayingTwiceGivesTheIdenticalStateHash() {
        long seed = JournalCodecTest.seed("LedgerReplayTest.replayingTwiceGivesTheIdenticalStateHash");
        try (LedgerSimulationTest.Simulation simulation = history(seed, 800)) {
            LedgerState first = replay(simulation.journal);
            LedgerState second = replay(simulation.journal);
            assertThat(second.stateHash()).isEqualTo(first.stateHash());
            assertThat(second.recordsApplied()).isEqualTo(first.recordsApplied()).isEqualTo(records(simulation.journal).size());
            assertThat(second.lastIndex()).isEqualTo(simulation.journal.lastIndex());
            simulation.checkReplayEqualsTheModel();

            // The hash sees every record: without the last one it differs.
            LedgerState withoutLast = new LedgerState();
            long last = simulation.journal.lastIndex();
            simulation.journal.readAfter(-1, (index, event) -> {
                if (index < last) {
                    withoutLast.apply(index, event);
                }
            });
            assertThat(withoutLast.stateHash()).isNotEqualTo(first.stateHash());
        }
    }

    @Test
    void aSnapshotPlusTheRecordsAfterItGivesTheSameStateAsAFullReplay() throws IOException {
        long seed = JournalCodecTest.seed("LedgerReplayTest.aSnapshotPlusTheRecordsAfterItGivesTheSameStateAsAFullReplay");
        try (LedgerSimulationTest.Simulation simulation = history(seed, 800)) {
            Journal journal = simulation.journal;
            LedgerState full = replay(journal);
            List<Read> records = records(journal);
            int[] cuts = {0, 1, records.size() / 3, records.size() / 2, records.size() - 2, records.size() - 1};
            for (int cut : cuts) {
                long cutIndex = records.get(cut).index();
                LedgerState upToCut = new LedgerState();
                records.stream().filter(record -> record.index() <= cutIndex).forEach(record -> upToCut.apply(record.index(), record.event()));

                Path snapshots = directory.resolve("snapshots-" + cut);
                Path file = Snapshots.write(snapshots, upToCut, new byte[] {1, 2, 3});
                Snapshots.Loaded loaded = Snapshots.latest(snapshots);
                assertThat(loaded.file()).isEqualTo(file);
                assertThat(loaded.extension()).containsExactly(1, 2, 3);
                assertThat(loaded.state().stateHash()).as("the snapshot round trip at record %d", cut).isEqualTo(upToCut.stateHash());
                assertThat(loaded.state().lastIndex()).isEqualTo(cutIndex);

                long after = journal.readAfter(loaded.state().lastIndex(), loaded.state()::apply);
                assertThat(after).isEqualTo(records.size() - 1 - cut);
                assertThat(loaded.state().stateHash()).as("snapshot at record %d plus the rest", cut).isEqualTo(full.stateHash());
                assertThat(loaded.state().recordsApplied()).isEqualTo(full.recordsApplied());
                assertThat(loaded.state().maxReservationId()).isEqualTo(full.maxReservationId());
            }
        }
    }

    @Test
    void recoveryFromASnapshotEqualsRecoveryFromEmpty() throws IOException {
        long seed = JournalCodecTest.seed("LedgerReplayTest.recoveryFromASnapshotEqualsRecoveryFromEmpty");
        Path withSnapshot;
        Path withoutSnapshot = directory.resolve("without");
        try (LedgerSimulationTest.Simulation simulation = history(seed, 800)) {
            withSnapshot = simulation.journalDirectory;
            List<Read> records = records(simulation.journal);
            LedgerState upTo = new LedgerState();
            records.subList(0, records.size() * 9 / 10).forEach(record -> upTo.apply(record.index(), record.event()));
            Snapshots.write(simulation.journalDirectory.resolve("snapshots"), upTo, null);
        }
        copyTree(withSnapshot, withoutSnapshot);
        deleteTree(withoutSnapshot.resolve("snapshots"));
        try (Journal a = Journal.open(withSnapshot, Durability.PAGE_CACHE, 100);
             Journal b = Journal.open(withoutSnapshot, Durability.PAGE_CACHE, 100)) {
            Ledger fromSnapshot = Ledger.recover(a, withSnapshot.resolve("snapshots"), LedgerSimulationTest.MAX_ACCOUNTS, () -> 1_800_000_000_000L);
            Ledger fromEmpty = Ledger.recover(b, withoutSnapshot.resolve("snapshots"), LedgerSimulationTest.MAX_ACCOUNTS, () -> 1_800_000_000_000L);
            RecoveryReport snapshotReport = fromSnapshot.recoveryReport();
            RecoveryReport emptyReport = fromEmpty.recoveryReport();
            assertThat(snapshotReport.snapshotIndex()).isPositive();
            assertThat(emptyReport.snapshotIndex()).isEqualTo(-1);
            assertThat(snapshotReport.recordsReplayed()).isLessThan(emptyReport.recordsReplayed() / 5);
            assertThat(snapshotReport.stateHash()).isEqualTo(emptyReport.stateHash()).isEqualTo(replay(a).stateHash());
            assertThat(snapshotReport.releasedOnRecovery()).isEqualTo(emptyReport.releasedOnRecovery());
            assertThat(snapshotReport.exposureMicros()).isEqualTo(emptyReport.exposureMicros());
            for (String accountId : fromEmpty.accounts().accountIds()) {
                assertThat(fromSnapshot.accounts().snapshot(accountId)).isEqualTo(fromEmpty.accounts().snapshot(accountId));
            }
            assertThat(fromSnapshot.keys().hashes()).containsExactlyInAnyOrderElementsOf(fromEmpty.keys().hashes());
        }
    }

    @Test
    void aCorruptedSnapshotIsIgnoredForTheOlderOneOrAFullReplay() throws IOException {
        long seed = JournalCodecTest.seed("LedgerReplayTest.aCorruptedSnapshotIsIgnoredForTheOlderOneOrAFullReplay");
        try (LedgerSimulationTest.Simulation simulation = history(seed, 600)) {
            Journal journal = simulation.journal;
            List<Read> records = records(journal);
            Path snapshots = directory.resolve("snapshots");
            LedgerState state = new LedgerState();
            int older = records.size() / 3;
            int newer = records.size() * 2 / 3;
            for (int i = 0; i <= newer; i++) {
                state.apply(records.get(i).index(), records.get(i).event());
                if (i == older || i == newer) {
                    Snapshots.write(snapshots, state, null);
                }
            }
            // A stray temporary file from a snapshot interrupted before its rename is never read.
            Files.write(snapshots.resolve("ledger-7fffffffffffffff.snapshot.tmp"), new byte[] {1, 2, 3});
            String fullHash = replay(journal).stateHash();
            List<Path> files = snapshotFiles(snapshots);
            assertThat(files).hasSize(2);
            assertThat(Snapshots.latest(snapshots).state().lastIndex()).isEqualTo(records.get(newer).index());

            // Damage the newer one: one flipped bit in its middle.
            Path newest = files.get(1);
            JournalOnDiskTest.xorByte(newest, Files.size(newest) / 2, 0x01);
            assertThat(Snapshots.latest(snapshots).state().lastIndex()).as("falls back to the older snapshot").isEqualTo(records.get(older).index());
            LedgerState fromOlder = Snapshots.latest(snapshots).state();
            journal.readAfter(fromOlder.lastIndex(), fromOlder::apply);
            assertThat(fromOlder.stateHash()).isEqualTo(fullHash);

            // Truncate the older one too: no snapshot is usable, so the journal is replayed from its first record.
            Path oldest = files.get(0);
            byte[] bytes = Files.readAllBytes(oldest);
            Files.write(oldest, java.util.Arrays.copyOf(bytes, bytes.length - 9));
            assertThat(Snapshots.latest(snapshots)).isNull();
            Files.write(oldest, new byte[0]);
            assertThat(Snapshots.latest(snapshots)).isNull();
            Files.write(oldest, "not a snapshot at all, but long enough to have a checksum".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            assertThat(Snapshots.latest(snapshots)).isNull();

            Ledger recovered = Ledger.recover(journal, snapshots, LedgerSimulationTest.MAX_ACCOUNTS, () -> 1_800_000_000_000L);
            assertThat(recovered.recoveryReport().snapshotIndex()).isEqualTo(-1);
            assertThat(recovered.recoveryReport().recordsReplayed()).isEqualTo(records.size());
            assertThat(recovered.recoveryReport().stateHash()).isEqualTo(replay(journal).stateHash());
        }
    }

    @Test
    void applyingTheSameRecordTwiceChangesNothing() {
        long seed = JournalCodecTest.seed("LedgerReplayTest.applyingTheSameRecordTwiceChangesNothing");
        try (LedgerSimulationTest.Simulation simulation = history(seed, 400)) {
            Journal journal = simulation.journal;
            LedgerState state = new LedgerState();
            List<Read> records = records(journal);
            Read previous = null;
            for (Read record : records) {
                assertThat(state.apply(record.index(), record.event())).isTrue();
                String hash = state.stateHash();
                assertThat(state.apply(record.index(), record.event())).as("the same record again").isFalse();
                if (previous != null) {
                    assertThat(state.apply(previous.index(), previous.event())).as("an earlier record again").isFalse();
                }
                assertThat(state.stateHash()).isEqualTo(hash);
                previous = record;
            }
            // An at-least-once reader delivering everything again changes nothing either.
            String hash = state.stateHash();
            long applied = state.recordsApplied();
            journal.readAfter(-1, (index, event) -> assertThat(state.apply(index, event)).isFalse());
            assertThat(state.stateHash()).isEqualTo(hash);
            assertThat(state.recordsApplied()).isEqualTo(applied);
        }
    }

    @Test
    void aCreditRecordedTwiceWithOneIdempotencyKeyIsCountedOnce() {
        // Two CreditAdded records with one key can reach the journal (two nodes, or a retry racing a
        // restart); replay applies the first only, as the live ledger would.
        try (Journal journal = Journal.open(directory.resolve("journal"), Durability.PAGE_CACHE, 100)) {
            journal.append(new JournalEvent.AccountOpened(1, "acme"));
            journal.append(new CreditAdded(2, "acme", 500, "top-up-1"));
            journal.append(new CreditAdded(3, "acme", 700, "top-up-1"));
            journal.append(new CreditAdded(4, "acme", 11, "top-up-2"));
            journal.append(new JournalEvent.Adjusted(5, "acme", -11, "refund", "top-up-2"));
            LedgerState state = replay(journal);
            assertThat(state.account("acme").creditedMicros()).isEqualTo(511);
            assertThat(state.account("acme").availableMicros()).isEqualTo(511);
        }
    }

    /**
     * A snapshot is forced to disk when written; a journal in page_cache or periodic mode can lose
     * its last records in a machine crash. The snapshot then covers records the journal no longer
     * has, and the records appended after the restart get the lost indexes again: replaying from
     * that snapshot would skip them (and keep money from records that are gone). Recovery must not
     * use such a snapshot, then or later.
     */
    @Test
    void aSnapshotAheadOfTheJournalIsNotUsed() throws IOException {
        long seed = JournalCodecTest.seed("LedgerReplayTest.aSnapshotAheadOfTheJournalIsNotUsed");
        List<Read> records;
        LedgerState ahead;
        try (LedgerSimulationTest.Simulation simulation = history(seed, 300)) {
            records = records(simulation.journal);
            ahead = replay(simulation.journal);
        }
        // The same journal, as the machine crash left it: its last 20 records lost.
        Path survivor = directory.resolve("survivor");
        int kept = records.size() - 20;
        try (Journal journal = Journal.open(survivor, Durability.PAGE_CACHE, 100)) {
            for (Read record : records.subList(0, kept)) {
                long index = journal.append(record.event());
                assumeThat(index).as("same cycle as the original (not run across midnight UTC)").isEqualTo(record.index());
            }
        }
        Path snapshots = survivor.resolve("snapshots");
        Snapshots.write(snapshots, ahead, null);

        String accountId;
        long creditedBefore;
        try (Journal journal = Journal.open(survivor, Durability.PAGE_CACHE, 100)) {
            Ledger ledger = Ledger.recover(journal, snapshots, LedgerSimulationTest.MAX_ACCOUNTS, () -> 1_800_000_000_000L);
            assertThat(ledger.recoveryReport().snapshotIndex()).as("the snapshot ahead of the journal is not used").isEqualTo(-1);
            assertThat(snapshotFiles(snapshots)).as("it is set aside").isEmpty();
            try (Stream<Path> files = Files.list(snapshots)) {
                assertThat(files.map(path -> path.getFileName().toString())).singleElement().asString().endsWith(".snapshot.ahead-of-journal");
            }
            accountId = ledger.accounts().accountIds().getFirst();
            assertThat(ledger.credit(accountId, 12_345, "after-the-machine-crash")).isTrue();
            creditedBefore = ledger.accounts().snapshot(accountId).creditedMicros();
            assertThat(ledger.recoveryReport().stateHash()).isNotEqualTo(ahead.stateHash());
        }
        try (Journal journal = Journal.open(survivor, Durability.PAGE_CACHE, 100)) {
            Ledger ledger = Ledger.recover(journal, snapshots, LedgerSimulationTest.MAX_ACCOUNTS, () -> 1_800_000_000_000L);
            assertThat(ledger.accounts().snapshot(accountId).creditedMicros()).as("the credit made after the restart is still there")
                    .isEqualTo(creditedBefore);
            assertThat(ledger.recoveryReport().stateHash()).isEqualTo(replay(journal).stateHash());
        }
        // Even once the journal has grown past the snapshot's index, the snapshot stays unused.
        try (Journal journal = Journal.open(survivor, Durability.PAGE_CACHE, 100)) {
            for (int i = 0; i < 30; i++) {
                journal.append(new CreditAdded(1_800_000_000_000L, accountId, 1, "later-" + i));
            }
            assertThat(journal.lastIndex()).isGreaterThan(ahead.lastIndex());
            Ledger ledger = Ledger.recover(journal, snapshots, LedgerSimulationTest.MAX_ACCOUNTS, () -> 1_800_000_000_000L);
            assertThat(ledger.accounts().snapshot(accountId).creditedMicros()).isEqualTo(creditedBefore + 30);
            assertThat(ledger.recoveryReport().stateHash()).isEqualTo(replay(journal).stateHash());
        }
    }

    private static List<Path> snapshotFiles(Path snapshots) throws IOException {
        try (Stream<Path> files = Files.list(snapshots)) {
            return files.filter(path -> path.getFileName().toString().endsWith(".snapshot")).sorted().toList();
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path path : paths.toList()) {
                Files.copy(path, to.resolve(from.relativize(path).toString()));
            }
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }
}
