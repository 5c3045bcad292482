package dev.tollgate.journal.reconcile;

import dev.tollgate.journal.JournalEvent;
import dev.tollgate.journal.JournalEvent.AccountOpened;
import dev.tollgate.journal.JournalEvent.Authored;
import dev.tollgate.journal.JournalEvent.Adjusted;
import dev.tollgate.journal.JournalEvent.CreditAdded;
import dev.tollgate.journal.JournalEvent.KeyIssued;
import dev.tollgate.journal.JournalEvent.KeyRevoked;
import dev.tollgate.journal.JournalEvent.Released;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.JournalEvent.ReservationExtended;
import dev.tollgate.journal.JournalEvent.ReservationMade;
import dev.tollgate.journal.JournalEvent.Settled;
import dev.tollgate.journal.JournalEvent.UsageDrift;
import java.time.Instant;

/**
 * One journal record as one line of text, for {@code journal dump}. The journal holds no secret,
 * but key hashes are shown only as their first {@value #KEY_PREFIX_LENGTH} hex digits anyway: enough to
 * tell keys apart, not enough to look one up elsewhere.
 */
public final class RecordFormat {
    public static final int KEY_PREFIX_LENGTH = 8;

    private RecordFormat() {
    }

    public static String line(long index, JournalEvent event) {
        StringBuilder line = new StringBuilder(200);
        // An operator's change reads as the change itself, followed by who made it.
        line.append(Long.toHexString(index)).append(' ').append(Instant.ofEpochMilli(event.timestampMs())).append(' ').append(event.change().type());
        fields(line, event.change());
        if (event instanceof Authored authored) {
            field(line, "by", authored.actor());
            if (!authored.note().isEmpty()) {
                field(line, "note", authored.note());
            }
        }
        return line.toString();
    }

    private static void fields(StringBuilder line, JournalEvent event) {
        switch (event) {
            case AccountOpened e -> field(line, "account", e.accountId());
            case CreditAdded e -> {
                field(line, "account", e.accountId());
                field(line, "amount_micros", e.amountMicros());
                field(line, "idempotency_key", e.idempotencyKey());
            }
            case Adjusted e -> {
                field(line, "account", e.accountId());
                field(line, "amount_micros", e.amountMicros());
                field(line, "reason", e.reason());
                field(line, "idempotency_key", e.idempotencyKey());
            }
            case KeyIssued e -> {
                field(line, "key", key(e.keyHash()));
                field(line, "display_prefix", e.displayPrefix());
                field(line, "label", e.label());
                field(line, "account", e.accountId());
            }
            case KeyRevoked e -> field(line, "key", key(e.keyHash()));
            case ReservationMade e -> {
                field(line, "reservation", e.reservationId());
                field(line, "account", e.accountId());
                field(line, "key", key(e.keyHash()));
                field(line, "amount_micros", e.amountMicros());
                field(line, "request", e.requestId());
            }
            case ReservationExtended e -> {
                field(line, "reservation", e.reservationId());
                field(line, "amount_micros", e.amountMicros());
            }
            case Settled e -> {
                field(line, "reservation", e.reservationId());
                facts(line, e.request());
                field(line, "input", e.usage().inputTokens());
                field(line, "cache_read", e.usage().cacheReadTokens());
                field(line, "cache_write", e.usage().cacheWriteTokens());
                field(line, "output", e.usage().outputTokens());
                field(line, "reasoning", e.usage().reasoningTokens());
                field(line, "usage_reported", e.usageReportedByProvider() ? "provider" : "tollgate");
                field(line, "cost_micros", e.costMicros());
                field(line, "debited_micros", e.debitedMicros());
                field(line, "written_off_micros", e.writtenOffMicros());
                field(line, "reason", e.reason());
            }
            case Released e -> {
                field(line, "reservation", e.reservationId());
                facts(line, e.request());
                field(line, "reason", e.reason());
            }
            case UsageDrift e -> {
                field(line, "reservation", e.reservationId());
                field(line, "reported_input", e.reported().inputTokens());
                field(line, "reported_output", e.reported().outputTokens());
                field(line, "reported_reasoning", e.reported().reasoningTokens());
                field(line, "billed_input", e.billed().inputTokens());
                field(line, "billed_output", e.billed().outputTokens());
                field(line, "billed_reasoning", e.billed().reasoningTokens());
            }
            case JournalEvent.KeyLimitsSet e -> {
                field(line, "key", key(e.keyHash()));
                field(line, "day_cap_micros", e.dayCapMicros());
                field(line, "month_cap_micros", e.monthCapMicros());
                field(line, "total_cap_micros", e.totalCapMicros());
            }
            case JournalEvent.KeyScopeSet e -> {
                field(line, "key", key(e.keyHash()));
                field(line, "label", e.label());
                field(line, "env", e.env());
                field(line, "lane", e.lane());
                field(line, "models", String.join(",", e.models()));
                field(line, "expires", e.expiresAtMs() < 0 ? "never" : Instant.ofEpochMilli(e.expiresAtMs()).toString());
                field(line, "networks", String.join(",", e.networks()));
            }
            case JournalEvent.KeyRotated e -> {
                field(line, "key", key(e.keyHash()));
                field(line, "new_secret", key(e.newSecretHash()));
                field(line, "previous_valid_until", Instant.ofEpochMilli(e.previousValidUntilMs()).toString());
            }
            case JournalEvent.RateLimitsSet e -> {
                field(line, e.subject() == JournalEvent.RateLimitsSet.KEY ? "key" : "account",
                        e.subject() == JournalEvent.RateLimitsSet.KEY ? key(e.id()) : e.id());
                field(line, "rpm", e.rpm());
                field(line, "tpm", e.tpm());
                field(line, "concurrency", e.concurrency());
            }
            case JournalEvent.CredentialSet e -> {
                field(line, "account", e.accountId());
                field(line, "provider", e.provider());
                field(line, "credential", e.removed() ? "removed" : "set");
            }
            case JournalEvent.CatalogLoaded e -> {
                field(line, "catalog_version", e.version());
                field(line, "source", e.source());
                field(line, "rows", e.rowCount());
            }
            case JournalEvent.AlertSet e -> {
                boolean key = e.subject() == JournalEvent.AlertSet.KEY;
                field(line, key ? "key" : "account", key ? key(e.id()) : e.id());
                field(line, key ? "alert_percent" : "low_balance_threshold_micros", e.value());
            }
            case JournalEvent.AlertRaised e -> {
                field(line, "account", e.accountId());
                field(line, "key", key(e.keyHash()));
                field(line, "window", e.window().name().toLowerCase(java.util.Locale.ROOT));
                field(line, "period", e.period());
                field(line, "limit", e.limitMicros());
                field(line, "threshold", e.thresholdMicros());
                field(line, "amount", e.amountMicros());
            }
            case Authored e -> fields(line, e.change());
        }
    }

    private static void facts(StringBuilder line, RequestFacts facts) {
        field(line, "request", facts.requestId());
        field(line, "account", facts.accountId());
        field(line, "key", key(facts.keyHash()));
        field(line, "lane", facts.lane());
        field(line, "provider", facts.provider());
        field(line, "model", facts.model());
        field(line, "endpoint", facts.endpoint());
        field(line, "started", Instant.ofEpochMilli(facts.startMs()).toString());
        field(line, "ended", Instant.ofEpochMilli(facts.endMs()).toString());
        field(line, "upstream_id", facts.upstreamRequestId());
        if (!facts.catalogVersion().isEmpty()) {
            field(line, "catalog_version", facts.catalogVersion());
        }
        if (!facts.requestedModel().isEmpty()) {
            field(line, "requested_model", facts.requestedModel());
        }
        if (!facts.attempts().isEmpty()) {
            field(line, "attempts_before", facts.attempts());
        }
        if (facts.priceMultiplierBps() != RequestFacts.NO_MULTIPLIER_BPS) {
            field(line, "price_multiplier_bps", facts.priceMultiplierBps());
        }
        if (facts.direct()) {
            field(line, "billed_by", facts.billedBy());
            field(line, "direct_cost_micros", facts.directCostMicros());
        }
    }

    /** The first {@value #KEY_PREFIX_LENGTH} hex digits of a key hash. */
    public static String key(String keyHash) {
        return keyHash.length() <= KEY_PREFIX_LENGTH ? keyHash : keyHash.substring(0, KEY_PREFIX_LENGTH) + "..";
    }

    private static void field(StringBuilder line, String name, long value) {
        line.append(' ').append(name).append('=').append(value);
    }

    private static void field(StringBuilder line, String name, String value) {
        line.append(' ').append(name).append('=');
        boolean plain = !value.isEmpty() && value.chars().allMatch(c -> c > ' ' && c != '"' && c != '\\' && c < 0x7f);
        if (plain) {
            line.append(value);
            return;
        }
        line.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> line.append("\\\"");
                case '\\' -> line.append("\\\\");
                case '\n' -> line.append("\\n");
                case '\r' -> line.append("\\r");
                case '\t' -> line.append("\\t");
                default -> {
                    if (c < ' ' || c == 0x7f) {
                        line.append(String.format("\\u%04x", (int) c));
                    } else {
                        line.append(c);
                    }
                }
            }
        }
        line.append('"');
    }
}
