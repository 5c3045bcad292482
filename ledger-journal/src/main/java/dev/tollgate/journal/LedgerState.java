package dev.tollgate.journal;

import dev.tollgate.journal.JournalEvent.AccountOpened;
import dev.tollgate.journal.JournalEvent.Adjusted;
import dev.tollgate.journal.JournalEvent.CreditAdded;
import dev.tollgate.journal.JournalEvent.KeyIssued;
import dev.tollgate.journal.JournalEvent.KeyRevoked;
import dev.tollgate.journal.JournalEvent.Released;
import dev.tollgate.journal.JournalEvent.UsageDrift;
import dev.tollgate.journal.JournalEvent.ReservationExtended;
import dev.tollgate.journal.JournalEvent.ReservationMade;
import dev.tollgate.journal.JournalEvent.Settled;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What the journal says, replayed: every account's money, every key, every open reservation. Each
 * record changes it by fixed amounts (the settlement records what it debited, not a rule to
 * recompute), so replay is deterministic and does not depend on the order in which concurrent
 * requests interleaved. A record at or before {@link #lastIndex()} is skipped, which makes applying
 * the same records twice (an at-least-once reader, a snapshot plus the journal after it) harmless.
 */
public final class LedgerState {
    /** One account's money, in micro-units; {@code credited - debited == available + reserved} always. */
    public static final class Account {
        private final String id;
        long creditedMicros;
        long debitedMicros;
        long availableMicros;
        long reservedMicros;
        long writtenOffMicros;

        Account(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        public long creditedMicros() {
            return creditedMicros;
        }

        public long debitedMicros() {
            return debitedMicros;
        }

        public long availableMicros() {
            return availableMicros;
        }

        public long reservedMicros() {
            return reservedMicros;
        }

        public long writtenOffMicros() {
            return writtenOffMicros;
        }

        public long conservationErrorMicros() {
            return creditedMicros - debitedMicros - availableMicros - reservedMicros;
        }
    }

    public record Key(String keyHash, String displayPrefix, String label, String accountId, boolean revoked) {
    }

    /** A key's spend caps (-1: none). */
    public record KeyLimits(String keyHash, long dayCapMicros, long monthCapMicros, long totalCapMicros) {
    }

    /** A key's scope as journaled ({@link JournalEvent.KeyScopeSet}): tags, allowed models, expiry (-1 never), allowed networks. */
    public record KeyScopeRecord(String keyHash, String env, String lane, List<String> models, long expiresAtMs, List<String> networks) {
        public KeyScopeRecord {
            models = List.copyOf(models);
            networks = List.copyOf(networks);
        }
    }

    /** A secret that opens a rotated key, working until {@code validUntilMs} ({@link Long#MAX_VALUE} for the current one). */
    public record Secret(String secretHash, String displayPrefix, long validUntilMs) {
        public static final long CURRENT = Long.MAX_VALUE;
    }

    /**
     * A key's secrets after {@code rotation}, given those before (null: only the key's own, first secret): the current one
     * works until the rotation's grace end, earlier ones until the earlier of their own end and that one, those past their end
     * at the rotation are dropped, the new one is current. Both the live ledger and replay call this, so they agree.
     */
    static List<Secret> rotated(List<Secret> before, Key key, JournalEvent.KeyRotated rotation) {
        List<Secret> after = new ArrayList<>();
        for (Secret secret : before != null ? before : List.of(new Secret(key.keyHash(), key.displayPrefix(), Secret.CURRENT))) {
            boolean justReplaced = secret.validUntilMs() == Secret.CURRENT;
            // A rotation with a short grace (often a leak) must not leave an older secret working past it on its longer grace.
            long validUntilMs = Math.min(secret.validUntilMs(), rotation.previousValidUntilMs());
            // The secret replaced now stays even without a grace period, so its holder is told it was replaced, not unknown.
            if (justReplaced || validUntilMs > rotation.timestampMs()) {
                after.add(new Secret(secret.secretHash(), secret.displayPrefix(), validUntilMs));
            }
        }
        after.add(new Secret(rotation.newSecretHash(), rotation.newDisplayPrefix(), Secret.CURRENT));
        return List.copyOf(after);
    }

    /** A key's or an account's rate limits as journaled ({@link JournalEvent.RateLimitsSet}); -1 for none. */
    public record RateLimits(int subject, String id, long rpm, long tpm, long concurrency) {
    }

    /**
     * The soft alerts of a key: its percentage of each cap (-1 none) and the periods its day and month alerts were last
     * raised for and whether its total's was (-1: never).
     */
    public record KeyAlerts(String keyHash, int percent, int dayAlerted, int monthAlerted, boolean totalAlerted) {
        static final KeyAlerts NONE = new KeyAlerts("", -1, -1, -1, false);
    }

    /**
     * An account's low-balance alert: its threshold (-1 none), how many times it was raised, and whether it is raised now
     * (until money added takes the balance back to the threshold).
     */
    public record BalanceAlert(String accountId, long thresholdMicros, int raisedCount, boolean raised) {
    }

    public record OpenReservation(long reservationId, String accountId, String keyHash, long heldMicros, String requestId, long startMs) {
    }

    private final Map<String, Account> accounts = new LinkedHashMap<>();
    private final Map<String, Key> keys = new LinkedHashMap<>();
    private final Map<Long, OpenReservation> open = new HashMap<>();
    private final Map<String, KeyLimits> keyLimits = new LinkedHashMap<>();
    private final Map<String, KeyScopeRecord> keyScopes = new LinkedHashMap<>();
    /** By subject and id ({@code 0:keyHash}, {@code 1:accountId}). */
    private final Map<String, RateLimits> rateLimits = new LinkedHashMap<>();
    /** The secrets of every key ever rotated; a key never rotated is opened by the secret its hash names. */
    private final Map<String, List<Secret>> keySecrets = new LinkedHashMap<>();
    /** Every secret hash in {@link #keySecrets}, to the key it opens: a secret opens one key only. */
    private final Map<String, String> secretOwners = new HashMap<>();
    private final Set<String> appliedIdempotencyKeys = new HashSet<>();
    private final Map<String, KeyAlerts> keyAlerts = new LinkedHashMap<>();
    private final Map<String, BalanceAlert> balanceAlerts = new LinkedHashMap<>();
    /** The version of the last price catalog journaled as loaded; empty before any. */
    private String catalogVersion = "";
    private long lastIndex = -1;
    private long maxReservationId;
    private long recordsApplied;

    /**
     * Applies the record at {@code index}. Returns false (changing nothing) for a record already
     * applied; throws {@link LedgerReplayException} for one that contradicts the state, such as the
     * settlement of a reservation that is not open.
     */
    public boolean apply(long index, JournalEvent event) {
        if (index <= lastIndex) {
            return false;
        }
        switch (event.change()) {
            case AccountOpened e -> accounts.computeIfAbsent(e.accountId(), Account::new);
            case CreditAdded e -> {
                if (appliedIdempotencyKeys.add(idempotencyScope(e.accountId(), e.idempotencyKey()))) {
                    Account account = account(index, e.accountId());
                    account.creditedMicros += e.amountMicros();
                    account.availableMicros += e.amountMicros();
                }
            }
            case Adjusted e -> {
                if (appliedIdempotencyKeys.add(idempotencyScope(e.accountId(), e.idempotencyKey()))) {
                    Account account = account(index, e.accountId());
                    account.creditedMicros += e.amountMicros();
                    account.availableMicros += e.amountMicros();
                }
            }
            case KeyIssued e -> {
                account(index, e.accountId());
                if (secretOwners.containsKey(e.keyHash())) {
                    throw new LedgerReplayException(index, "issues a key whose hash is another key's secret");
                }
                keys.put(e.keyHash(), new Key(e.keyHash(), e.displayPrefix(), e.label(), e.accountId(), false));
            }
            case KeyRevoked e -> {
                Key key = keys.get(e.keyHash());
                if (key == null) {
                    throw new LedgerReplayException(index, "revokes a key that was never issued");
                }
                keys.put(e.keyHash(), new Key(key.keyHash(), key.displayPrefix(), key.label(), key.accountId(), true));
            }
            case ReservationMade e -> {
                Account account = account(index, e.accountId());
                if (open.containsKey(e.reservationId()) || e.reservationId() <= 0) {
                    throw new LedgerReplayException(index, "reservation " + e.reservationId() + " made twice");
                }
                open.put(e.reservationId(), new OpenReservation(e.reservationId(), e.accountId(), e.keyHash(), e.amountMicros(), e.requestId(),
                        e.timestampMs()));
                account.availableMicros -= e.amountMicros();
                account.reservedMicros += e.amountMicros();
                maxReservationId = Math.max(maxReservationId, e.reservationId());
            }
            case ReservationExtended e -> {
                OpenReservation reservation = openReservation(index, e.reservationId());
                open.put(e.reservationId(), new OpenReservation(reservation.reservationId(), reservation.accountId(), reservation.keyHash(),
                        reservation.heldMicros() + e.amountMicros(), reservation.requestId(), reservation.startMs()));
                Account account = account(index, reservation.accountId());
                account.availableMicros -= e.amountMicros();
                account.reservedMicros += e.amountMicros();
            }
            case Settled e -> {
                OpenReservation reservation = openReservation(index, e.reservationId());
                open.remove(e.reservationId());
                Account account = account(index, reservation.accountId());
                account.reservedMicros -= reservation.heldMicros();
                account.availableMicros += reservation.heldMicros() - e.debitedMicros();
                account.debitedMicros += e.debitedMicros();
                account.writtenOffMicros += e.writtenOffMicros();
            }
            case Released e -> {
                OpenReservation reservation = openReservation(index, e.reservationId());
                open.remove(e.reservationId());
                Account account = account(index, reservation.accountId());
                account.reservedMicros -= reservation.heldMicros();
                account.availableMicros += reservation.heldMicros();
            }
            case UsageDrift e -> openReservation(index, e.reservationId()); // moves no money; names an open reservation
            case JournalEvent.KeyLimitsSet e -> {
                if (!keys.containsKey(e.keyHash())) {
                    throw new LedgerReplayException(index, "sets the limits of a key that was never issued");
                }
                keyLimits.put(e.keyHash(), new KeyLimits(e.keyHash(), e.dayCapMicros(), e.monthCapMicros(), e.totalCapMicros()));
            }
            case JournalEvent.KeyScopeSet e -> {
                Key key = keys.get(e.keyHash());
                if (key == null) {
                    throw new LedgerReplayException(index, "sets the scope of a key that was never issued");
                }
                keys.put(e.keyHash(), new Key(key.keyHash(), key.displayPrefix(), e.label(), key.accountId(), key.revoked()));
                keyScopes.put(e.keyHash(), new KeyScopeRecord(e.keyHash(), e.env(), e.lane(), e.models(), e.expiresAtMs(), e.networks()));
            }
            case JournalEvent.KeyRotated e -> {
                Key key = keys.get(e.keyHash());
                if (key == null || key.revoked()) {
                    throw new LedgerReplayException(index, "rotates a key that was never issued or is revoked");
                }
                if (keys.containsKey(e.newSecretHash()) || secretOwners.containsKey(e.newSecretHash())) {
                    throw new LedgerReplayException(index, "rotates to a secret that is already a key's or a secret's");
                }
                List<Secret> before = keySecrets.get(e.keyHash());
                List<Secret> after = rotated(before, key, e);
                if (before != null) {
                    before.forEach(secret -> secretOwners.remove(secret.secretHash()));
                }
                after.forEach(secret -> secretOwners.put(secret.secretHash(), e.keyHash()));
                keySecrets.put(e.keyHash(), after);
                keys.put(e.keyHash(), new Key(key.keyHash(), e.newDisplayPrefix(), key.label(), key.accountId(), false));
            }
            case JournalEvent.RateLimitsSet e -> {
                if (e.subject() == JournalEvent.RateLimitsSet.KEY ? !keys.containsKey(e.id()) : !accounts.containsKey(e.id())) {
                    throw new LedgerReplayException(index, "sets the rate limits of a key or account that does not exist");
                }
                rateLimits.put(e.subject() + ":" + e.id(), new RateLimits(e.subject(), e.id(), e.rpm(), e.tpm(), e.concurrency()));
            }
            case JournalEvent.CatalogLoaded e -> catalogVersion = e.version();
            case JournalEvent.CredentialSet e -> account(index, e.accountId()); // the audit of a change kept outside; names an account
            case JournalEvent.AlertSet e -> {
                if (e.subject() == JournalEvent.AlertSet.KEY) {
                    if (!keys.containsKey(e.id())) {
                        throw new LedgerReplayException(index, "sets the alert of a key that was never issued");
                    }
                    KeyAlerts before = keyAlerts.getOrDefault(e.id(), KeyAlerts.NONE);
                    keyAlerts.put(e.id(), new KeyAlerts(e.id(), (int) e.value(), before.dayAlerted(), before.monthAlerted(), before.totalAlerted()));
                } else {
                    account(index, e.id());
                    // Set (or set again when money added brought the balance back): armed. The live ledger journals
                    // every change of the alert in the order it made them, so none is recomputed here.
                    BalanceAlert before = balanceAlerts.get(e.id());
                    balanceAlerts.put(e.id(), new BalanceAlert(e.id(), e.value(), before == null ? 0 : before.raisedCount(), false));
                }
            }
            case JournalEvent.AlertRaised e -> {
                if (e.window() == JournalEvent.AlertRaised.Window.BALANCE) {
                    BalanceAlert before = balanceAlerts.get(e.accountId());
                    if (before == null) {
                        throw new LedgerReplayException(index, "raises the low-balance alert of an account that has no threshold");
                    }
                    balanceAlerts.put(e.accountId(), new BalanceAlert(e.accountId(), before.thresholdMicros(), before.raisedCount() + 1, true));
                } else {
                    KeyAlerts before = keyAlerts.get(e.keyHash());
                    if (before == null) {
                        throw new LedgerReplayException(index, "raises the alert of a key that has no alert percentage");
                    }
                    keyAlerts.put(e.keyHash(), switch (e.window()) {
                        case DAY -> new KeyAlerts(e.keyHash(), before.percent(), Math.max(before.dayAlerted(), e.period()), before.monthAlerted(),
                                before.totalAlerted());
                        case MONTH -> new KeyAlerts(e.keyHash(), before.percent(), before.dayAlerted(), Math.max(before.monthAlerted(), e.period()),
                                before.totalAlerted());
                        default -> new KeyAlerts(e.keyHash(), before.percent(), before.dayAlerted(), before.monthAlerted(), true);
                    });
                }
            }
            case JournalEvent.Authored e -> throw new LedgerReplayException(index, "an operator's record inside another"); // the codec refuses it
        }
        lastIndex = index;
        recordsApplied++;
        return true;
    }

    private Account account(long index, String accountId) {
        Account account = accounts.get(accountId);
        if (account == null) {
            throw new LedgerReplayException(index, "names account " + accountId + ", which was never opened");
        }
        return account;
    }

    private OpenReservation openReservation(long index, long reservationId) {
        OpenReservation reservation = open.get(reservationId);
        if (reservation == null) {
            throw new LedgerReplayException(index, "closes or extends reservation " + reservationId + ", which is not open");
        }
        return reservation;
    }

    static String idempotencyScope(String accountId, String idempotencyKey) {
        return accountId + '\u0000' + idempotencyKey;
    }

    public boolean idempotencyKeyApplied(String accountId, String idempotencyKey) {
        return appliedIdempotencyKeys.contains(idempotencyScope(accountId, idempotencyKey));
    }

    public Account account(String accountId) {
        return accounts.get(accountId);
    }

    public Collection<Account> accounts() {
        return accounts.values();
    }

    public Collection<Key> keys() {
        return keys.values();
    }

    public Collection<KeyLimits> keyLimits() {
        return keyLimits.values();
    }

    public Collection<KeyAlerts> keyAlerts() {
        return keyAlerts.values();
    }

    public Collection<BalanceAlert> balanceAlerts() {
        return balanceAlerts.values();
    }

    void restoreKeyAlerts(KeyAlerts alerts) {
        keyAlerts.put(alerts.keyHash(), alerts);
    }

    void restoreBalanceAlert(BalanceAlert alert) {
        balanceAlerts.put(alert.accountId(), alert);
    }

    public Collection<RateLimits> rateLimits() {
        return rateLimits.values();
    }

    void restoreRateLimits(RateLimits limits) {
        rateLimits.put(limits.subject() + ":" + limits.id(), limits);
    }

    public Collection<KeyScopeRecord> keyScopes() {
        return keyScopes.values();
    }

    void restoreKeyScope(KeyScopeRecord scope) {
        keyScopes.put(scope.keyHash(), scope);
    }

    /** The secrets of each rotated key, by the key's hash. */
    public Map<String, List<Secret>> keySecrets() {
        return java.util.Collections.unmodifiableMap(keySecrets);
    }

    void restoreKeySecrets(String keyHash, List<Secret> secrets) {
        keySecrets.put(keyHash, List.copyOf(secrets));
        secrets.forEach(secret -> secretOwners.put(secret.secretHash(), keyHash));
    }

    void restoreKeyLimits(KeyLimits limits) {
        keyLimits.put(limits.keyHash(), limits);
    }

    public Collection<OpenReservation> openReservations() {
        List<OpenReservation> sorted = new ArrayList<>(open.values());
        sorted.sort((a, b) -> Long.compare(a.reservationId(), b.reservationId()));
        return sorted;
    }

    /** The version of the price catalog last journaled as loaded, empty when none was. */
    public String catalogVersion() {
        return catalogVersion;
    }

    void restoreCatalogVersion(String version) {
        catalogVersion = version;
    }

    /** Index of the last record applied, -1 before any. */
    public long lastIndex() {
        return lastIndex;
    }

    public long maxReservationId() {
        return maxReservationId;
    }

    public long recordsApplied() {
        return recordsApplied;
    }

    Set<String> appliedIdempotencyKeys() {
        return appliedIdempotencyKeys;
    }

    /** Restores the bookkeeping a snapshot carries (used by {@link Snapshots}). */
    void restorePosition(long lastIndex, long maxReservationId, long recordsApplied) {
        this.lastIndex = lastIndex;
        this.maxReservationId = maxReservationId;
        this.recordsApplied = recordsApplied;
    }

    Account restoreAccount(String id, long credited, long debited, long available, long reserved, long writtenOff) {
        Account account = new Account(id);
        account.creditedMicros = credited;
        account.debitedMicros = debited;
        account.availableMicros = available;
        account.reservedMicros = reserved;
        account.writtenOffMicros = writtenOff;
        accounts.put(id, account);
        return account;
    }

    void restoreKey(Key key) {
        keys.put(key.keyHash(), key);
    }

    void restoreOpen(OpenReservation reservation) {
        open.put(reservation.reservationId(), reservation);
    }

    /**
     * A digest of everything money depends on (accounts, keys, open reservations, idempotency keys,
     * the reservation id high-water mark, the catalog that prices new requests), independent of how the state was reached: replaying twice,
     * or a snapshot plus the records after it, gives the same hash as one replay from empty.
     */
    public String stateHash() {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        ByteBuffer number = ByteBuffer.allocate(Long.BYTES);
        for (Account account : new TreeMap<>(accounts).values()) {
            digest.update(account.id.getBytes(StandardCharsets.UTF_8));
            for (long value : new long[] {account.creditedMicros, account.debitedMicros, account.availableMicros, account.reservedMicros,
                    account.writtenOffMicros}) {
                digest.update(number.clear().putLong(value).array());
            }
        }
        for (Key key : new TreeMap<>(keys).values()) {
            digest.update((key.keyHash() + '|' + key.displayPrefix() + '|' + key.label() + '|' + key.accountId() + '|' + key.revoked())
                    .getBytes(StandardCharsets.UTF_8));
        }
        for (OpenReservation reservation : openReservations()) {
            digest.update((reservation.toString()).getBytes(StandardCharsets.UTF_8));
        }
        for (KeyLimits limits : new TreeMap<>(keyLimits).values()) {
            digest.update(limits.toString().getBytes(StandardCharsets.UTF_8));
        }
        for (RateLimits limits : new TreeMap<>(rateLimits).values()) {
            digest.update(limits.toString().getBytes(StandardCharsets.UTF_8));
        }
        for (KeyScopeRecord scope : new TreeMap<>(keyScopes).values()) {
            digest.update(scope.toString().getBytes(StandardCharsets.UTF_8));
        }
        for (var secrets : new TreeMap<>(keySecrets).entrySet()) {
            digest.update((secrets.getKey() + secrets.getValue()).getBytes(StandardCharsets.UTF_8));
        }
        for (String key : new java.util.TreeSet<>(appliedIdempotencyKeys)) {
            digest.update(key.getBytes(StandardCharsets.UTF_8));
        }
        // Each only when there is one, as the catalog version below, so older journals hash as they did.
        for (KeyAlerts alerts : new TreeMap<>(keyAlerts).values()) {
            digest.update(alerts.toString().getBytes(StandardCharsets.UTF_8));
        }
        for (BalanceAlert alert : new TreeMap<>(balanceAlerts).values()) {
            digest.update(alert.toString().getBytes(StandardCharsets.UTF_8));
        }
        digest.update(number.clear().putLong(maxReservationId).array());
        if (!catalogVersion.isEmpty()) {
            // Only when there is one, so the hash of a journal from before catalog records stays what it was.
            digest.update(("catalog|" + catalogVersion).getBytes(StandardCharsets.UTF_8));
        }
        return HexFormat.of().formatHex(digest.digest());
    }
}
