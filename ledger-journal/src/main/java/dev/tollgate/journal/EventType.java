package dev.tollgate.journal;

/** The journal's record types. The code is the first byte of every record and never changes meaning. */
public enum EventType {
    ACCOUNT_OPENED(1),
    CREDIT_ADDED(2),
    ADJUSTED(3),
    KEY_ISSUED(4),
    KEY_REVOKED(5),
    RESERVATION_MADE(6),
    RESERVATION_EXTENDED(7),
    SETTLED(8),
    RELEASED(9),
    USAGE_DRIFT(10),
    /** An operator's change (opening, credit, adjustment, key issued or revoked) with who made it. */
    AUTHORED(11),
    /** A key's spend caps per UTC day, per UTC month and in total (each -1 for none). */
    KEY_LIMITS_SET(12),
    /** A key's label, environment, lane, allowed models, expiry and allowed networks. */
    KEY_SCOPE_SET(13),
    /** A key's new secret, and until when the one before keeps working. */
    KEY_ROTATED(14),
    /** A key's or an account's requests per minute, tokens per minute and concurrent requests (each -1 for none). */
    RATE_LIMITS_SET(15),
    /** The price catalog in force from now on: its version, where it was read from and how many rows it has. */
    CATALOG_LOADED(16),
    /** A key's soft-alert percentage of its spend caps, or an account's low-balance threshold (-1 for none). */
    ALERT_SET(17),
    /** A soft alert raised: a key's spend reached its alert percentage of a cap, or an account's balance fell below its threshold. */
    ALERT_RAISED(18),
    /** An account's own credential for a provider set or removed (direct billing): who and when, never the credential. */
    CREDENTIAL_SET(30);

    private static final EventType[] BY_CODE = new EventType[32];

    static {
        for (EventType type : values()) {
            BY_CODE[type.code] = type;
        }
    }

    private final int code;

    EventType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The type with this code, or null. */
    public static EventType of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
