package dev.tollgate.config;

/**
 * When an appended record is safe, and from what. Appends always land in the journal's memory-mapped
 * file at once, so every mode survives a crash of the Tollgate process; they differ on a crash of
 * the machine (power loss, kernel panic):
 * <ul>
 *   <li>{@link #PAGE_CACHE}: never forced to disk by Tollgate; the operating system writes it back
 *       when it chooses (Linux: typically within 30 s). Loss window on a machine crash: that long.</li>
 *   <li>{@link #PERIODIC} (the default): a background thread forces the journal to disk every
 *       {@code syncIntervalMs}. Loss window on a machine crash: one interval.</li>
 *   <li>{@link #PER_DEBIT}: every settlement, credit and adjustment is forced to disk before the
 *       request's response ends. Loss window: the reservations of requests in flight (which
 *       recovery releases anyway). The slowest: each debit waits for the disk on its event loop.</li>
 * </ul>
 */
public enum Durability {
    PAGE_CACHE,
    PERIODIC,
    PER_DEBIT;

    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    static Durability parse(String text, Class<Durability> type) {
        for (Durability durability : values()) {
            if (durability.wireName().equals(text)) {
                return durability;
            }
        }
        return null;
    }
}
