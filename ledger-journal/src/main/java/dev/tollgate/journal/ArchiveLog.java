package dev.tollgate.journal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The log of journal cycles moved out of the journal directory, {@value #FILE_NAME} in the snapshot
 * directory: one line per cycle file, with the index of the snapshot that covered it. Whoever replays
 * the journal (recovery, the offline commands) reads it to know that the journal no longer starts at
 * its first record, and that only a snapshot at or after {@link #archivedThrough} may start a replay.
 */
public final class ArchiveLog {
    public static final String FILE_NAME = "archived.log";
    private static final Pattern LINE = Pattern.compile("^archived \\S+ covered-by ([0-9a-f]+) .*$");

    private ArchiveLog() {
    }

    /** Records that {@code cycleFile} moved to {@code archiveDirectory}, covered by the snapshot at {@code coveredIndex}; forced to disk. */
    public static void append(Path snapshotDirectory, Path cycleFile, long coveredIndex, Path archiveDirectory) throws IOException {
        String line = "archived " + cycleFile.getFileName() + " covered-by " + Long.toHexString(coveredIndex) + " to " + archiveDirectory
                + " at " + Instant.now() + "\n";
        Files.writeString(snapshotDirectory.resolve(FILE_NAME), line, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND, StandardOpenOption.SYNC);
    }

    /**
     * The highest snapshot index that covered an archived cycle, or -1 when nothing was archived (or
     * {@code snapshotDirectory} is null): a replay must then start from a snapshot at or after it,
     * since the records before are gone.
     */
    public static long archivedThrough(Path snapshotDirectory) {
        if (snapshotDirectory == null) {
            return -1;
        }
        Path log = snapshotDirectory.resolve(FILE_NAME);
        if (!Files.exists(log)) {
            return -1;
        }
        long through = -1;
        try {
            for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
                Matcher matcher = LINE.matcher(line);
                if (matcher.matches()) {
                    through = Math.max(through, Long.parseUnsignedLong(matcher.group(1), 16));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + log + ": " + e.getMessage(), e);
        }
        return through;
    }
}
