package dev.tollgate.journal;

import dev.tollgate.metering.Usage;

/**
 * Every change of money, or of who may spend it, as one record of the journal. The journal is the
 * source of record: replaying it from empty gives every balance, key and open reservation.
 *
 * <p>Amounts are integer micro-units. Key hashes are the lower-case hex SHA-256 of the key, never
 * the key. No prompt or completion text is ever recorded.
 */
public sealed interface JournalEvent {

    long timestampMs();

    EventType type();

    /** What this record changes: itself, or for an {@link Authored} record the operator's change it carries. */
    default JournalEvent change() {
        return this;
    }

    /** An account exists (with nothing in it). Opening an account twice is harmless. */
    record AccountOpened(long timestampMs, String accountId) implements JournalEvent {
        public EventType type() {
            return EventType.ACCOUNT_OPENED;
        }
    }

    /** Money added to an account: a top-up or an opening credit. Applied once per idempotency key. */
    record CreditAdded(long timestampMs, String accountId, long amountMicros, String idempotencyKey) implements JournalEvent {
        public EventType type() {
            return EventType.CREDIT_ADDED;
        }
    }

    /** An operator's correction, positive or negative, with its reason. Applied once per idempotency key. */
    record Adjusted(long timestampMs, String accountId, long amountMicros, String reason, String idempotencyKey) implements JournalEvent {
        public EventType type() {
            return EventType.ADJUSTED;
        }
    }

    /** A key may now spend from an account. Only the hash, the first characters shown in reports, and a label. */
    record KeyIssued(long timestampMs, String keyHash, String displayPrefix, String label, String accountId) implements JournalEvent {
        public EventType type() {
            return EventType.KEY_ISSUED;
        }
    }

    record KeyRevoked(long timestampMs, String keyHash) implements JournalEvent {
        public EventType type() {
            return EventType.KEY_REVOKED;
        }
    }

    /** Money moved from available to reserved for one request, before it was forwarded. */
    record ReservationMade(long timestampMs, long reservationId, String accountId, String keyHash, long amountMicros, String requestId)
            implements JournalEvent {
        public EventType type() {
            return EventType.RESERVATION_MADE;
        }
    }

    /** More money held for a response that outgrew its reservation. */
    record ReservationExtended(long timestampMs, long reservationId, long amountMicros) implements JournalEvent {
        public EventType type() {
            return EventType.RESERVATION_EXTENDED;
        }
    }

    /**
     * The debit: a reservation closed with its actual cost. {@code debitedMicros + writtenOffMicros}
     * is the cost; the rest of what the reservation held returned to available.
     */
    record Settled(long timestampMs, long reservationId, RequestFacts request, Usage usage, boolean usageReportedByProvider,
                   long costMicros, long debitedMicros, long writtenOffMicros, String reason) implements JournalEvent {
        public EventType type() {
            return EventType.SETTLED;
        }
    }

    /** A reservation closed with nothing charged, and why (an upstream error, a client that left early, recovery...). */
    record Released(long timestampMs, long reservationId, RequestFacts request, String reason) implements JournalEvent {
        public EventType type() {
            return EventType.RELEASED;
        }
    }

    /**
     * A provider reported usage beyond what the request could have used (or Tollgate's estimate exceeded it):
     * both numbers, the {@code reported} as read and the {@code billed} within the request's bounds. Written just
     * before the reservation's {@link Settled} record, which carries the billed usage; it moves no money.
     */
    record UsageDrift(long timestampMs, long reservationId, Usage reported, Usage billed) implements JournalEvent {
        /** The kinds' counts only: drift is about counts beyond a request's bounds, and the settlement after it carries the parts. */
        public UsageDrift {
            reported = reported == null ? null : reported.kinds();
            billed = billed == null ? null : billed.kinds();
        }

        public EventType type() {
            return EventType.USAGE_DRIFT;
        }
    }

    /**
     * An operator's change made through the admin API, with the label of the admin token that made it
     * ({@code actor}) and an optional note: the audit trail is the journal itself. The change is one of
     * the records an operator may make (an account opened, a credit, an adjustment, a key issued or
     * revoked) with this record's timestamp, and it applies exactly as it would on its own.
     */
    record Authored(long timestampMs, String actor, String note, JournalEvent change) implements JournalEvent {
        public EventType type() {
            return EventType.AUTHORED;
        }
    }

    /**
     * An account's own credential for {@code provider} was set (or, {@code removed}, taken away) through the admin API, for
     * its direct routes. The credential itself is never journaled: it is kept encrypted apart; this record is the audit
     * trail of who changed it when. It moves no money.
     */
    record CredentialSet(long timestampMs, String accountId, String provider, boolean removed) implements JournalEvent {
        public EventType type() {
            return EventType.CREDENTIAL_SET;
        }
    }

    /** A key's spend caps, replacing any before: per UTC day, per UTC month and in total, each -1 for none. */
    record KeyLimitsSet(long timestampMs, String keyHash, long dayCapMicros, long monthCapMicros, long totalCapMicros) implements JournalEvent {
        public EventType type() {
            return EventType.KEY_LIMITS_SET;
        }
    }

    /**
     * A key's label and scope, replacing those before: its environment and lane tags (empty for none), the models it
     * may call (empty for all), when it expires (-1 for never) and the client networks it may be used from (empty for any).
     */
    record KeyScopeSet(long timestampMs, String keyHash, String label, String env, String lane, java.util.List<String> models,
                       long expiresAtMs, java.util.List<String> networks) implements JournalEvent {
        public KeyScopeSet {
            models = java.util.List.copyOf(models);
            networks = java.util.List.copyOf(networks);
        }

        public EventType type() {
            return EventType.KEY_SCOPE_SET;
        }
    }

    /**
     * A key got a new secret: {@code keyHash} stays the key's identity (its id, its caps, what the journal names), the
     * secret with hash {@code newSecretHash} opens it from now on, and the secret that did until now keeps working until
     * {@code previousValidUntilMs}.
     */
    record KeyRotated(long timestampMs, String keyHash, String newSecretHash, String newDisplayPrefix, long previousValidUntilMs)
            implements JournalEvent {
        public EventType type() {
            return EventType.KEY_ROTATED;
        }
    }

    /**
     * The rate limits of a key ({@code subject} {@link #KEY}, {@code id} its hash) or of an account ({@link #ACCOUNT},
     * its id), replacing those before: requests per minute, tokens per minute, concurrent requests, each -1 for none.
     */
    record RateLimitsSet(long timestampMs, int subject, String id, long rpm, long tpm, long concurrency) implements JournalEvent {
        public static final int KEY = 0;
        public static final int ACCOUNT = 1;

        public EventType type() {
            return EventType.RATE_LIMITS_SET;
        }
    }

    /**
     * The price catalog that prices every request admitted from now on (a request already admitted keeps the one it
     * was admitted with, named in its debit's {@link RequestFacts#catalogVersion}). {@code version} is the catalog's
     * {@code PriceCatalog.version()}, {@code source} "builtin" or the catalog file's name. It moves no money.
     */
    record CatalogLoaded(long timestampMs, String version, String source, int rowCount) implements JournalEvent {
        public EventType type() {
            return EventType.CATALOG_LOADED;
        }
    }

    /**
     * A key's soft alert ({@code subject} {@link #KEY}, {@code id} its hash, {@code value} the percentage 1 to 100 of
     * each of its caps) or an account's ({@link #ACCOUNT}, its id, {@code value} the low-balance threshold in micros),
     * replacing the one before; {@code value} -1 for none.
     */
    record AlertSet(long timestampMs, int subject, String id, long value) implements JournalEvent {
        public static final int KEY = 0;
        public static final int ACCOUNT = 1;

        public EventType type() {
            return EventType.ALERT_SET;
        }
    }

    /**
     * A soft alert raised, once per crossing: for {@link Window#DAY}, {@link Window#MONTH} or {@link Window#TOTAL}, key
     * {@code keyHash} of account {@code accountId} has used {@code amountMicros} of the window's {@code limitMicros}
     * cap in {@code period} (the UTC day or month number, 0 for the total), at or beyond {@code thresholdMicros};
     * for {@link Window#BALANCE}, the account's balance {@code amountMicros} fell below its {@code thresholdMicros}
     * ({@code keyHash} the key whose debit took it there, {@code limitMicros} -1, {@code period} the how-many-th time).
     * It moves no money; it is what the alert webhook delivers, and what stops an alert being raised twice.
     */
    record AlertRaised(long timestampMs, Window window, String accountId, String keyHash, int period, long limitMicros,
                       long thresholdMicros, long amountMicros) implements JournalEvent {
        public enum Window {
            DAY, MONTH, TOTAL, BALANCE
        }

        public EventType type() {
            return EventType.ALERT_RAISED;
        }
    }

    /**
     * What a statement or request log shows of one request. {@code catalogVersion} is the version of the price catalog
     * the request was admitted with, so priced with; empty when unknown (records written before it was journaled,
     * and releases that recovery writes). {@code rowVersion} names the price set of the model's row in that catalog
     * (its {@code effectiveFrom}, empty for an undated row) and {@code serviceTier} the tier the provider says served it
     * (empty when it said none): with the usage, what re-rating needs to price the request again exactly.
     * {@code requestedModel} is the model name the client sent when a route served it under another name (empty when
     * the same), {@code attempts} the upstream attempts that failed before the one that served, in order, as
     * {@code provider/model:reason} separated by spaces (empty when the first served), and {@code priceMultiplierBps}
     * the lane's price multiplier in basis points that the cost was multiplied by ({@link #NO_MULTIPLIER_BPS}: none).
     */
    record RequestFacts(String requestId, String accountId, String keyHash, String lane, String provider, String model,
                        String endpoint, long startMs, long endMs, String upstreamRequestId, String catalogVersion,
                        String rowVersion, String serviceTier, String requestedModel, String attempts, int priceMultiplierBps,
                        long directCostMicros) {

        /** No multiplier: the lane's price is the catalog's. */
        public static final int NO_MULTIPLIER_BPS = 10_000;
        /** {@link #directCostMicros} of a request paid from the prepaid balance (billed by Tollgate). */
        public static final long PREPAID = -1;

        /** Facts of a request paid from the prepaid balance. */
        public RequestFacts(String requestId, String accountId, String keyHash, String lane, String provider, String model,
                            String endpoint, long startMs, long endMs, String upstreamRequestId, String catalogVersion,
                            String rowVersion, String serviceTier, String requestedModel, String attempts, int priceMultiplierBps) {
            this(requestId, accountId, keyHash, lane, provider, model, endpoint, startMs, endMs, upstreamRequestId, catalogVersion, rowVersion,
                    serviceTier, requestedModel, attempts, priceMultiplierBps, PREPAID);
        }

        /**
         * Whether the provider bills this request's tokens to the account's own provider account ({@code billed_by: provider}):
         * then {@link #directCostMicros} is that cost at the catalog price (0 on a release) and the settlement's debit is only
         * the platform fee. {@link #PREPAID} otherwise.
         */
        public boolean direct() {
            return directCostMicros != PREPAID;
        }

        /** Who was paid for the provider's tokens, as statements and exports name it: {@code tollgate} or {@code provider}. */
        public String billedBy() {
            return direct() ? "provider" : "tollgate";
        }

        /** Facts of a request served by the model it named, at its first attempt, at the catalog's price. */
        public RequestFacts(String requestId, String accountId, String keyHash, String lane, String provider, String model,
                            String endpoint, long startMs, long endMs, String upstreamRequestId, String catalogVersion,
                            String rowVersion, String serviceTier) {
            this(requestId, accountId, keyHash, lane, provider, model, endpoint, startMs, endMs, upstreamRequestId, catalogVersion, rowVersion,
                    serviceTier, "", "", NO_MULTIPLIER_BPS);
        }

        /** Facts of a request priced by an undated row, with no service tier reported. */
        public RequestFacts(String requestId, String accountId, String keyHash, String lane, String provider, String model,
                            String endpoint, long startMs, long endMs, String upstreamRequestId, String catalogVersion) {
            this(requestId, accountId, keyHash, lane, provider, model, endpoint, startMs, endMs, upstreamRequestId, catalogVersion, "", "");
        }

        /** Facts of a request priced by no known catalog version. */
        public RequestFacts(String requestId, String accountId, String keyHash, String lane, String provider, String model,
                            String endpoint, long startMs, long endMs, String upstreamRequestId) {
            this(requestId, accountId, keyHash, lane, provider, model, endpoint, startMs, endMs, upstreamRequestId, "");
        }
    }
}
