package dev.tollgate.journal;

import dev.tollgate.journal.JournalEvent.AccountOpened;
import dev.tollgate.journal.JournalEvent.Authored;
import dev.tollgate.journal.JournalEvent.CatalogLoaded;
import dev.tollgate.journal.JournalEvent.Adjusted;
import dev.tollgate.journal.JournalEvent.CreditAdded;
import dev.tollgate.journal.JournalEvent.KeyIssued;
import dev.tollgate.journal.JournalEvent.KeyLimitsSet;
import dev.tollgate.journal.JournalEvent.KeyRotated;
import dev.tollgate.journal.JournalEvent.KeyScopeSet;
import dev.tollgate.journal.JournalEvent.KeyRevoked;
import dev.tollgate.journal.JournalEvent.Released;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.JournalEvent.ReservationExtended;
import dev.tollgate.journal.JournalEvent.ReservationMade;
import dev.tollgate.journal.JournalEvent.Settled;
import dev.tollgate.journal.JournalEvent.UsageDrift;
import dev.tollgate.metering.Usage;
import java.nio.BufferOverflowException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/**
 * The binary layout of journal records, little-endian:
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------+---------------+-------------------------------+
 *  |  type code    |   version     |         body length           |  0
 *  +---------------+---------------+-------------------------------+
 *  |                      timestampMs (int64)                      |  4
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                  body (type-specific, below)               ...| 12
 *  +---------------------------------------------------------------+
 *  |              CRC32C of everything above (int32)               |  12 + body length
 *  +---------------------------------------------------------------+
 * </pre>
 *
 * Bodies, in order: strings are a uint16 byte length then UTF-8; a key hash is its 32 raw bytes.
 * <ul>
 *   <li>ACCOUNT_OPENED: accountId</li>
 *   <li>CREDIT_ADDED: accountId, amountMicros int64, idempotencyKey</li>
 *   <li>ADJUSTED: accountId, amountMicros int64 (signed), reason, idempotencyKey</li>
 *   <li>KEY_ISSUED: keyHash, displayPrefix, label, accountId</li>
 *   <li>KEY_REVOKED: keyHash</li>
 *   <li>RESERVATION_MADE: reservationId int64, accountId, keyHash, amountMicros int64, requestId</li>
 *   <li>RESERVATION_EXTENDED: reservationId int64, amountMicros int64</li>
 *   <li>SETTLED: reservationId int64, facts, input, cacheRead, cacheWrite, output, reasoning tokens (5 x int64),
 *       then in version 3 the parts: cacheWrite1h, audioInput, imageInput, audioOutput, imageOutput tokens (5 x int64), server
 *       tool count uint8 then each name and calls int64, unit count uint8 then each name and count int64; then
 *       usageReported uint8, costMicros, debitedMicros, writtenOffMicros (3 x int64), reason</li>
 *   <li>RELEASED: reservationId int64, facts, reason</li>
 *   <li>CATALOG_LOADED: version (16 lower-case hex digits), source, rowCount int32</li>
 *   <li>USAGE_DRIFT: reservationId int64, the reported then the billed usage's kinds (2 x 5 x int64, in SETTLED's order; no parts)</li>
 *   <li>KEY_LIMITS_SET: keyHash, dayCapMicros, monthCapMicros, totalCapMicros (3 x int64, -1 for none)</li>
 *   <li>KEY_SCOPE_SET: keyHash, label, env, lane, model count uint8 then each model, expiresAtMs int64 (-1 for never),
 *       network count uint8 then each CIDR block</li>
 *   <li>KEY_ROTATED: keyHash, newSecretHash, newDisplayPrefix, previousValidUntilMs int64</li>
 *   <li>RATE_LIMITS_SET: subject uint8 (0 key, 1 account), then keyHash or accountId, rpm, tpm, concurrency (3 x int64, -1 for none)</li>
 *   <li>ALERT_SET: subject uint8 (0 key, 1 account), then keyHash or accountId, value int64 (-1 for none)</li>
 *   <li>ALERT_RAISED: window uint8 (0 day, 1 month, 2 total, 3 balance), accountId, keyHash, period int32, limitMicros,
 *       thresholdMicros, amountMicros (3 x int64)</li>
 *   <li>CREDENTIAL_SET: accountId, provider, removed uint8 (0 set, 1 removed); never the credential</li>
 *   <li>AUTHORED: actor, note, the carried record's type code uint8, then its body in version 1 of its layout
 *       (it shares this record's timestamp)</li>
 *   <li>facts: requestId, accountId, keyHash, lane, provider, model, endpoint, startMs int64, endMs int64, upstreamRequestId,
 *       then in version 2 catalogVersion (empty, or 16 lower-case hex digits), then in version 3 rowVersion (the
 *       effectiveFrom of the price set that priced it, empty for an undated one) and serviceTier (as the provider
 *       reported it, empty for none), then in version 4 requestedModel (empty when the model served is the one named),
 *       attempts (the failed attempts before the serving one, empty for none) and priceMultiplierBps int32, then in
 *       version 5 directCostMicros int64 (-1 for a request paid from the prepaid balance; else the cost at the catalog
 *       price that the provider bills the account directly)</li>
 * </ul>
 * The version byte is the version of that type's layout. Every type is at version 1 except SETTLED and
 * RELEASED, which are written at version 5 (their facts end with the catalog version, the row version, the
 * service tier, the requested model, the failed attempts, the price multiplier and the direct cost; a settlement's
 * usage carries its parts) and read at 1 to 5 (what an older version has no place for reads as empty, as no
 * multiplier, or as prepaid), so
 * journals written before keep replaying.
 * Every record is validated before it is written and again when it is read back; a record of a
 * version this code does not know for its type is an error.
 */
public final class JournalCodec {
    /** The first layout of every type, and the only one of every type but SETTLED and RELEASED ({@link #currentVersion}). */
    public static final int VERSION = 1;
    /** The layout of SETTLED and RELEASED whose facts carry the catalog version. */
    public static final int FACTS_WITH_CATALOG_VERSION = 2;
    /** The layout whose facts also carry the row version and service tier, and whose settlement usage carries its parts. */
    public static final int FACTS_WITH_ROW_VERSION = 3;
    /** The layout whose facts also carry the requested model, the failed attempts and the lane's price multiplier. */
    public static final int FACTS_WITH_ROUTE = 4;
    /** The layout whose facts also carry the direct cost (billed by the provider, or -1 for prepaid). */
    public static final int FACTS_WITH_BILLING = 5;
    /** No direct cost is larger: the same bound as a spend cap, which is what a direct cost is drawn from. */
    static final long MAX_DIRECT_COST_MICROS = dev.tollgate.metering.SpendWindows.MAX_CAP_MICROS;
    public static final int HEADER_LENGTH = 12;
    public static final int CHECKSUM_LENGTH = 4;
    /** No record is larger; the field limits below keep every valid record well under it. */
    public static final int MAX_RECORD_LENGTH = 4096;

    static final int MAX_ID = 64;
    static final int MAX_IDEMPOTENCY_KEY = 128;
    static final int MAX_REASON = 256;
    static final int MAX_LABEL = 64;
    static final int MAX_DISPLAY_PREFIX = 16;
    static final int MAX_LANE = 32;
    static final int MAX_MODEL = 128;
    static final int MAX_UPSTREAM_ID = 256;
    /** A catalog version: the first 16 hex digits of a SHA-256 ({@code PriceCatalog.version()}). */
    static final int CATALOG_VERSION_LENGTH = 16;
    static final int MAX_CATALOG_SOURCE = 256;
    /** A row version: the ISO-8601 instant its price set took effect ({@code 2026-01-01T00:00:00Z}), at most this long. */
    static final int MAX_ROW_VERSION = 40;
    static final int MAX_SERVICE_TIER = 64;
    /** The failed attempts before the one that served: a bounded retry budget keeps them few. */
    public static final int MAX_ATTEMPTS = 512;
    /** The largest lane price multiplier: ten times the catalog price. */
    public static final int MAX_PRICE_MULTIPLIER_BPS = 100_000;
    static final int MAX_COUNTED_NAME = 64;
    private static final JournalEvent.AlertRaised.Window[] ALERT_WINDOWS = JournalEvent.AlertRaised.Window.values();
    private static final int KEY_HASH_BYTES = 32;
    private static final HexFormat HEX = HexFormat.of();
    /** The records an {@link Authored} record may carry: what an operator changes, never a request's money. */
    static final java.util.Set<EventType> AUTHORABLE = java.util.EnumSet.of(EventType.ACCOUNT_OPENED, EventType.CREDIT_ADDED,
            EventType.ADJUSTED, EventType.KEY_ISSUED, EventType.KEY_REVOKED, EventType.KEY_LIMITS_SET,
            EventType.KEY_SCOPE_SET, EventType.KEY_ROTATED, EventType.RATE_LIMITS_SET,
            EventType.CATALOG_LOADED, EventType.ALERT_SET, EventType.CREDENTIAL_SET);
    static final long MAX_PER_MINUTE = dev.tollgate.metering.RateLimiter.MAX_PER_MINUTE;
    static final long MAX_CONCURRENCY = dev.tollgate.metering.RateLimiter.MAX_CONCURRENCY;
    /** The same bounds as {@code KeyScope}'s. */
    static final int MAX_KEY_MODELS = dev.tollgate.metering.KeyScope.MAX_MODELS;
    static final int MAX_KEY_NETWORKS = dev.tollgate.metering.KeyScope.MAX_NETWORKS;
    static final int MAX_TAG = dev.tollgate.metering.KeyScope.MAX_TAG_LENGTH;
    /** The longest CIDR block: a full IPv6 address in eight groups and a prefix. */
    static final int MAX_NETWORK = 43;
    /** The same bound as the live counters' ({@code SpendWindows.MAX_CAP_MICROS}). */
    static final long MAX_CAP_MICROS = dev.tollgate.metering.SpendWindows.MAX_CAP_MICROS;

    private JournalCodec() {
    }

    /** The version of the layout this code writes for {@code type}. */
    public static int currentVersion(EventType type) {
        return type == EventType.SETTLED || type == EventType.RELEASED ? FACTS_WITH_BILLING : VERSION;
    }

    /** Encodes a validated event into {@code out} (from position 0) and returns the record length. */
    public static int encode(JournalEvent event, ByteBuffer out) {
        return encode(event, out, currentVersion(event.type()));
    }

    /**
     * Encodes in an older layout, as an older writer did: for the tests that prove those records still read.
     * Version 1 of SETTLED or RELEASED has no place for a catalog version, so the event must have none.
     */
    static int encode(JournalEvent event, ByteBuffer out, int version) {
        validate(event);
        if (version < 1 || version > currentVersion(event.type())) {
            throw new IllegalArgumentException("no version " + version + " of a " + event.type() + " record");
        }
        RequestFacts facts = event instanceof Settled e ? e.request() : event instanceof Released e ? e.request() : null;
        if (version < FACTS_WITH_CATALOG_VERSION && facts != null && !facts.catalogVersion().isEmpty()) {
            throw new IllegalArgumentException("version " + version + " of a " + event.type() + " record has no catalog version");
        }
        if (version < FACTS_WITH_ROW_VERSION && (facts != null && (!facts.rowVersion().isEmpty() || !facts.serviceTier().isEmpty())
                || event instanceof Settled settled && settled.usage().hasParts())) {
            throw new IllegalArgumentException("version " + version + " of a " + event.type() + " record has no row version, service tier or usage parts");
        }
        if (version < FACTS_WITH_ROUTE && facts != null && (!facts.requestedModel().isEmpty() || !facts.attempts().isEmpty()
                || facts.priceMultiplierBps() != RequestFacts.NO_MULTIPLIER_BPS)) {
            throw new IllegalArgumentException("version " + version + " of a " + event.type() + " record has no requested model, attempts or multiplier");
        }
        if (version < FACTS_WITH_BILLING && facts != null && facts.direct()) {
            throw new IllegalArgumentException("version " + version + " of a " + event.type() + " record has no direct cost");
        }
        out.clear().order(ByteOrder.LITTLE_ENDIAN);
        try {
            out.put((byte) event.type().code()).put((byte) version).putShort((short) 0).putLong(event.timestampMs());
            putBody(out, event, version);
        } catch (BufferOverflowException e) {
            throw new JournalFormatException(event.type() + " record longer than " + MAX_RECORD_LENGTH + " bytes");
        }
        int bodyLength = out.position() - HEADER_LENGTH;
        out.putShort(2, (short) bodyLength);
        CRC32C crc = new CRC32C();
        crc.update(out.array(), out.arrayOffset(), out.position());
        out.putInt((int) crc.getValue());
        return out.position();
    }

    private static void putBody(ByteBuffer out, JournalEvent event, int version) {
        switch (event) {
            case AccountOpened e -> putString(out, e.accountId());
            case CreditAdded e -> {
                putString(out, e.accountId());
                out.putLong(e.amountMicros());
                putString(out, e.idempotencyKey());
            }
            case Adjusted e -> {
                putString(out, e.accountId());
                out.putLong(e.amountMicros());
                putString(out, e.reason());
                putString(out, e.idempotencyKey());
            }
            case KeyIssued e -> {
                putKeyHash(out, e.keyHash());
                putString(out, e.displayPrefix());
                putString(out, e.label());
                putString(out, e.accountId());
            }
            case KeyRevoked e -> putKeyHash(out, e.keyHash());
            case ReservationMade e -> {
                out.putLong(e.reservationId());
                putString(out, e.accountId());
                putKeyHash(out, e.keyHash());
                out.putLong(e.amountMicros());
                putString(out, e.requestId());
            }
            case ReservationExtended e -> out.putLong(e.reservationId()).putLong(e.amountMicros());
            case Settled e -> {
                out.putLong(e.reservationId());
                putFacts(out, e.request(), version);
                putUsage(out, e.usage());
                if (version >= FACTS_WITH_ROW_VERSION) {
                    putUsageParts(out, e.usage());
                }
                out.put((byte) (e.usageReportedByProvider() ? 1 : 0));
                out.putLong(e.costMicros()).putLong(e.debitedMicros()).putLong(e.writtenOffMicros());
                putString(out, e.reason());
            }
            case Released e -> {
                out.putLong(e.reservationId());
                putFacts(out, e.request(), version);
                putString(out, e.reason());
            }
            case UsageDrift e -> {
                out.putLong(e.reservationId());
                putUsage(out, e.reported());
                putUsage(out, e.billed());
            }
            case KeyLimitsSet e -> {
                putKeyHash(out, e.keyHash());
                out.putLong(e.dayCapMicros()).putLong(e.monthCapMicros()).putLong(e.totalCapMicros());
            }
            case KeyScopeSet e -> {
                putKeyHash(out, e.keyHash());
                putString(out, e.label());
                putString(out, e.env());
                putString(out, e.lane());
                putStrings(out, e.models());
                out.putLong(e.expiresAtMs());
                putStrings(out, e.networks());
            }
            case KeyRotated e -> {
                putKeyHash(out, e.keyHash());
                putKeyHash(out, e.newSecretHash());
                putString(out, e.newDisplayPrefix());
                out.putLong(e.previousValidUntilMs());
            }
            case JournalEvent.RateLimitsSet e -> {
                out.put((byte) e.subject());
                if (e.subject() == JournalEvent.RateLimitsSet.KEY) {
                    putKeyHash(out, e.id());
                } else {
                    putString(out, e.id());
                }
                out.putLong(e.rpm()).putLong(e.tpm()).putLong(e.concurrency());
            }
            case JournalEvent.CredentialSet e -> {
                putString(out, e.accountId());
                putString(out, e.provider());
                out.put((byte) (e.removed() ? 1 : 0));
            }
            case CatalogLoaded e -> {
                putString(out, e.version());
                putString(out, e.source());
                out.putInt(e.rowCount());
            }
            case JournalEvent.AlertSet e -> {
                out.put((byte) e.subject());
                if (e.subject() == JournalEvent.AlertSet.KEY) {
                    putKeyHash(out, e.id());
                } else {
                    putString(out, e.id());
                }
                out.putLong(e.value());
            }
            case JournalEvent.AlertRaised e -> {
                out.put((byte) e.window().ordinal());
                putString(out, e.accountId());
                putKeyHash(out, e.keyHash());
                out.putInt(e.period()).putLong(e.limitMicros()).putLong(e.thresholdMicros()).putLong(e.amountMicros());
            }
            case Authored e -> {
                putString(out, e.actor());
                putString(out, e.note());
                out.put((byte) e.change().type().code());
                putBody(out, e.change(), VERSION);
            }
        }
    }

    private static void putUsage(ByteBuffer out, Usage usage) {
        out.putLong(usage.inputTokens()).putLong(usage.cacheReadTokens()).putLong(usage.cacheWriteTokens())
                .putLong(usage.outputTokens()).putLong(usage.reasoningTokens());
    }

    private static Usage getUsage(ByteBuffer in) {
        return new Usage(in.getLong(), in.getLong(), in.getLong(), in.getLong(), in.getLong());
    }

    private static void putUsageParts(ByteBuffer out, Usage usage) {
        out.putLong(usage.cacheWrite1hTokens()).putLong(usage.audioInputTokens()).putLong(usage.imageInputTokens())
                .putLong(usage.audioOutputTokens()).putLong(usage.imageOutputTokens());
        putCounts(out, usage.serverToolCalls());
        putCounts(out, usage.units());
    }

    private static void putCounts(ByteBuffer out, java.util.Map<String, Long> counts) {
        out.put((byte) counts.size());
        if (counts.isEmpty()) {
            return; // nearly every debit: no sorting, no allocation
        }
        for (String name : counts.keySet().stream().sorted().toList()) { // sorted: the same usage always has the same bytes
            putString(out, name);
            out.putLong(counts.get(name));
        }
    }

    private static java.util.Map<String, Long> getCounts(ByteBuffer in) {
        int count = Byte.toUnsignedInt(in.get());
        if (count > Usage.MAX_COUNTED_NAMES) {
            throw new IllegalArgumentException(count + " counted names, more than " + Usage.MAX_COUNTED_NAMES);
        }
        if (count == 0) {
            return java.util.Map.of();
        }
        java.util.Map<String, Long> counts = new java.util.HashMap<>();
        for (int i = 0; i < count; i++) {
            String name = getString(in, MAX_COUNTED_NAME);
            if (counts.put(name, in.getLong()) != null) {
                throw new IllegalArgumentException("\"" + name + "\" counted twice");
            }
        }
        return counts;
    }

    /** The parts of {@code usage}'s kinds and its server tools and units, as version 3 of SETTLED writes them after the kinds. */
    private static Usage getUsageParts(ByteBuffer in, Usage usage) {
        long cacheWrite1h = in.getLong();
        long audioInput = in.getLong();
        long imageInput = in.getLong();
        long audioOutput = in.getLong();
        long imageOutput = in.getLong();
        java.util.Map<String, Long> calls = getCounts(in);
        java.util.Map<String, Long> units = getCounts(in);
        if ((cacheWrite1h | audioInput | imageInput | audioOutput | imageOutput) == 0 && calls.isEmpty() && units.isEmpty()) {
            return usage; // nearly every debit: the kinds' usage as read, not a second one
        }
        return new Usage(usage.inputTokens(), usage.cacheReadTokens(), usage.cacheWriteTokens(), usage.outputTokens(), usage.reasoningTokens(),
                cacheWrite1h, audioInput, imageInput, audioOutput, imageOutput, calls, units);
    }

    /** Decodes and validates one record of {@code length} bytes at the start of {@code in}. */
    public static JournalEvent decode(ByteBuffer in, int length) {
        in.order(ByteOrder.LITTLE_ENDIAN);
        if (length < HEADER_LENGTH + CHECKSUM_LENGTH || length > MAX_RECORD_LENGTH) {
            throw new JournalFormatException("record length " + length + " out of range");
        }
        int typeCode = in.get(0) & 0xFF;
        int version = in.get(1) & 0xFF;
        int bodyLength = in.getShort(2) & 0xFFFF;
        EventType type = EventType.of(typeCode);
        if (type == null) {
            throw new JournalFormatException("unknown record type " + typeCode);
        }
        if (version < VERSION || version > currentVersion(type)) {
            throw new JournalFormatException("unknown version " + version + " of a " + type + " record (this code reads versions " + VERSION
                    + " to " + currentVersion(type) + ")");
        }
        if (HEADER_LENGTH + bodyLength + CHECKSUM_LENGTH != length) {
            throw new JournalFormatException(type + " record: body length " + bodyLength + " does not match the record length " + length);
        }
        CRC32C crc = new CRC32C();
        crc.update(in.array(), in.arrayOffset(), HEADER_LENGTH + bodyLength);
        if ((int) crc.getValue() != in.getInt(HEADER_LENGTH + bodyLength)) {
            throw new JournalFormatException(type + " record: checksum mismatch");
        }
        in.limit(HEADER_LENGTH + bodyLength).position(4);
        try {
            long timestampMs = in.getLong();
            JournalEvent event = getBody(type, timestampMs, in, version);
            if (in.hasRemaining()) {
                throw new JournalFormatException(type + " record: " + in.remaining() + " unread bytes");
            }
            validate(event);
            return event;
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new JournalFormatException(type + " record: malformed body (" + e.getMessage() + ")");
        }
    }

    private static JournalEvent getBody(EventType type, long timestampMs, ByteBuffer in, int version) {
        return switch (type) {
            case ACCOUNT_OPENED -> new AccountOpened(timestampMs, getString(in, MAX_ID));
            case CREDIT_ADDED -> new CreditAdded(timestampMs, getString(in, MAX_ID), in.getLong(), getString(in, MAX_IDEMPOTENCY_KEY));
            case ADJUSTED -> new Adjusted(timestampMs, getString(in, MAX_ID), in.getLong(), getString(in, MAX_REASON),
                    getString(in, MAX_IDEMPOTENCY_KEY));
            case KEY_ISSUED -> new KeyIssued(timestampMs, getKeyHash(in), getString(in, MAX_DISPLAY_PREFIX), getString(in, MAX_LABEL),
                    getString(in, MAX_ID));
            case KEY_REVOKED -> new KeyRevoked(timestampMs, getKeyHash(in));
            case RESERVATION_MADE -> new ReservationMade(timestampMs, in.getLong(), getString(in, MAX_ID), getKeyHash(in), in.getLong(),
                    getString(in, MAX_ID));
            case RESERVATION_EXTENDED -> new ReservationExtended(timestampMs, in.getLong(), in.getLong());
            case SETTLED -> {
                long reservationId = in.getLong();
                RequestFacts facts = getFacts(in, version);
                Usage usage = version >= FACTS_WITH_ROW_VERSION ? getUsageParts(in, getUsage(in)) : getUsage(in);
                boolean reported = in.get() != 0;
                yield new Settled(timestampMs, reservationId, facts, usage, reported, in.getLong(), in.getLong(), in.getLong(),
                        getString(in, MAX_REASON));
            }
            case RELEASED -> new Released(timestampMs, in.getLong(), getFacts(in, version), getString(in, MAX_REASON));
            case USAGE_DRIFT -> new UsageDrift(timestampMs, in.getLong(), getUsage(in), getUsage(in));
            case KEY_LIMITS_SET -> new KeyLimitsSet(timestampMs, getKeyHash(in), in.getLong(), in.getLong(), in.getLong());
            case KEY_SCOPE_SET -> new KeyScopeSet(timestampMs, getKeyHash(in), getString(in, MAX_LABEL), getString(in, MAX_TAG),
                    getString(in, MAX_TAG), getStrings(in, MAX_KEY_MODELS, MAX_MODEL), in.getLong(), getStrings(in, MAX_KEY_NETWORKS, MAX_NETWORK));
            case KEY_ROTATED -> new KeyRotated(timestampMs, getKeyHash(in), getKeyHash(in), getString(in, MAX_DISPLAY_PREFIX), in.getLong());
            case RATE_LIMITS_SET -> {
                int subject = in.get() & 0xFF;
                String id = subject == JournalEvent.RateLimitsSet.KEY ? getKeyHash(in) : getString(in, MAX_ID);
                yield new JournalEvent.RateLimitsSet(timestampMs, subject, id, in.getLong(), in.getLong(), in.getLong());
            }
            case CREDENTIAL_SET -> new JournalEvent.CredentialSet(timestampMs, getString(in, MAX_ID), getString(in, MAX_ID), switch (in.get()) {
                case 0 -> false;
                case 1 -> true;
                default -> throw new IllegalArgumentException("a credential record's removed flag is 0 or 1");
            });
            case CATALOG_LOADED -> new CatalogLoaded(timestampMs, getString(in, CATALOG_VERSION_LENGTH), getString(in, MAX_CATALOG_SOURCE), in.getInt());
            case ALERT_SET -> {
                int subject = Byte.toUnsignedInt(in.get());
                String id = subject == JournalEvent.AlertSet.KEY ? getKeyHash(in) : getString(in, MAX_ID);
                yield new JournalEvent.AlertSet(timestampMs, subject, id, in.getLong());
            }
            case ALERT_RAISED -> {
                int window = Byte.toUnsignedInt(in.get());
                if (window >= ALERT_WINDOWS.length) {
                    throw new IllegalArgumentException("no alert window " + window);
                }
                yield new JournalEvent.AlertRaised(timestampMs, ALERT_WINDOWS[window], getString(in, MAX_ID), getKeyHash(in), in.getInt(),
                        in.getLong(), in.getLong(), in.getLong());
            }
            case AUTHORED -> {
                String actor = getString(in, MAX_LABEL);
                String note = getString(in, MAX_REASON);
                int changeCode = in.get() & 0xFF;
                EventType changeType = EventType.of(changeCode);
                if (changeType == null || !AUTHORABLE.contains(changeType)) {
                    throw new JournalFormatException("AUTHORED record carries a record of type " + changeCode + ", which no operator makes");
                }
                yield new Authored(timestampMs, actor, note, getBody(changeType, timestampMs, in, VERSION));
            }
        };
    }

    /** The checks a record must pass before it is written and after it is read. */
    public static void validate(JournalEvent event) {
        require(event.timestampMs() >= 0, event, "negative timestamp");
        switch (event) {
            case AccountOpened e -> id(event, e.accountId());
            case CreditAdded e -> {
                id(event, e.accountId());
                require(e.amountMicros() > 0, event, "a credit must be positive");
                text(event, "idempotencyKey", e.idempotencyKey(), MAX_IDEMPOTENCY_KEY, true);
            }
            case Adjusted e -> {
                id(event, e.accountId());
                require(e.amountMicros() != 0, event, "an adjustment must not be zero");
                text(event, "reason", e.reason(), MAX_REASON, true);
                text(event, "idempotencyKey", e.idempotencyKey(), MAX_IDEMPOTENCY_KEY, true);
            }
            case KeyIssued e -> {
                keyHash(event, e.keyHash());
                text(event, "displayPrefix", e.displayPrefix(), MAX_DISPLAY_PREFIX, false);
                text(event, "label", e.label(), MAX_LABEL, true);
                id(event, e.accountId());
            }
            case KeyRevoked e -> keyHash(event, e.keyHash());
            case ReservationMade e -> {
                require(e.reservationId() > 0, event, "reservation ids are positive");
                id(event, e.accountId());
                keyHash(event, e.keyHash());
                require(e.amountMicros() >= 0, event, "negative reservation");
                text(event, "requestId", e.requestId(), MAX_ID, true);
            }
            case ReservationExtended e -> {
                require(e.reservationId() > 0, event, "reservation ids are positive");
                require(e.amountMicros() > 0, event, "an extension must be positive");
            }
            case Settled e -> {
                require(e.reservationId() > 0, event, "reservation ids are positive");
                facts(event, e.request());
                require(e.usage() != null, event, "missing usage");
                require(e.debitedMicros() >= 0 && e.writtenOffMicros() >= 0, event, "negative debit or write-off");
                // Both parts are non-negative, so their sum can only overflow into a negative number:
                // requiring a non-negative cost keeps a wrapped sum from matching.
                require(e.costMicros() >= 0 && e.costMicros() == e.debitedMicros() + e.writtenOffMicros(), event,
                        "cost is not debit plus write-off");
                text(event, "reason", e.reason(), MAX_REASON, true);
            }
            case Released e -> {
                require(e.reservationId() > 0, event, "reservation ids are positive");
                facts(event, e.request());
                text(event, "reason", e.reason(), MAX_REASON, true);
            }
            case UsageDrift e -> {
                require(e.reservationId() > 0, event, "reservation ids are positive");
                require(e.reported() != null && e.billed() != null, event, "both usages are given");
            }
            case KeyLimitsSet e -> {
                keyHash(event, e.keyHash());
                for (long cap : new long[] {e.dayCapMicros(), e.monthCapMicros(), e.totalCapMicros()}) {
                    require(cap == -1 || cap >= 0 && cap <= MAX_CAP_MICROS, event, "a cap is -1 (none) or 0.." + MAX_CAP_MICROS + " micros");
                }
            }
            case KeyScopeSet e -> {
                keyHash(event, e.keyHash());
                text(event, "label", e.label(), MAX_LABEL, true);
                text(event, "env", e.env(), MAX_TAG, false);
                text(event, "lane", e.lane(), MAX_TAG, false);
                require(e.models().size() <= MAX_KEY_MODELS, event, "more than " + MAX_KEY_MODELS + " models");
                for (String model : e.models()) {
                    text(event, "model", model, MAX_MODEL, true);
                }
                require(e.expiresAtMs() >= -1, event, "an expiry is -1 (never) or an epoch millisecond");
                require(e.networks().size() <= MAX_KEY_NETWORKS, event, "more than " + MAX_KEY_NETWORKS + " networks");
                for (String network : e.networks()) {
                    text(event, "network", network, MAX_NETWORK, true);
                }
                try {
                    // What recovery builds from the record: one it could not would stop every later start.
                    dev.tollgate.metering.KeyScope.of(e.env(), e.lane(), e.models(), e.expiresAtMs(), e.networks());
                } catch (IllegalArgumentException | NullPointerException invalid) {
                    throw invalid(event, invalid.getMessage());
                }
            }
            case KeyRotated e -> {
                keyHash(event, e.keyHash());
                keyHash(event, e.newSecretHash());
                require(!e.newSecretHash().equals(e.keyHash()), event, "the new secret is the key's own");
                text(event, "newDisplayPrefix", e.newDisplayPrefix(), MAX_DISPLAY_PREFIX, true);
                require(e.previousValidUntilMs() >= 0, event, "negative grace end");
            }
            case JournalEvent.RateLimitsSet e -> {
                require(e.subject() == JournalEvent.RateLimitsSet.KEY || e.subject() == JournalEvent.RateLimitsSet.ACCOUNT, event,
                        "the subject is a key (0) or an account (1)");
                if (e.subject() == JournalEvent.RateLimitsSet.KEY) {
                    keyHash(event, e.id());
                } else {
                    id(event, e.id());
                }
                require(e.rpm() == -1 || e.rpm() >= 1 && e.rpm() <= MAX_PER_MINUTE, event, "rpm is -1 (none) or 1.." + MAX_PER_MINUTE);
                require(e.tpm() == -1 || e.tpm() >= 1 && e.tpm() <= MAX_PER_MINUTE, event, "tpm is -1 (none) or 1.." + MAX_PER_MINUTE);
                require(e.concurrency() == -1 || e.concurrency() >= 1 && e.concurrency() <= MAX_CONCURRENCY, event,
                        "concurrency is -1 (none) or 1.." + MAX_CONCURRENCY);
            }
            case JournalEvent.CredentialSet e -> {
                id(event, e.accountId());
                text(event, "provider", e.provider(), MAX_ID, true);
            }
            case CatalogLoaded e -> {
                require(isCatalogVersion(e.version()), event, "a catalog version is " + CATALOG_VERSION_LENGTH + " lower-case hex digits");
                text(event, "source", e.source(), MAX_CATALOG_SOURCE, true);
                require(e.rowCount() > 0, event, "a catalog has at least one row");
            }
            case JournalEvent.AlertSet e -> {
                require(e.subject() == JournalEvent.AlertSet.KEY || e.subject() == JournalEvent.AlertSet.ACCOUNT, event,
                        "the subject is a key (0) or an account (1)");
                if (e.subject() == JournalEvent.AlertSet.KEY) {
                    keyHash(event, e.id());
                    require(e.value() == -1 || e.value() >= 1 && e.value() <= 100, event, "a key's alert percentage is -1 (none) or 1..100");
                } else {
                    id(event, e.id());
                    require(e.value() >= -1, event, "a low-balance threshold is -1 (none) or at least 0 micros");
                }
            }
            case JournalEvent.AlertRaised e -> {
                require(e.window() != null, event, "missing window");
                id(event, e.accountId());
                keyHash(event, e.keyHash());
                require(e.window() == JournalEvent.AlertRaised.Window.TOTAL ? e.period() == 0
                        : e.window() == JournalEvent.AlertRaised.Window.BALANCE ? e.period() >= 0
                        : e.period() >= 0 && e.period() <= dev.tollgate.metering.SpendWindows.MAX_ALERT_PERIOD, event,
                        "a day or month period is 0.." + dev.tollgate.metering.SpendWindows.MAX_ALERT_PERIOD + ", a total's 0, a balance's count at least 0");
                require(e.amountMicros() >= 0, event, "negative amount");
                require(e.window() == JournalEvent.AlertRaised.Window.BALANCE ? e.limitMicros() == -1 : e.limitMicros() > 0, event,
                        "a cap's alert names the cap, a balance alert none");
                require(e.thresholdMicros() >= 0, event, "negative threshold");
            }
            case Authored e -> {
                text(event, "actor", e.actor(), MAX_LABEL, true);
                text(event, "note", e.note(), MAX_REASON, false);
                require(e.change() != null && AUTHORABLE.contains(e.change().type()), event, "carries no change an operator makes");
                require(e.change().timestampMs() == e.timestampMs(), event, "its change has another timestamp");
                validate(e.change());
            }
        }
    }

    private static void facts(JournalEvent event, RequestFacts facts) {
        require(facts != null, event, "missing request facts");
        text(event, "requestId", facts.requestId(), MAX_ID, true);
        id(event, facts.accountId());
        keyHash(event, facts.keyHash());
        text(event, "lane", facts.lane(), MAX_LANE, false);
        text(event, "provider", facts.provider(), MAX_ID, false);
        text(event, "model", facts.model(), MAX_MODEL, false);
        text(event, "endpoint", facts.endpoint(), MAX_ID, false);
        require(facts.startMs() >= 0 && facts.endMs() >= facts.startMs(), event, "request times out of order");
        text(event, "upstreamRequestId", facts.upstreamRequestId(), MAX_UPSTREAM_ID, false);
        require(facts.catalogVersion() != null && (facts.catalogVersion().isEmpty() || isCatalogVersion(facts.catalogVersion())), event,
                "a request's catalog version is empty or " + CATALOG_VERSION_LENGTH + " lower-case hex digits");
        text(event, "rowVersion", facts.rowVersion(), MAX_ROW_VERSION, false);
        text(event, "serviceTier", facts.serviceTier(), MAX_SERVICE_TIER, false);
        text(event, "requestedModel", facts.requestedModel(), MAX_MODEL, false);
        text(event, "attempts", facts.attempts(), MAX_ATTEMPTS, false);
        require(facts.priceMultiplierBps() >= 1 && facts.priceMultiplierBps() <= MAX_PRICE_MULTIPLIER_BPS, event,
                "a price multiplier is 1 to " + MAX_PRICE_MULTIPLIER_BPS + " basis points");
        require(facts.directCostMicros() >= RequestFacts.PREPAID && facts.directCostMicros() <= MAX_DIRECT_COST_MICROS, event,
                "a direct cost is -1 (prepaid) or 0 to " + MAX_DIRECT_COST_MICROS + " micros");
    }

    private static boolean isCatalogVersion(String version) {
        if (version == null || version.length() != CATALOG_VERSION_LENGTH) {
            return false;
        }
        int invalid = 0;
        for (int i = 0; i < CATALOG_VERSION_LENGTH; i++) {
            char c = version.charAt(i);
            invalid |= c < NOT_LOWER_HEX.length ? NOT_LOWER_HEX[c] : 1;
        }
        return invalid == 0;
    }

    private static void id(JournalEvent event, String accountId) {
        text(event, "accountId", accountId, MAX_ID, true);
    }

    private static void keyHash(JournalEvent event, String keyHash) {
        require(isKeyHash(keyHash), event, "a key hash is 64 lower-case hex digits");
    }

    /*
     * A table lookup and no early exit: with comparisons, whether each digit of a random hash is a
     * letter or a number is a branch the CPU mispredicts about every other character, which made
     * this check half of the whole replay's time (JFR, 10 million records).
     */
    private static boolean isKeyHash(String keyHash) {
        if (keyHash == null || keyHash.length() != 2 * KEY_HASH_BYTES) {
            return false;
        }
        int invalid = 0;
        for (int i = 0; i < 2 * KEY_HASH_BYTES; i++) {
            char c = keyHash.charAt(i);
            invalid |= c < NOT_LOWER_HEX.length ? NOT_LOWER_HEX[c] : 1;
        }
        return invalid == 0;
    }

    /** 0 for the characters of a lower-case hex digit, 1 for every other character below 128. */
    private static final byte[] NOT_LOWER_HEX = new byte[128];

    static {
        java.util.Arrays.fill(NOT_LOWER_HEX, (byte) 1);
        for (char c = '0'; c <= '9'; c++) {
            NOT_LOWER_HEX[c] = 0;
        }
        for (char c = 'a'; c <= 'f'; c++) {
            NOT_LOWER_HEX[c] = 0;
        }
    }

    /*
     * This runs for every string of every record appended and replayed, so it allocates nothing:
     * the messages are built only when a check fails, and the UTF-8 length is counted, not encoded.
     */
    private static void text(JournalEvent event, String field, String value, int maxBytes, boolean required) {
        if (value == null) {
            throw invalid(event, field + " is null");
        }
        if (required && value.isEmpty()) {
            throw invalid(event, field + " is empty");
        }
        if (utf8LongerThan(value, maxBytes)) {
            throw invalid(event, field + " longer than " + maxBytes + " bytes");
        }
    }

    /**
     * Whether {@code value} takes more than {@code limit} bytes in UTF-8 as {@link String#getBytes}
     * encodes it (an unpaired surrogate becomes one '?'), without encoding it.
     */
    static boolean utf8LongerThan(String value, int limit) {
        int chars = value.length();
        if (chars > limit) {
            return true; // every char takes at least one byte
        }
        if (chars * 3 <= limit) {
            return false; // none takes more than three (a surrogate pair is two chars for four bytes)
        }
        int any = 0;
        for (int i = 0; i < chars; i++) {
            any |= value.charAt(i);
        }
        if (any < 0x80) {
            return false; // all ASCII, one byte each: the common case, checked without a branch per char
        }
        int bytes = 0;
        for (int i = 0; i < chars; i++) {
            char c = value.charAt(i);
            if (c < 0x80) {
                bytes += 1;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < chars && Character.isLowSurrogate(value.charAt(i + 1))) {
                bytes += 4;
                i++;
            } else if (Character.isSurrogate(c)) {
                bytes += 1;
            } else {
                bytes += 3;
            }
        }
        return bytes > limit;
    }

    private static JournalFormatException invalid(JournalEvent event, String problem) {
        return new JournalFormatException(event.type() + " record invalid: " + problem);
    }

    private static void require(boolean condition, JournalEvent event, String problem) {
        if (!condition) {
            throw invalid(event, problem);
        }
    }

    private static void putString(ByteBuffer out, String value) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        out.putShort((short) bytes.length).put(bytes);
    }

    private static String getString(ByteBuffer in, int maxBytes) {
        int length = in.getShort() & 0xFFFF;
        if (length > maxBytes) {
            throw new JournalFormatException("string of " + length + " bytes where at most " + maxBytes + " are allowed");
        }
        if (length > in.remaining()) {
            // Checked before the bytes are read: new String would read past the body (into the next
            // bytes of the buffer, or out of its array) before the position check below could object.
            throw new JournalFormatException("string of " + length + " bytes where the body has only " + in.remaining() + " left");
        }
        String value = new String(in.array(), in.arrayOffset() + in.position(), length, StandardCharsets.UTF_8);
        in.position(in.position() + length);
        return value;
    }

    private static void putStrings(ByteBuffer out, java.util.List<String> values) {
        out.put((byte) values.size());
        for (String value : values) {
            putString(out, value);
        }
    }

    private static java.util.List<String> getStrings(ByteBuffer in, int maxCount, int maxBytes) {
        int count = in.get() & 0xFF;
        if (count > maxCount) {
            throw new JournalFormatException(count + " strings where at most " + maxCount + " are allowed");
        }
        String[] values = new String[count];
        for (int i = 0; i < count; i++) {
            values[i] = getString(in, maxBytes);
        }
        return java.util.List.of(values);
    }

    private static void putKeyHash(ByteBuffer out, String keyHash) {
        out.put(HEX.parseHex(keyHash));
    }

    private static String getKeyHash(ByteBuffer in) {
        byte[] bytes = new byte[KEY_HASH_BYTES];
        in.get(bytes);
        return HEX.formatHex(bytes);
    }

    private static void putFacts(ByteBuffer out, RequestFacts facts, int version) {
        putString(out, facts.requestId());
        putString(out, facts.accountId());
        putKeyHash(out, facts.keyHash());
        putString(out, facts.lane());
        putString(out, facts.provider());
        putString(out, facts.model());
        putString(out, facts.endpoint());
        out.putLong(facts.startMs()).putLong(facts.endMs());
        putString(out, facts.upstreamRequestId());
        if (version >= FACTS_WITH_CATALOG_VERSION) {
            putString(out, facts.catalogVersion());
        }
        if (version >= FACTS_WITH_ROW_VERSION) {
            putString(out, facts.rowVersion());
            putString(out, facts.serviceTier());
        }
        if (version >= FACTS_WITH_ROUTE) {
            putString(out, facts.requestedModel());
            putString(out, facts.attempts());
            out.putInt(facts.priceMultiplierBps());
        }
        if (version >= FACTS_WITH_BILLING) {
            out.putLong(facts.directCostMicros());
        }
    }

    private static RequestFacts getFacts(ByteBuffer in, int version) {
        return new RequestFacts(getString(in, MAX_ID), getString(in, MAX_ID), getKeyHash(in), getString(in, MAX_LANE), getString(in, MAX_ID),
                getString(in, MAX_MODEL), getString(in, MAX_ID), in.getLong(), in.getLong(), getString(in, MAX_UPSTREAM_ID),
                version >= FACTS_WITH_CATALOG_VERSION ? getString(in, CATALOG_VERSION_LENGTH) : "",
                version >= FACTS_WITH_ROW_VERSION ? getString(in, MAX_ROW_VERSION) : "",
                version >= FACTS_WITH_ROW_VERSION ? getString(in, MAX_SERVICE_TIER) : "",
                version >= FACTS_WITH_ROUTE ? getString(in, MAX_MODEL) : "",
                version >= FACTS_WITH_ROUTE ? getString(in, MAX_ATTEMPTS) : "",
                version >= FACTS_WITH_ROUTE ? in.getInt() : RequestFacts.NO_MULTIPLIER_BPS,
                version >= FACTS_WITH_BILLING ? in.getLong() : RequestFacts.PREPAID);
    }
}
