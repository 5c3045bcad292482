package dev.tollgate.journal.reconcile;

import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalFormatException;
import dev.tollgate.journal.LedgerReplayException;
import dev.tollgate.journal.LedgerState;
import dev.tollgate.journal.Snapshots;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code journal verify}: replays a journal directory with every check there is, read-only (safe
 * while a node appends to it; the records appended during the run are simply not included).
 * <ul>
 *   <li>every record decodes and validates (checksum, version, field limits);</li>
 *   <li>every record applies to the state before it (no unknown account, no double settlement...);</li>
 *   <li>the newest snapshot equals the replay at the snapshot's index (state hash, and rollups byte for byte);</li>
 *   <li>for every account: {@code credited - debited == available + reserved}, {@code available >= 0},
 *       and {@code reserved} is the sum of its open reservations.</li>
 * </ul>
 * The replay starts at the first record, or, once cycles have been archived, at the newest snapshot
 * (which must cover what was archived).
 */
public final class JournalVerifier {

    private JournalVerifier() {
    }

    /** What verify found: lines to print, and the problems (none: the journal is sound). */
    public record Report(List<String> lines, List<String> problems, long recordsRead, String stateHash) {
        public Report {
            lines = List.copyOf(lines);
            problems = List.copyOf(problems);
        }

        public boolean ok() {
            return problems.isEmpty();
        }
    }

    /**
     * A reservation open longer than this is not a request in flight: the longest a request may take is the
     * upstream response timeout (10 minutes by default) plus its stream, so 15 minutes is past any of them.
     */
    public static final long DEFAULT_STALE_AFTER_MS = 15 * 60_000L;

    public static Report verify(Path journalDirectory, Path snapshotDirectory) {
        return verify(journalDirectory, snapshotDirectory, DEFAULT_STALE_AFTER_MS, System.currentTimeMillis());
    }

    /** Also flags as a problem every reservation opened more than {@code staleAfterMs} before {@code nowMs} and still open. */
    public static Report verify(Path journalDirectory, Path snapshotDirectory, long staleAfterMs, long nowMs) {
        List<String> lines = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        Snapshots.Loaded snapshot = Snapshots.latest(snapshotDirectory);
        Reconciliation snapshotted = Reconciliation.fromSnapshot(snapshot);
        long archivedThrough = JournalArchiver.archivedThrough(snapshotDirectory);

        Reconciliation replay;
        if (archivedThrough >= 0) {
            if (snapshotted == null || snapshotted.lastIndex() < archivedThrough) {
                problems.add("cycles up to index " + Long.toHexString(archivedThrough) + " were archived, but no reconciler snapshot covers them");
                return new Report(lines, problems, 0, "");
            }
            replay = snapshotted;
            lines.add("replaying from the snapshot " + snapshot.file().getFileName() + " at index " + Long.toHexString(replay.lastIndex())
                    + " (older cycles are archived)");
        } else {
            replay = Reconciliation.empty();
            lines.add("replaying from the first record");
        }

        long snapshotIndex = archivedThrough < 0 && snapshot != null ? snapshot.state().lastIndex() : Long.MIN_VALUE;
        String snapshotHash = snapshotIndex != Long.MIN_VALUE ? snapshot.state().stateHash() : null;
        byte[] snapshotRollups = snapshotted != null ? snapshotted.rollups().serialize() : null;
        boolean[] snapshotChecked = {snapshotIndex == Long.MIN_VALUE || snapshotIndex < 0};
        long[] read = {0};
        long[] firstAndLast = {-1, -1};
        try (Journal journal = Journal.openReadOnly(journalDirectory)) {
            journal.readAfter(replay.lastIndex(), (index, event) -> {
                read[0]++;
                if (firstAndLast[0] < 0) {
                    firstAndLast[0] = index;
                }
                firstAndLast[1] = index;
                replay.apply(index, event);
                if (index == snapshotIndex) {
                    snapshotChecked[0] = true;
                    compareWithSnapshot(replay, snapshot, snapshotHash, snapshotRollups, lines, problems);
                }
            });
        } catch (JournalFormatException | LedgerReplayException e) {
            problems.add(e.getMessage());
        } catch (RuntimeException e) {
            problems.add("cannot read the journal at " + journalDirectory + ": " + e);
        }
        if (!snapshotChecked[0] && problems.isEmpty()) {
            problems.add("the snapshot " + snapshot.file().getFileName() + " covers index " + Long.toHexString(snapshotIndex)
                    + ", which the replay never reached: the snapshot is ahead of the journal");
        }
        lines.add("records: " + read[0] + (read[0] > 0 ? " (index " + Long.toHexString(firstAndLast[0]) + " to " + Long.toHexString(firstAndLast[1]) + ")" : ""));

        LedgerState state = replay.ledger();
        long revoked = state.keys().stream().filter(LedgerState.Key::revoked).count();
        lines.add("accounts: " + state.accounts().size() + ", keys: " + state.keys().size() + " (" + revoked + " revoked)");
        Map<String, Long> heldByAccount = new HashMap<>();
        for (LedgerState.OpenReservation open : state.openReservations()) {
            heldByAccount.merge(open.accountId(), open.heldMicros(), Long::sum);
        }
        lines.add("open reservations: " + state.openReservations().size()
                + (state.openReservations().isEmpty() ? "" : " (requests in flight, or left by a crash: recovery releases those)"));
        for (LedgerState.OpenReservation open : state.openReservations()) {
            lines.add("  reservation " + open.reservationId() + " account " + open.accountId() + " request " + open.requestId() + " held "
                    + open.heldMicros() + " micros");
            long openForMs = nowMs - open.startMs();
            if (openForMs > staleAfterMs) {
                problems.add("reservation " + open.reservationId() + " (request " + open.requestId() + ", account " + open.accountId() + ") has been open for "
                        + openForMs / 1000 + " s, longer than any request may take: its outcome was lost, or a node stopped without one"
                        + " (the next recovery of that journal releases it)");
            }
        }
        for (LedgerState.Account account : state.accounts()) {
            List<String> wrong = new ArrayList<>();
            if (account.conservationErrorMicros() != 0) {
                wrong.add("credited - debited - available - reserved = " + account.conservationErrorMicros());
            }
            if (account.availableMicros() < 0) {
                wrong.add("available is negative");
            }
            long held = heldByAccount.getOrDefault(account.id(), 0L);
            if (account.reservedMicros() != held) {
                wrong.add("reserved " + account.reservedMicros() + " but its open reservations hold " + held);
            }
            lines.add("account " + account.id() + ": credited " + account.creditedMicros() + " debited " + account.debitedMicros()
                    + " available " + account.availableMicros() + " reserved " + account.reservedMicros() + " written off "
                    + account.writtenOffMicros() + " (micros): conservation " + (wrong.isEmpty() ? "ok" : "BROKEN: " + String.join("; ", wrong)));
            wrong.forEach(problem -> problems.add("account " + account.id() + ": " + problem));
        }
        String hash = state.stateHash();
        lines.add("state hash: " + hash);
        return new Report(lines, problems, read[0], hash);
    }

    private static void compareWithSnapshot(Reconciliation replay, Snapshots.Loaded snapshot, String snapshotHash, byte[] snapshotRollups,
                                            List<String> lines, List<String> problems) {
        String name = snapshot.file().getFileName().toString();
        boolean hashMatches = replay.ledger().stateHash().equals(snapshotHash);
        if (!hashMatches) {
            problems.add("the snapshot " + name + " differs from the replay at its index " + Long.toHexString(snapshot.state().lastIndex()));
        }
        String rollups;
        if (snapshotRollups == null) {
            rollups = "it has no rollups";
        } else if (Arrays.equals(snapshotRollups, replay.rollups().serialize())) {
            rollups = "its rollups match";
        } else {
            rollups = "its rollups DIFFER";
            problems.add("the rollups of the snapshot " + name + " differ from the replay at its index");
        }
        lines.add("snapshot " + name + ": " + (hashMatches ? "matches the replay" : "DIFFERS from the replay") + " at its index; " + rollups);
    }
}
