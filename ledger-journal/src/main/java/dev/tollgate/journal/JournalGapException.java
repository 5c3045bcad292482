package dev.tollgate.journal;

/**
 * Records a read needs are not in the journal: the cycle file holding them was archived or deleted,
 * or no snapshot covers the cycles that were archived. A replay across the gap would give balances
 * without the records in it, so it stops instead.
 */
public final class JournalGapException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public JournalGapException(String message) {
        super(message);
    }
}
