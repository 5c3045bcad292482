package dev.tollgate.journal.reconcile;

import dev.tollgate.journal.ArchiveLog;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.Snapshots;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Moves old journal cycles (one Chronicle file per UTC day) out of the journal directory, once the
 * reconciler's snapshot covers them. Nothing a statement needs is lost: a statement is computed from
 * the snapshot's rollups (which keep every credit and adjustment) plus the records after the
 * snapshot, and recovery starts from the same snapshot. What leaves with the files is the per-request
 * detail of those days (request log, debit export, dump), which stays readable in the archive.
 *
 * <p>A cycle is archived only if all three hold: it is of a day before {@code before}; it is older
 * than the cycle holding the snapshot's last record (that record stays, so readers can position
 * themselves just after it); and it is not the newest cycle. Each move is logged in
 * {@value #ARCHIVE_LOG} in the snapshot directory, with the snapshot index that covered it, which
 * {@link JournalVerifier} reads to know the journal no longer starts at its first record.
 */
public final class JournalArchiver {
    public static final String ARCHIVE_LOG = ArchiveLog.FILE_NAME;
    private static final Pattern CYCLE_FILE = Pattern.compile("(\\d{8})F\\.cq4");
    private static final DateTimeFormatter DAY = DateTimeFormatter.BASIC_ISO_DATE;

    private JournalArchiver() {
    }

    /**
     * @param moved        the files moved (their new paths)
     * @param kept         the cycle files left in place
     * @param coveredIndex the snapshot index that covers what was moved
     */
    public record Result(List<Path> moved, List<Path> kept, long coveredIndex) {
        public Result {
            moved = List.copyOf(moved);
            kept = List.copyOf(kept);
        }
    }

    /**
     * Archives the cycles of days before {@code before} that the newest reconciler snapshot covers.
     * With {@code dryRun} nothing moves and the result says what would.
     *
     * @throws IllegalStateException when no snapshot with reconciler rollups exists
     */
    public static Result archive(Path journalDirectory, Path snapshotDirectory, Path archiveDirectory, LocalDate before, boolean dryRun) {
        Snapshots.Loaded snapshot = Snapshots.latest(snapshotDirectory);
        Reconciliation covered = Reconciliation.fromSnapshot(snapshot);
        if (covered == null || covered.lastIndex() < 0) {
            throw new IllegalStateException("no reconciler snapshot in " + snapshotDirectory
                    + ": nothing is rolled up yet, so no cycle can be archived (a node writes one periodically and when it stops)");
        }
        long coveredIndex = covered.lastIndex();
        int snapshotCycle;
        List<Path> files;
        try (Journal journal = Journal.openReadOnly(journalDirectory)) {
            snapshotCycle = journal.cycleOf(coveredIndex);
            files = journal.cycleFiles();
        }
        List<Path> moved = new ArrayList<>();
        List<Path> kept = new ArrayList<>();
        for (int i = 0; i < files.size(); i++) {
            Path file = files.get(i);
            LocalDate day = dayOf(file);
            boolean archivable = day != null && day.isBefore(before) && day.toEpochDay() < snapshotCycle && i < files.size() - 1;
            if (!archivable) {
                kept.add(file);
                continue;
            }
            Path target = archiveDirectory.resolve(file.getFileName());
            if (!dryRun) {
                move(file, target, snapshotDirectory, coveredIndex);
            }
            moved.add(target);
        }
        return new Result(moved, kept, coveredIndex);
    }

    private static void move(Path file, Path target, Path snapshotDirectory, long coveredIndex) {
        try {
            Files.createDirectories(target.getParent());
            if (Files.exists(target)) {
                throw new IllegalStateException(target + " already exists: not overwriting an archived cycle");
            }
            Files.move(file, target);
            ArchiveLog.append(snapshotDirectory, file, coveredIndex, target.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot archive " + file + " to " + target + ": " + e.getMessage(), e);
        }
    }

    /** The UTC day of a daily cycle file ({@code yyyyMMddF.cq4}), or null for any other file. */
    static LocalDate dayOf(Path file) {
        Matcher matcher = CYCLE_FILE.matcher(file.getFileName().toString());
        if (!matcher.matches()) {
            return null;
        }
        try {
            return LocalDate.parse(matcher.group(1), DAY);
        } catch (DateTimeParseException e) {
            return null;
        }
    }

    /**
     * The highest snapshot index that covered an archived cycle, or -1 when nothing was archived: a
     * replay must then start from a snapshot at or after it, since the records before are gone.
     */
    public static long archivedThrough(Path snapshotDirectory) {
        return ArchiveLog.archivedThrough(snapshotDirectory);
    }
}
