package dev.tollgate.journal;

/** A journal record that contradicts the state before it (a double settlement, an unknown account...). */
public final class LedgerReplayException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final long index;

    public LedgerReplayException(long index, String problem) {
        super("journal record at index " + Long.toHexString(index) + " " + problem);
        this.index = index;
    }

    public long index() {
        return index;
    }
}
