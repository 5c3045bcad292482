package dev.tollgate.journal.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reconciler survives being killed: restarted from its last snapshot, it re-reads what it had
 * applied after that snapshot and ends with rollups identical, byte for byte, to a reconciler that
 * never stopped.
 */
class ReconcilerRestartTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    /** Small, so that the kills land between snapshots and records are re-read after every restart. */
    private static final ReconcilerSettings SETTINGS = ReconcilerSettings.defaults().withSnapshotEvery(97, 60_000).withBatchLimit(13);

    @TempDir
    Path dir;

    @Test
    void aKilledReconcilerRestartedCatchesUpWithRollupsIdenticalToOneThatNeverStopped() throws Exception {
        long seed = TestSeeds.seed("ReconcilerRestartTest.killedAndRestarted");
        Random kills = new Random(seed ^ 0x5DEECE66DL);
        try (SimulatedHistory history = new SimulatedHistory(dir.resolve("journal"), seed, Instant.parse("2026-10-30T08:00:00Z"), 60_000)) {
            Path steadySnapshots = dir.resolve("steady");
            Path killedSnapshots = dir.resolve("killed");
            Reconciler steady = Reconciler.start(history.journal, steadySnapshots, null, SETTINGS, history.clock::get, "steady", null);
            Reconciler killed = Reconciler.start(history.journal, killedSnapshots, null, SETTINGS, history.clock::get, "killed", null);
            int restarts = 0;
            int restartsThatReread = 0;
            for (int round = 0; round < 12; round++) {
                history.run(50 + kills.nextInt(250));
                if (kills.nextBoolean()) {
                    assertThat(killed.awaitCaughtUp(WAIT)).isTrue(); // sometimes killed when caught up, sometimes mid-way
                }
                killed.halt();
                long appliedBeforeKill = killed.lag().appliedIndex();
                assertThat(killed.failure()).isNull();
                killed = Reconciler.start(history.journal, killedSnapshots, null, SETTINGS, history.clock::get, "killed", null);
                restarts++;
                assertThat(killed.startIndex()).isLessThanOrEqualTo(appliedBeforeKill);
                if (killed.startIndex() < appliedBeforeKill) {
                    restartsThatReread++;
                }
            }
            history.run(200);
            history.closeAll();
            assertThat(steady.awaitCaughtUp(WAIT)).isTrue();
            assertThat(killed.awaitCaughtUp(WAIT)).isTrue();

            assertThat(killed.serializedRollups()).isEqualTo(steady.serializedRollups());
            assertThat(killed.stateHash()).isEqualTo(steady.stateHash());
            // And both equal one replay of the whole journal from the first record.
            Reconciliation replay = Reconciliation.empty();
            history.journal.readAfter(-1, replay::apply);
            assertThat(steady.serializedRollups()).isEqualTo(replay.rollups().serialize());
            assertThat(steady.stateHash()).isEqualTo(replay.ledger().stateHash());
            assertThat(restarts).isEqualTo(12);
            assertThat(restartsThatReread).as("restarts that re-read records applied before the kill").isPositive();
            System.out.println("restarts " + restarts + ", of which re-read records: " + restartsThatReread + "; hourly rows "
                    + replay.rollups().hourlyRowCount());
            steady.close();
            killed.close();
        }
    }

    @Test
    void recordsDeliveredAgainToTheSameStateChangeNothing() throws Exception {
        long seed = TestSeeds.seed("ReconcilerRestartTest.redelivered");
        try (SimulatedHistory history = new SimulatedHistory(dir.resolve("journal"), seed, Instant.parse("2026-10-30T08:00:00Z"), 60_000)) {
            history.run(600);
            Path snapshots = dir.resolve("snapshots-a");
            Reconciler first = Reconciler.start(history.journal, snapshots, null, SETTINGS, history.clock::get);
            assertThat(first.awaitCaughtUp(WAIT)).isTrue();
            first.close(); // final snapshot at the end of the journal
            byte[] rollups = first.serializedRollups();

            // The tailer rewound to the very first record: everything is delivered again.
            Reconciler again = Reconciler.start(history.journal, snapshots, null, SETTINGS, history.clock::get, Reconciler.TAILER_NAME, -1L);
            assertThat(again.startIndex()).isEqualTo(first.lag().appliedIndex());
            history.run(100);
            assertThat(again.awaitCaughtUp(WAIT)).isTrue();
            Reconciliation replay = Reconciliation.empty();
            history.journal.readAfter(-1, replay::apply);
            assertThat(again.serializedRollups()).isEqualTo(replay.rollups().serialize()).isNotEqualTo(rollups);
            again.close();

            // And directly: a second pass over the same records applies none of them.
            Reconciliation twice = Reconciliation.empty();
            history.journal.readAfter(-1, twice::apply);
            long[] appliedAgain = {0};
            history.journal.readAfter(-1, (index, event) -> appliedAgain[0] += twice.apply(index, event) ? 1 : 0);
            assertThat(appliedAgain[0]).isZero();
            assertThat(twice.rollups().serialize()).isEqualTo(replay.rollups().serialize());
        }
    }

    @Test
    void aCleanCloseSnapshotsTheEndAndTheNextStartReadsNothingAgain() throws Exception {
        long seed = TestSeeds.seed("ReconcilerRestartTest.cleanClose");
        try (SimulatedHistory history = new SimulatedHistory(dir.resolve("journal"), seed, Instant.parse("2026-10-30T08:00:00Z"), 60_000)) {
            history.run(300);
            Path snapshots = history.journalDirectory.resolve("snapshots");
            Reconciler reconciler = Reconciler.start(history.journal, snapshots, null, ReconcilerSettings.defaults(), history.clock::get);
            history.run(100);
            reconciler.close();
            long end = history.journal.lastIndex();
            assertThat(reconciler.snapshotIndex()).isEqualTo(end);
            try (var files = Files.list(snapshots)) {
                assertThat(files.map(path -> path.getFileName().toString())).contains(String.format("ledger-%016x.snapshot", end));
            }
            Reconciler restarted = Reconciler.start(history.journal, snapshots, null, ReconcilerSettings.defaults(), history.clock::get);
            assertThat(restarted.startIndex()).isEqualTo(end);
            assertThat(restarted.lag().recordsBehind()).isZero();
            assertThat(restarted.serializedRollups()).isEqualTo(reconciler.serializedRollups());
            restarted.close();
        }
    }
}
