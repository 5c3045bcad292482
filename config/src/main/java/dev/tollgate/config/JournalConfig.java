package dev.tollgate.config;

import java.nio.file.Path;

/**
 * Where the ledger journal lives and how durable an append is (see {@link Durability}).
 *
 * @param directory      the Chronicle Queue directory; snapshots go in its {@code snapshots} subdirectory
 * @param syncIntervalMs how often {@link Durability#PERIODIC} forces the journal to disk
 * @param minFreeBytes   new requests are refused with 503 while the journal's disk has less than this usable
 *                       (0: no check), so a filling disk stops admissions before an outcome cannot be recorded
 */
public record JournalConfig(Path directory, Durability durability, int syncIntervalMs, long minFreeBytes) {
    public static final int DEFAULT_SYNC_INTERVAL_MS = 100;
    public static final long DEFAULT_MIN_FREE_BYTES = 64L << 20;

    public JournalConfig(Path directory, Durability durability, int syncIntervalMs) {
        this(directory, durability, syncIntervalMs, DEFAULT_MIN_FREE_BYTES);
    }

    public Path snapshotDirectory() {
        return directory.resolve("snapshots");
    }
}
