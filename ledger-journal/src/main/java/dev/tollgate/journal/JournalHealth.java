package dev.tollgate.journal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Whether the journal can take records now, asked before money is reserved: a request admitted while the disk
 * is full would hold money whose outcome could not be recorded. Unhealthy while the journal's file system has
 * less than {@code minFreeBytes} usable, or for a short while after an append failed (a full disk, a read-only
 * directory); once that while is over, the next request tries again, so service resumes by itself when space
 * returns, with no operator action.
 *
 * <p>The free space is looked up at most every {@link #SPACE_CHECK_INTERVAL_NANOS}, so asking costs a clock read.
 */
public final class JournalHealth {
    public static final long DEFAULT_MIN_FREE_BYTES = 64L << 20;
    static final long SPACE_CHECK_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(250);
    /** How long after a failed append new requests are refused before one is let through to try again. */
    static final long RETRY_AFTER_FAILURE_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

    private final Path directory;
    private volatile long minFreeBytes = DEFAULT_MIN_FREE_BYTES;
    private volatile long usableBytes = Long.MAX_VALUE;
    private volatile long spaceCheckedAtNanos = System.nanoTime() - SPACE_CHECK_INTERVAL_NANOS;
    /** When the last append failed, or 0 after a success. */
    private volatile long failedAtNanos;

    JournalHealth(Path directory) {
        this.directory = directory;
    }

    /** Refuse new requests while the journal's file system has less than this usable (0 turns the check off). */
    public void requireFreeBytes(long bytes) {
        minFreeBytes = Math.max(0, bytes);
        spaceCheckedAtNanos = System.nanoTime() - SPACE_CHECK_INTERVAL_NANOS; // look again now
    }

    public boolean acceptingRecords() {
        return whyNot() == null;
    }

    /** Null when the journal can take records; otherwise why not, for the log (no path or secret in it). */
    public String whyNot() {
        long now = System.nanoTime();
        long failedAt = failedAtNanos;
        if (failedAt != 0 && now - failedAt < RETRY_AFTER_FAILURE_NANOS) {
            return "the last journal append failed";
        }
        if (minFreeBytes > 0) {
            if (now - spaceCheckedAtNanos >= SPACE_CHECK_INTERVAL_NANOS) {
                spaceCheckedAtNanos = now;
                usableBytes = usableSpace();
            }
            if (usableBytes < minFreeBytes) {
                return "the journal's disk has " + usableBytes + " bytes free, below the " + minFreeBytes + " required";
            }
        }
        return null;
    }

    void appendFailed() {
        failedAtNanos = Math.max(1, System.nanoTime());
    }

    void appendSucceeded() {
        if (failedAtNanos != 0) {
            failedAtNanos = 0;
        }
    }

    private long usableSpace() {
        try {
            return Files.getFileStore(directory).getUsableSpace();
        } catch (IOException | RuntimeException e) {
            return 0; // a directory that cannot be asked is not one to write money into
        }
    }
}
