package dev.tollgate.config;

import java.nio.file.Path;

/**
 * Where the ledger journal lives and how durable an append is (see {@link Durability}).
 *
 * @param directory      the Chronicle Queue directory; snapshots go in its {@code snapshots} subdirectory
 * @param syncIntervalMs how often {@link Durability#PERIODIC} forces the journal to disk
 */
public record JournalConfig(Path directory, Durability durability, int syncIntervalMs) {
    public static final int DEFAULT_SYNC_INTERVAL_MS = 100;

    public Path snapshotDirectory() {
        return directory.resolve("snapshots");
    }
}
