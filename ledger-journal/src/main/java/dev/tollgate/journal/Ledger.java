package dev.tollgate.journal;

import dev.tollgate.journal.JournalEvent.AccountOpened;
import dev.tollgate.journal.JournalEvent.Adjusted;
import dev.tollgate.journal.JournalEvent.CreditAdded;
import dev.tollgate.journal.JournalEvent.KeyIssued;
import dev.tollgate.journal.JournalEvent.KeyRevoked;
import dev.tollgate.journal.JournalEvent.Released;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.JournalEvent.ReservationMade;
import dev.tollgate.metering.AccountBook;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.KeyScope;
import dev.tollgate.metering.RateLimiter;
import dev.tollgate.metering.Balances;
import dev.tollgate.metering.Reservation;
import dev.tollgate.metering.SpendWindows;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The live ledger: balance counters in Agrona buffers, with every change recorded in the journal.
 * Built at start-up by {@link #recover}, which rebuilds the counters from the newest snapshot plus
 * the journal after it and closes what a crash left open.
 *
 * <p>Order of writes, and why: a reservation is taken from the counters first (one compare-and-set
 * decides who gets the money) and journaled before the request is forwarded; credits are journaled
 * before the counters change; settlements and releases change the counters, then are journaled.
 * A crash between the two steps loses only what the counters held in memory, which the journal
 * rebuilds: at worst an in-flight request's reservation is released on recovery.
 */
public final class Ledger implements AutoCloseable {
    /** The only recovery policy: what a crash left reserved goes back to the account, recorded as {@code recovery}. */
    public static final String RECOVERY_REASON = "recovery";
    public static final String DEFAULT_LANE = "interactive";

    /** Who made an operator's change (the admin token's label) and an optional note; journaled with it. */
    public record Author(String actor, String note) {
        public Author {
            java.util.Objects.requireNonNull(actor);
            note = note == null ? "" : note;
        }
    }

    /** What an idempotent operator's change did. */
    public enum Applied {
        /** Applied now. */
        APPLIED,
        /** The same key with the same request was applied before: nothing changed now. */
        REPLAYED,
        /** The same key was used before for a different request: nothing changed. */
        CONFLICT,
        /** Not applied: an adjustment that would take more than is available. */
        REFUSED
    }

    /** A key as the ledger knows it: issued to an account, perhaps revoked since. */
    public record KeyRecord(String keyHash, String displayPrefix, String label, String accountId, boolean revoked) {
    }

    /** A key's spend caps in micros, each {@link SpendWindows#NO_CAP} for none. */
    public record Caps(long dayMicros, long monthMicros, long totalMicros) {
        public static final Caps NONE = new Caps(SpendWindows.NO_CAP, SpendWindows.NO_CAP, SpendWindows.NO_CAP);

        public boolean any() {
            return dayMicros >= 0 || monthMicros >= 0 || totalMicros >= 0;
        }
    }

    private final Journal journal;
    private final AccountBook accounts;
    private final ApiKeys keys;
    private final AtomicLong lastReservationId;
    private final Set<String> appliedIdempotencyKeys;
    /** The fingerprint each idempotency key was applied with (account scope to fingerprint), to tell a retry from a reuse. */
    private final java.util.Map<String, String> fingerprints = new java.util.HashMap<>();
    private final java.util.Map<String, KeyRecord> keyRecords = new java.util.LinkedHashMap<>();
    /** Every key's spend caps, next to the accounts' balances; a key gets a slot when it first gets caps. */
    private final SpendWindows spendWindows;
    // Read without the ledger's lock (the balance endpoint, on an event loop); written under it.
    private final java.util.Map<String, Integer> spendSlots = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.Map<String, Caps> caps = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.Map<String, KeyScope> scopes = new java.util.concurrent.ConcurrentHashMap<>();
    /** The rate limiter of every key that ever had rate limits; its state outlives a change of limits. */
    private final java.util.Map<String, RateLimiter> keyLimiters = new java.util.concurrent.ConcurrentHashMap<>();
    /** By account slot, read on the request path without the lock; null for an account that never had rate limits. */
    private final java.util.concurrent.atomic.AtomicReferenceArray<RateLimiter> accountLimiters;
    /** The secrets of every rotated key (a key never rotated is opened by the secret its hash names); under the lock. */
    private final java.util.Map<String, List<LedgerState.Secret>> secrets = new java.util.HashMap<>();
    private final java.util.Map<String, String> secretOwners = new java.util.HashMap<>();
    /** The secret hashes each key is registered under in {@link #keys} now; under the lock. */
    private final java.util.Map<String, java.util.Set<String>> registered = new java.util.HashMap<>();
    private final LongSupplier clockMs;
    private final RecoveryReport recoveryReport;
    /** The version of the price catalog last journaled as loaded, empty before any; written under the lock. */
    private volatile String catalogVersion = "";
    /** Appends the reservation lifecycle (made, extended, settled, released) in order; see {@link JournalWriter} for on which thread. */
    private final JournalWriter writer;
    /**
     * Releases the counters already made whose records the journal refused (a full disk): appended before the next
     * reservation once the journal takes records again, so the journal comes to equal the counters without a restart.
     */
    private final java.util.concurrent.ConcurrentLinkedQueue<Released> unrecorded = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final SoftAlerts alerts;
    /** Every key's soft-alert percentage of its caps ({@link SpendWindows#NO_ALERT} when absent), also in its spend slot once it has one. */
    private final java.util.Map<String, Integer> alertPercents = new java.util.concurrent.ConcurrentHashMap<>();

    private Ledger(Journal journal, AccountBook accounts, ApiKeys keys, long lastReservationId, Set<String> appliedIdempotencyKeys,
                   LongSupplier clockMs, RecoveryReport recoveryReport) {
        this.writer = new JournalWriter(journal);
        this.journal = journal;
        this.accounts = accounts;
        this.keys = keys;
        this.lastReservationId = new AtomicLong(lastReservationId);
        this.appliedIdempotencyKeys = appliedIdempotencyKeys;
        this.clockMs = clockMs;
        this.recoveryReport = recoveryReport;
        // 64 bytes a capped key; bounded, since the number of accounts a configuration allows is much larger than this.
        this.accountLimiters = new java.util.concurrent.atomic.AtomicReferenceArray<>(accounts.balances().capacity());
        this.spendWindows = new SpendWindows(Math.min(65_536, Math.max(1_024, 4 * accounts.balances().capacity())));
        this.alerts = new SoftAlerts(accounts.balances(), spendWindows, writer);
        for (String scope : appliedIdempotencyKeys) {
            int mark = scope.length() - FINGERPRINT_HEX - 1;
            if (mark > 0 && scope.charAt(mark) == FINGERPRINT_MARK && isHex(scope, mark + 1)) {
                fingerprints.put(scope.substring(0, mark), scope.substring(mark + 1));
            }
        }
    }

    private static final char FINGERPRINT_MARK = '#';
    private static final int FINGERPRINT_HEX = 16;
    /** The longest idempotency key an operator may give: what the journal holds, less the fingerprint appended to it. */
    public static final int MAX_IDEMPOTENCY_KEY_LENGTH = JournalCodec.MAX_IDEMPOTENCY_KEY - FINGERPRINT_HEX - 1;

    private static boolean isHex(String value, int from) {
        for (int i = from; i < value.length(); i++) {
            char c = value.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
                return false;
            }
        }
        return true;
    }

    /**
     * The idempotency key as the operator gave it: a journaled key carries the fingerprint of the request
     * it was applied with ({@code key#0123456789abcdef}); keys from the configuration carry none.
     */
    public static String reference(String journaledIdempotencyKey) {
        int mark = journaledIdempotencyKey.length() - FINGERPRINT_HEX - 1;
        return mark > 0 && journaledIdempotencyKey.charAt(mark) == FINGERPRINT_MARK && isHex(journaledIdempotencyKey, mark + 1)
                ? journaledIdempotencyKey.substring(0, mark) : journaledIdempotencyKey;
    }

    /** 16 hex digits of SHA-256 over the parts of a request: the same request gives the same fingerprint on every node and restart. */
    static String fingerprint(Object... parts) {
        StringBuilder canonical = new StringBuilder();
        for (Object part : parts) {
            String text = String.valueOf(part);
            canonical.append(text.length()).append(':').append(text).append(';');
        }
        try {
            byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest(canonical.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(digest, 0, FINGERPRINT_HEX / 2);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static JournalEvent authored(Author author, JournalEvent change) {
        return author == null ? change : new JournalEvent.Authored(change.timestampMs(), author.actor(), author.note(), change);
    }

    /**
     * Rebuilds the ledger from {@code snapshotDirectory}'s newest valid snapshot (if any) and the
     * journal after it, releases every reservation left open (reason {@value #RECOVERY_REASON}), and
     * loads the counters and keys.
     *
     * @throws JournalGapException when records the replay needs are not in the journal: cycles were
     *         archived that no usable snapshot covers, or the snapshot's own record is gone
     */
    public static Ledger recover(Journal journal, Path snapshotDirectory, int maxAccounts, LongSupplier clockMs) {
        long started = System.nanoTime();
        Snapshots.Loaded snapshot = snapshotDirectory == null ? null : Snapshots.latest(snapshotDirectory);
        // A snapshot is forced to disk when written, but a journal that is not (page_cache, periodic)
        // can lose its last records in a machine crash. A snapshot past the journal's end holds money
        // from records that are gone, and the records appended from now on would reuse their indexes
        // and be skipped by every later replay from it. It is set aside for good (renamed, kept for
        // the operator) and the next older snapshot, or a replay from the first record, used instead.
        long journalLastIndex = journal.lastIndex();
        while (snapshot != null && snapshot.state().lastIndex() > journalLastIndex) {
            Snapshots.setAside(snapshot.file(), "journal ends at index " + Long.toHexString(journalLastIndex));
            snapshot = Snapshots.latest(snapshotDirectory);
        }
        LedgerState state = snapshot == null ? new LedgerState() : snapshot.state();
        long snapshotIndex = state.lastIndex();
        // Archived cycles are only covered by a snapshot at or after the index that covered them; an
        // older one (the newer lost or corrupt) would replay the live cycles as if they followed it.
        long archivedThrough = ArchiveLog.archivedThrough(snapshotDirectory);
        if (archivedThrough > snapshotIndex) {
            throw new JournalGapException("cycles of " + journal.directory() + " up to index " + Long.toHexString(archivedThrough)
                    + " were archived (" + snapshotDirectory.resolve(ArchiveLog.FILE_NAME) + "), but the newest usable snapshot in "
                    + snapshotDirectory + (snapshot == null ? " is none" : " ends at index " + Long.toHexString(snapshotIndex))
                    + ": the records between are in neither. Restore the snapshot that covered the archive, or the archived cycle files.");
        }
        long replayed = journal.readAfter(snapshotIndex, state::apply);
        long replayNanos = System.nanoTime() - started;

        List<LedgerState.OpenReservation> leftOpen = new ArrayList<>(state.openReservations());
        long exposure = 0;
        long now = clockMs.getAsLong();
        for (LedgerState.OpenReservation open : leftOpen) {
            Released released = new Released(now, open.reservationId(), new RequestFacts(open.requestId(), open.accountId(), open.keyHash(),
                    "", "", "", "", open.startMs(), Math.max(now, open.startMs()), ""), RECOVERY_REASON);
            state.apply(journal.append(released), released);
            exposure += open.heldMicros();
        }

        AccountBook accounts = new AccountBook(maxAccounts);
        for (LedgerState.Account account : state.accounts()) {
            int slot = accounts.open(account.id());
            accounts.balances().restore(slot, account.creditedMicros(), account.debitedMicros(), account.availableMicros(),
                    account.reservedMicros(), account.writtenOffMicros());
        }
        RecoveryReport report = new RecoveryReport(snapshotIndex, replayed, replayNanos, leftOpen, exposure, state.stateHash());
        Ledger ledger = new Ledger(journal, accounts, new ApiKeys(), state.maxReservationId(), new HashSet<>(state.appliedIdempotencyKeys()),
                clockMs, report);
        for (LedgerState.Key key : state.keys()) {
            ledger.keyRecords.put(key.keyHash(), new KeyRecord(key.keyHash(), key.displayPrefix(), key.label(), key.accountId(), key.revoked()));
        }
        for (LedgerState.KeyScopeRecord scope : state.keyScopes()) {
            ledger.scopes.put(scope.keyHash(), KeyScope.of(scope.env(), scope.lane(), scope.models(), scope.expiresAtMs(), scope.networks()));
        }
        for (var entry : state.keySecrets().entrySet()) {
            ledger.secrets.put(entry.getKey(), entry.getValue());
            entry.getValue().forEach(secret -> ledger.secretOwners.put(secret.secretHash(), entry.getKey()));
        }
        for (LedgerState.KeyLimits limits : state.keyLimits()) {
            ledger.applyCaps(limits.keyHash(), new Caps(limits.dayCapMicros(), limits.monthCapMicros(), limits.totalCapMicros()));
        }
        for (LedgerState.KeyAlerts keyAlerts : state.keyAlerts()) {
            ledger.applyAlertPercent(keyAlerts.keyHash(), keyAlerts.percent());
            Integer slot = ledger.spendSlots.get(keyAlerts.keyHash());
            if (slot != null) {
                ledger.alerts.restore(slot, keyAlerts);
            }
        }
        for (LedgerState.BalanceAlert balanceAlert : state.balanceAlerts()) {
            ledger.alerts.restore(accounts.slotOf(balanceAlert.accountId()), balanceAlert);
        }
        for (LedgerState.RateLimits limits : state.rateLimits()) {
            ledger.applyRateLimits(limits.subject(), limits.id(), new RateLimiter.Limits(limits.rpm(), limits.tpm(), limits.concurrency()));
        }
        for (KeyRecord key : ledger.keyRecords.values()) {
            ledger.register(key.keyHash());
        }
        ledger.catalogVersion = state.catalogVersion();
        return ledger;
    }

    public RecoveryReport recoveryReport() {
        return recoveryReport;
    }

    public Journal journal() {
        return journal;
    }

    /** The thread that journals reservations and their outcomes; {@link JournalWriter#awaitWritten()} waits for it. */
    public JournalWriter writer() {
        return writer;
    }

    /** Journals what is still queued and stops the writer thread. */
    @Override
    public void close() {
        writer.close();
    }

    public AccountBook accounts() {
        return accounts;
    }

    public Balances balances() {
        return accounts.balances();
    }

    public ApiKeys keys() {
        return keys;
    }

    long now() {
        return clockMs.getAsLong();
    }

    /** Opens an account if it is not open yet; returns true if it was opened now. */
    public boolean openAccount(String accountId) {
        return openAccount(accountId, null);
    }

    /** As {@link #openAccount(String)}, journaled with its author when there is one. */
    public synchronized boolean openAccount(String accountId, Author author) {
        if (accounts.slotOf(accountId) >= 0) {
            return false;
        }
        // Checked before journaling: an account the counters have no slot for must not reach the
        // journal, or every later recovery with the same limit fails on it.
        if (accounts.accountIds().size() >= accounts.balances().capacity()) {
            throw new IllegalStateException("all " + accounts.balances().capacity() + " account slots are in use (limits.maxAccounts)");
        }
        journal.append(authored(author, new AccountOpened(now(), accountId)));
        accounts.open(accountId);
        return true;
    }

    /**
     * Adds money to an account once per idempotency key: a retried top-up with the same key changes
     * nothing and returns false.
     */
    public synchronized boolean credit(String accountId, long amountMicros, String idempotencyKey) {
        int slot = requireAccount(accountId);
        if (appliedIdempotencyKeys.contains(LedgerState.idempotencyScope(accountId, idempotencyKey))) {
            return false;
        }
        journal.append(new CreditAdded(now(), accountId, amountMicros, idempotencyKey));
        accounts.balances().credit(slot, amountMicros);
        alerts.afterMoneyAdded(accountId, slot, now());
        appliedIdempotencyKeys.add(LedgerState.idempotencyScope(accountId, idempotencyKey));
        return true;
    }

    /**
     * An operator's top-up, once per idempotency key: the same key with the same amount and note again
     * is {@link Applied#REPLAYED} and changes nothing (also after a restart, since the journaled key carries the
     * request's fingerprint); the same key with another amount or note is a {@link Applied#CONFLICT}.
     */
    public synchronized Applied creditOnce(String accountId, long amountMicros, String idempotencyKey, Author author) {
        int slot = requireAccount(accountId);
        String fingerprint = fingerprint("credit", amountMicros, author.note());
        Applied previous = previously(accountId, idempotencyKey, fingerprint);
        if (previous != null) {
            return previous;
        }
        String journaledKey = idempotencyKey + FINGERPRINT_MARK + fingerprint;
        journal.append(authored(author, new CreditAdded(now(), accountId, amountMicros, journaledKey)));
        accounts.balances().credit(slot, amountMicros);
        alerts.afterMoneyAdded(accountId, slot, now());
        remember(accountId, idempotencyKey, fingerprint);
        return Applied.APPLIED;
    }

    /** An operator's correction, once per idempotency key, as {@link #creditOnce}; a negative one may not take more than is available. */
    public synchronized Applied adjustOnce(String accountId, long amountMicros, String reason, String idempotencyKey, Author author) {
        int slot = requireAccount(accountId);
        String fingerprint = fingerprint("adjustment", amountMicros, reason, author.note());
        Applied previous = previously(accountId, idempotencyKey, fingerprint);
        if (previous != null) {
            return previous;
        }
        JournalEvent record = authored(author, new Adjusted(now(), accountId, amountMicros, reason, idempotencyKey + FINGERPRINT_MARK + fingerprint));
        JournalCodec.validate(record);
        if (!accounts.balances().adjust(slot, amountMicros)) {
            return Applied.REFUSED;
        }
        try {
            journal.append(record);
        } catch (RuntimeException | InternalError e) { // a full disk is an InternalError from Chronicle: undone all the same
            accounts.balances().adjust(slot, -amountMicros);
            throw e;
        }
        if (amountMicros > 0) {
            alerts.afterMoneyAdded(accountId, slot, now());
        }
        remember(accountId, idempotencyKey, fingerprint);
        return Applied.APPLIED;
    }

    private Applied previously(String accountId, String idempotencyKey, String fingerprint) {
        if (idempotencyKey.isEmpty() || idempotencyKey.length() > MAX_IDEMPOTENCY_KEY_LENGTH) {
            throw new IllegalArgumentException("an idempotency key is 1 to " + MAX_IDEMPOTENCY_KEY_LENGTH + " characters");
        }
        String appliedWith = fingerprints.get(LedgerState.idempotencyScope(accountId, idempotencyKey));
        if (appliedWith != null) {
            return appliedWith.equals(fingerprint) ? Applied.REPLAYED : Applied.CONFLICT;
        }
        // A key applied without a fingerprint (a configuration's opening credit, an older journal) is a reuse.
        return appliedIdempotencyKeys.contains(LedgerState.idempotencyScope(accountId, idempotencyKey)) ? Applied.CONFLICT : null;
    }

    private void remember(String accountId, String idempotencyKey, String fingerprint) {
        String scope = LedgerState.idempotencyScope(accountId, idempotencyKey);
        fingerprints.put(scope, fingerprint);
        appliedIdempotencyKeys.add(scope + FINGERPRINT_MARK + fingerprint);
    }

    /**
     * An operator's correction, once per idempotency key. A negative one may not take more than is
     * available. Returns false when already applied or refused.
     */
    public synchronized boolean adjust(String accountId, long amountMicros, String reason, String idempotencyKey) {
        int slot = requireAccount(accountId);
        if (amountMicros == 0 || appliedIdempotencyKeys.contains(LedgerState.idempotencyScope(accountId, idempotencyKey))) {
            return false;
        }
        Adjusted record = new Adjusted(now(), accountId, amountMicros, reason, idempotencyKey);
        // Checked before the counters move, so the undo below is only ever for a failed write: undoing
        // a positive adjustment can itself be refused once a concurrent reservation has spent it.
        JournalCodec.validate(record);
        if (!accounts.balances().adjust(slot, amountMicros)) {
            return false;
        }
        try {
            journal.append(record);
        } catch (RuntimeException | InternalError e) { // a full disk is an InternalError from Chronicle: undone all the same
            accounts.balances().adjust(slot, -amountMicros);
            throw e;
        }
        if (amountMicros > 0) {
            alerts.afterMoneyAdded(accountId, slot, now());
        }
        appliedIdempotencyKeys.add(LedgerState.idempotencyScope(accountId, idempotencyKey));
        return true;
    }

    /** Lets a key spend from an account; returns false if it already could. */
    public boolean issueKey(String keyHash, String displayPrefix, String label, String accountId) {
        return issueKey(keyHash, displayPrefix, label, accountId, null);
    }

    /** As {@link #issueKey(String, String, String, String)}, journaled with its author when there is one. */
    public synchronized boolean issueKey(String keyHash, String displayPrefix, String label, String accountId, Author author) {
        requireAccount(accountId);
        KeyRecord existing = keyRecords.get(keyHash);
        if (existing != null && !existing.revoked() || secretOwners.containsKey(keyHash)) {
            return false;
        }
        journal.append(authored(author, new KeyIssued(now(), keyHash, displayPrefix, label, accountId)));
        keyRecords.put(keyHash, new KeyRecord(keyHash, displayPrefix, label, accountId, false));
        register(keyHash);
        return true;
    }

    public boolean revokeKey(String keyHash) {
        return revokeKey(keyHash, null);
    }

    /** Stops a key from spending, every secret of it; returns false if it could not. Journaled with its author when there is one. */
    public synchronized boolean revokeKey(String keyHash, Author author) {
        KeyRecord issued = keyRecords.get(keyHash);
        if (issued == null || issued.revoked()) {
            return false;
        }
        journal.append(authored(author, new KeyRevoked(now(), keyHash)));
        keyRecords.put(keyHash, new KeyRecord(keyHash, issued.displayPrefix(), issued.label(), issued.accountId(), true));
        register(keyHash);
        return true;
    }

    /**
     * Sets a key's label and scope (replacing those before), journaled with its author; they bind from the next request.
     * A revoked key keeps its scope but stays revoked.
     */
    public synchronized void setScope(String keyHash, String label, KeyScope scope, Author author) {
        KeyRecord key = keyRecords.get(keyHash);
        if (key == null) {
            throw new IllegalArgumentException("no key " + keyHash);
        }
        journal.append(authored(author, new JournalEvent.KeyScopeSet(now(), keyHash, label, scope.env(), scope.lane(), scope.models(),
                scope.expiresAtMs(), scope.networks())));
        keyRecords.put(keyHash, new KeyRecord(keyHash, key.displayPrefix(), label, key.accountId(), key.revoked()));
        scopes.put(keyHash, scope);
        register(keyHash);
    }

    /**
     * Sets a key's rate limits (replacing those before), journaled with its author; they bind from the next request,
     * counting what the key already used this minute.
     */
    public synchronized void setKeyRateLimits(String keyHash, RateLimiter.Limits limits, Author author) {
        if (!keyRecords.containsKey(keyHash)) {
            throw new IllegalArgumentException("no key " + keyHash);
        }
        journal.append(authored(author, new JournalEvent.RateLimitsSet(now(), JournalEvent.RateLimitsSet.KEY, keyHash, limits.rpm(),
                limits.tpm(), limits.concurrency())));
        applyRateLimits(JournalEvent.RateLimitsSet.KEY, keyHash, limits);
        register(keyHash);
    }

    /** As {@link #setKeyRateLimits}, for all of an account's keys together. */
    public synchronized void setAccountRateLimits(String accountId, RateLimiter.Limits limits, Author author) {
        requireAccount(accountId);
        journal.append(authored(author, new JournalEvent.RateLimitsSet(now(), JournalEvent.RateLimitsSet.ACCOUNT, accountId, limits.rpm(),
                limits.tpm(), limits.concurrency())));
        applyRateLimits(JournalEvent.RateLimitsSet.ACCOUNT, accountId, limits);
    }

    private void applyRateLimits(int subject, String id, RateLimiter.Limits limits) {
        RateLimiter limiter;
        if (subject == JournalEvent.RateLimitsSet.KEY) {
            limiter = keyLimiters.computeIfAbsent(id, hash -> new RateLimiter());
        } else {
            int slot = accounts.slotOf(id);
            limiter = accountLimiters.get(slot);
            if (limiter == null) {
                limiter = new RateLimiter();
                accountLimiters.set(slot, limiter);
            }
        }
        limiter.setLimits(limits);
    }

    /**
     * Sets a key's soft alert: the percentage (1 to 100) of each of its caps at which an alert is raised once per window,
     * or {@link SpendWindows#NO_ALERT}; journaled with its author. A key without caps has nothing to alert on until it gets some.
     */
    public synchronized void setKeyAlertPercent(String keyHash, int percent, Author author) {
        if (!keyRecords.containsKey(keyHash)) {
            throw new IllegalArgumentException("no key " + keyHash);
        }
        journal.append(authored(author, new JournalEvent.AlertSet(now(), JournalEvent.AlertSet.KEY, keyHash, percent)));
        applyAlertPercent(keyHash, percent);
    }

    private void applyAlertPercent(String keyHash, int percent) {
        alertPercents.put(keyHash, percent);
        Integer slot = spendSlots.get(keyHash);
        if (slot != null) {
            spendWindows.setAlertPercent(slot, percent);
        }
    }

    /** A key's soft-alert percentage, {@link SpendWindows#NO_ALERT} for none. */
    public int keyAlertPercent(String keyHash) {
        return alertPercents.getOrDefault(keyHash, SpendWindows.NO_ALERT);
    }

    /**
     * Sets an account's low-balance threshold in micros (-1 for none), journaled with its author, and arms its alert: an
     * alert is raised once when a settlement finds the balance below it (at once if it already is), and again only after
     * money added brought the balance back.
     */
    public synchronized void setLowBalanceThreshold(String accountId, long thresholdMicros, Author author) {
        int slot = requireAccount(accountId);
        JournalEvent record = authored(author, new JournalEvent.AlertSet(now(), JournalEvent.AlertSet.ACCOUNT, accountId, thresholdMicros));
        JournalCodec.validate(record);
        alerts.setThreshold(slot, thresholdMicros, () -> journal.append(record));
    }

    /** An account's low-balance threshold in micros, -1 for none. */
    public long lowBalanceThreshold(String accountId) {
        int slot = accounts.slotOf(accountId);
        return slot < 0 ? -1 : alerts.threshold(slot);
    }

    /** Tells {@code listener} of every soft alert this node raises (for the log line and the metric). */
    public void onAlert(SoftAlerts.Listener listener) {
        alerts.listener(listener);
    }

    SoftAlerts alerts() {
        return alerts;
    }

    /** The rate limiter of the account in {@code accountSlot}, or null when it never had rate limits. */
    public RateLimiter accountRateLimiter(int accountSlot) {
        return accountLimiters.get(accountSlot);
    }

    /** A key's rate limits, {@link RateLimiter.Limits#NO_LIMITS} when none were set. */
    public RateLimiter.Limits keyRateLimits(String keyHash) {
        RateLimiter limiter = keyLimiters.get(keyHash);
        return limiter == null ? RateLimiter.Limits.NO_LIMITS : limiter.limits();
    }

    /** A key's scope, {@link KeyScope#UNRESTRICTED} when none was set. */
    public KeyScope scope(String keyHash) {
        return scopes.getOrDefault(keyHash, KeyScope.UNRESTRICTED);
    }

    /**
     * Gives an active key a new secret (its identity, caps, scope and history stay); the secret that opened it until now
     * keeps working until {@code previousValidUntilMs}. Journaled with its author.
     */
    public synchronized void rotateKey(String keyHash, String newSecretHash, String newDisplayPrefix, long previousValidUntilMs, Author author) {
        KeyRecord key = keyRecords.get(keyHash);
        if (key == null || key.revoked()) {
            throw new IllegalArgumentException("no active key " + keyHash);
        }
        if (keyRecords.containsKey(newSecretHash) || secretOwners.containsKey(newSecretHash)) {
            throw new IllegalArgumentException("the new secret is already in use"); // 2^-256: a broken random source
        }
        JournalEvent.KeyRotated rotation = new JournalEvent.KeyRotated(now(), keyHash, newSecretHash, newDisplayPrefix, previousValidUntilMs);
        journal.append(authored(author, rotation));
        List<LedgerState.Secret> before = secrets.get(keyHash);
        List<LedgerState.Secret> after = LedgerState.rotated(before, new LedgerState.Key(keyHash, key.displayPrefix(), key.label(),
                key.accountId(), false), rotation);
        if (before != null) {
            before.forEach(secret -> secretOwners.remove(secret.secretHash()));
        }
        secrets.put(keyHash, after);
        after.forEach(secret -> secretOwners.put(secret.secretHash(), keyHash));
        keyRecords.put(keyHash, new KeyRecord(keyHash, newDisplayPrefix, key.label(), key.accountId(), false));
        register(keyHash);
    }

    /** The secrets that open a key, the current one last; a key never rotated has one, named by its own hash. */
    public synchronized List<LedgerState.Secret> secrets(String keyHash) {
        List<LedgerState.Secret> rotated = secrets.get(keyHash);
        if (rotated != null) {
            return rotated;
        }
        KeyRecord key = keyRecords.get(keyHash);
        return key == null ? List.of() : List.of(new LedgerState.Secret(keyHash, key.displayPrefix(), LedgerState.Secret.CURRENT));
    }

    /**
     * Makes what {@link ApiKeys} finds for each secret of a key equal the ledger's record of it: its account, label, caps'
     * slot, scope and how long that secret works; nothing for a revoked key. The one place a key's lookup entries are
     * made. New entries replace old ones before stale ones go, so a request in flight never finds the key missing.
     */
    private void register(String keyHash) {
        KeyRecord record = keyRecords.get(keyHash);
        java.util.Set<String> now = new HashSet<>();
        if (record != null && !record.revoked()) {
            int accountSlot = accounts.slotOf(record.accountId());
            for (LedgerState.Secret secret : secrets(keyHash)) {
                long validUntilMs = secret.validUntilMs() == LedgerState.Secret.CURRENT ? ApiKeys.ApiKey.CURRENT : secret.validUntilMs();
                keys.put(secret.secretHash(), new ApiKeys.ApiKey(keyHash, record.label(), record.accountId(), accountSlot,
                        spendSlots.getOrDefault(keyHash, -1), scope(keyHash), validUntilMs, keyLimiters.get(keyHash)));
                now.add(secret.secretHash());
            }
        }
        java.util.Set<String> before = registered.put(keyHash, now);
        if (before != null) {
            before.stream().filter(secretHash -> !now.contains(secretHash)).forEach(keys::remove);
        }
    }

    /**
     * Sets a key's spend caps (replacing any before), journaled with its author; they bind from the next admission.
     * What the key already spent this day, month and in total still counts.
     */
    public void setCaps(String keyHash, Caps newCaps, Author author) {
        setCaps(keyHash, newCaps, author, () -> new long[3]);
    }

    /**
     * As above; {@code spentSoFar} tells, for a key capped for the first time, what it already spent this UTC day, month
     * and in total (its earlier requests were admitted without windows), so its windows start from the truth.
     */
    public void setCaps(String keyHash, Caps newCaps, Author author, java.util.function.Supplier<long[]> spentSoFar) {
        // Outside the lock: reading what the key spent may wait for the reconciler, and nothing else should.
        long[] spent = spendSlots.containsKey(keyHash) ? null : spentSoFar.get();
        synchronized (this) {
            KeyRecord key = keyRecords.get(keyHash);
            if (key == null) {
                throw new IllegalArgumentException("no key " + keyHash);
            }
            if (!spendSlots.containsKey(keyHash) && spendWindows.allocated() == spendWindows.capacity()) {
                // Checked before the journal: a cap journaled without a slot would make every later recovery fail on it.
                throw new IllegalStateException("all " + spendWindows.capacity() + " spend-cap slots are in use");
            }
            journal.append(authored(author, new JournalEvent.KeyLimitsSet(now(), keyHash, newCaps.dayMicros(), newCaps.monthMicros(),
                    newCaps.totalMicros())));
            applyCaps(keyHash, newCaps, spent);
        }
    }

    private void applyCaps(String keyHash, Caps newCaps) {
        applyCaps(keyHash, newCaps, null);
    }

    private void applyCaps(String keyHash, Caps newCaps, long[] spentSoFar) {
        Integer slot = spendSlots.get(keyHash);
        if (slot == null) {
            // Every key that ever had limits set keeps a slot, cleared or not, so replay gives the same slots as live.
            slot = spendWindows.allocate();
            spendWindows.setAlertPercent(slot, alertPercents.getOrDefault(keyHash, SpendWindows.NO_ALERT));
            spendSlots.put(keyHash, slot);
            if (spentSoFar != null) {
                long nowMs = now();
                spendWindows.restore(slot, SpendWindows.dayOf(nowMs), spentSoFar[0], SpendWindows.monthOf(nowMs), spentSoFar[1], spentSoFar[2]);
            }
        }
        spendWindows.setCaps(slot, newCaps.dayMicros(), newCaps.monthMicros(), newCaps.totalMicros());
        caps.put(keyHash, newCaps);
        register(keyHash);
    }

    /** A key's caps, {@link Caps#NONE} when it has none. */
    public Caps caps(String keyHash) {
        return caps.getOrDefault(keyHash, Caps.NONE);
    }

    /** The key's slot in {@link #spendWindows()}, or -1 when it never had caps. */
    public int spendSlot(String keyHash) {
        return spendSlots.getOrDefault(keyHash, -1);
    }

    /** Whether any key ever had spend caps (then its spend must be restored at start-up). */
    public boolean hasCappedKeys() {
        return !spendSlots.isEmpty();
    }

    /** How many keys may still get spend caps (each takes a slot of {@link #spendWindows()} for good). */
    public int freeSpendSlots() {
        return spendWindows.capacity() - spendWindows.allocated();
    }

    public SpendWindows spendWindows() {
        return spendWindows;
    }

    /**
     * Sets what each capped key already spent this UTC day, this month and in total, as read from the journal's
     * rollups at start-up (before the listener opens); {@code spent} maps a key hash to those three amounts.
     */
    public synchronized void restoreSpend(java.util.Map<String, long[]> spent, long nowMs) {
        for (var entry : spendSlots.entrySet()) {
            long[] used = spent.getOrDefault(entry.getKey(), new long[3]);
            spendWindows.restore(entry.getValue(), SpendWindows.dayOf(nowMs), used[0], SpendWindows.monthOf(nowMs), used[1], used[2]);
        }
    }

    /** Every key ever issued, revoked ones too, in the order they were first issued. */
    public synchronized List<KeyRecord> keyRecords() {
        return List.copyOf(keyRecords.values());
    }

    /** The key with this hash, or null. */
    public synchronized KeyRecord keyRecord(String keyHash) {
        return keyRecords.get(keyHash);
    }

    /**
     * Reserves between {@code minMicros} and {@code maxMicros} for one request and journals it, or
     * returns null when not even the minimum is available. Waits until the reservation is in the journal.
     */
    public LedgerReservation reserve(ApiKeys.ApiKey key, long minMicros, long maxMicros, String requestId) {
        JournalWriter.Acknowledgement journaled = new JournalWriter.Acknowledgement();
        LedgerReservation reservation = reserve(key, minMicros, maxMicros, requestId, journaled);
        if (reservation != null) {
            try {
                journaled.await(writer);
            } catch (RuntimeException failure) {
                reservation.abandon();
                throw failure;
            }
        }
        return reservation;
    }

    /**
     * Reserves as above without waiting for the journal: the money is held at once (one
     * compare-and-set decides), and {@code whenJournaled} is told when the reservation is in the
     * journal: on the writer's thread, or on this thread before this returns (see {@link JournalWriter}). A request must not be forwarded before that: a reservation the
     * journal never saw could not be released on recovery nor reported as exposure. If journaling
     * fails, the caller {@link LedgerReservation#abandon() abandons} the reservation and refuses the request.
     */
    public LedgerReservation reserve(ApiKeys.ApiKey key, long minMicros, long maxMicros, String requestId, JournalWriter.Appended whenJournaled) {
        recordUnrecorded();
        long nowMs = now(); // one clock read: the caps' day and month, and the record's time
        Reservation reservation = Reservation.tryReserve(accounts.balances(), key.accountSlot(), spendWindows, key.spendSlot(), nowMs, minMicros,
                maxMicros);
        return journaled(reservation, nowMs, key, requestId, whenJournaled);
    }

    /** Journals {@code reservation} (null: none made) as made at {@code nowMs}; one the journal does not take is given back. */
    private LedgerReservation journaled(Reservation reservation, long nowMs, ApiKeys.ApiKey key, String requestId, JournalWriter.Appended whenJournaled) {
        if (reservation == null) {
            return null;
        }
        long id = lastReservationId.incrementAndGet();
        ReservationMade record = new ReservationMade(nowMs, id, key.accountId(), key.sha256Hex(), reservation.heldMicros(), requestId);
        try {
            JournalCodec.validate(record);
            writer.submit(record, whenJournaled);
        } catch (RuntimeException e) {
            // Unrecorded money must not stay reserved: the request is refused instead.
            reservation.release();
            throw e;
        }
        return new LedgerReservation(this, reservation, id, key);
    }

    /**
     * Reserves for a request on a direct route, whose provider tokens the provider bills the account on its own credentials
     * ({@link Reservation#tryReserveDirect}): the balance holds exactly {@code feeMicros}, the platform fee of the worst
     * case, and the key's spend caps hold the fee and between {@code minCostMicros} and {@code maxCostMicros} of the
     * provider's cost. The journal's reservation record carries the balance's hold (the fee), which is all a recovery gives
     * back. Otherwise as {@link #reserve(ApiKeys.ApiKey, long, long, String, JournalWriter.Appended)}.
     */
    public LedgerReservation reserveDirect(ApiKeys.ApiKey key, long feeMicros, long minCostMicros, long maxCostMicros, String requestId,
                                           JournalWriter.Appended whenJournaled) {
        recordUnrecorded();
        long nowMs = now();
        Reservation reservation = Reservation.tryReserveDirect(accounts.balances(), key.accountSlot(), spendWindows, key.spendSlot(), nowMs,
                feeMicros, minCostMicros, maxCostMicros);
        return journaled(reservation, nowMs, key, requestId, whenJournaled);
    }

    /** A release the counters have made and the journal must still record; see {@link #recordUnrecorded()}. */
    void recordLater(Released release) {
        unrecorded.add(release);
    }

    /** How many releases wait for the journal to take records again (zero but during and just after an outage). */
    public int unrecordedReleases() {
        return unrecorded.size();
    }

    /**
     * Submits the releases the journal refused earlier, if it takes records again; one refused again waits for the
     * next try. Each is the last record of its reservation (nothing else is written for a closed one), so appending
     * it late keeps every reservation's records in order.
     */
    public void recordUnrecorded() {
        if (unrecorded.isEmpty() || !writer.health().acceptingRecords()) {
            return;
        }
        for (Released release; (release = unrecorded.poll()) != null; ) {
            Released pending = release;
            writer.submit(pending, failure -> {
                if (failure != null) {
                    unrecorded.add(pending);
                }
            });
        }
    }

    /** The version of the price catalog last journaled as loaded; empty when none was. */
    public String catalogVersion() {
        return catalogVersion;
    }

    /**
     * Journals, with its author, that the account's own credential for {@code provider} was set or removed (the credential
     * itself is kept apart, encrypted, and never journaled). Waits for the journal: the change is made only once audited.
     */
    public void recordCredentialChange(String accountId, String provider, boolean removed, Author author) {
        synchronized (this) {
            requireAccount(accountId);
            journal.append(authored(author, new JournalEvent.CredentialSet(now(), accountId, provider, removed)));
        }
    }

    /**
     * Journals that the catalog {@code version} prices every request admitted from now on, unless it is the one last
     * journaled; returns whether it journaled. With an author (a reload) the record carries who made the change.
     * Call it before the catalog takes effect, so every debit naming a version comes after that version's record.
     */
    public synchronized boolean recordCatalog(String version, String source, int rowCount, Author author) {
        if (version.equals(catalogVersion)) {
            return false;
        }
        journal.append(authored(author, new JournalEvent.CatalogLoaded(now(), version, source, rowCount)));
        catalogVersion = version;
        return true;
    }

    private int requireAccount(String accountId) {
        int slot = accounts.slotOf(accountId);
        if (slot < 0) {
            throw new IllegalArgumentException("no account " + accountId);
        }
        return slot;
    }
}
