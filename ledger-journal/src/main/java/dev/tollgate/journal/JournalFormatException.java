package dev.tollgate.journal;

/** A journal record that fails validation: corrupt, truncated, of an unknown type or version. Never skipped silently. */
public final class JournalFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public JournalFormatException(String message) {
        super(message);
    }
}
