package dev.tollgate.proxy.alerts;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.journal.JournalEvent.AlertRaised;
import dev.tollgate.journal.JournalEvent.AlertRaised.Window;
import dev.tollgate.journal.Ledger;
import dev.tollgate.proxy.admin.AdminApi;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.Locale;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * One raised alert as the outside world sees it: the webhook's JSON body, its event id, its signature, and the log
 * line. The event id names the crossing itself (the key's window and period, or the account and the how-many-th
 * low-balance alert), not where its record sits, so every delivery of one crossing carries the same id, also when a
 * crash made the journal lose the record and the next settlement raised the same crossing again: the receiver dedupes on it.
 */
public final class AlertEvent {
    public static final String SIGNATURE_HEADER = "Tollgate-Signature";
    public static final String EVENT_ID_HEADER = "Tollgate-Event-Id";
    private static final ObjectMapper JSON = new ObjectMapper();

    private AlertEvent() {
    }

    /** {@code alrt_} and 24 hex digits of the SHA-256 of what crossed: the window, the key (or account) and the period. */
    public static String id(AlertRaised alert) {
        String crossing = alert.window().name() + '|' + (alert.window() == Window.BALANCE ? alert.accountId() : alert.keyHash()) + '|' + alert.period();
        try {
            byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest(crossing.getBytes(StandardCharsets.UTF_8));
            return "alrt_" + HexFormat.of().formatHex(digest, 0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code key.spend_alert} for a key's cap, {@code account.low_balance} for an account's balance. */
    public static String type(AlertRaised alert) {
        return alert.window() == Window.BALANCE ? "account.low_balance" : "key.spend_alert";
    }

    /** The webhook's body: what crossed what, in integer micro-units; never a secret. */
    public static byte[] body(AlertRaised alert, Ledger ledger, String currency) {
        ObjectNode node = JSON.createObjectNode();
        node.put("id", id(alert));
        node.put("type", type(alert));
        node.put("created_at", Instant.ofEpochMilli(alert.timestampMs()).toString());
        node.put("account", alert.accountId());
        ObjectNode key = node.putObject("key");
        key.put("id", AdminApi.keyId(alert.keyHash()));
        Ledger.KeyRecord record = ledger.keyRecord(alert.keyHash());
        key.put("label", record == null ? "" : record.label());
        node.put("currency", currency);
        if (alert.window() == Window.BALANCE) {
            node.put("threshold_micros", alert.thresholdMicros());
            node.put("balance_micros", alert.amountMicros());
        } else {
            node.put("window", alert.window().name().toLowerCase(Locale.ROOT));
            if (alert.window() == Window.TOTAL) {
                node.putNull("period_start");
            } else {
                node.put("period_start", periodStart(alert).toString());
            }
            node.put("cap_micros", alert.limitMicros());
            node.put("threshold_micros", alert.thresholdMicros());
            node.put("used_micros", alert.amountMicros()); // held plus debited, as the cap counts it
        }
        try {
            return JSON.writeValueAsBytes(node);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Instant periodStart(AlertRaised alert) {
        LocalDate day = alert.window() == Window.DAY ? LocalDate.ofEpochDay(alert.period())
                : LocalDate.of(1970 + alert.period() / 12, alert.period() % 12 + 1, 1);
        return day.atStartOfDay(ZoneOffset.UTC).toInstant();
    }

    /**
     * {@code t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">}, as Stripe signs its webhooks: the receiver recomputes
     * it with the shared secret, and the timestamp lets it refuse an old delivery replayed.
     */
    public static String signature(byte[] secret, long unixSeconds, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            mac.update((unixSeconds + ".").getBytes(StandardCharsets.US_ASCII));
            return "t=" + unixSeconds + ",v1=" + HexFormat.of().formatHex(mac.doFinal(body));
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The log line of an alert raised on this node: ids, amounts and the key's label, never a secret. */
    public static String logLine(AlertRaised alert, String keyLabel) {
        String key = AdminApi.keyId(alert.keyHash()) + (keyLabel == null || keyLabel.isEmpty() ? "" : " (" + keyLabel + ")");
        if (alert.window() == Window.BALANCE) {
            return "alert: account " + alert.accountId() + " balance " + alert.amountMicros() + " micros is below its low-balance threshold of "
                    + alert.thresholdMicros() + " micros (after a debit by key " + key + ")";
        }
        return "alert: key " + key + " of account " + alert.accountId() + " used (held plus debited) " + alert.amountMicros() + " micros of its "
                + alert.window().name().toLowerCase(Locale.ROOT) + " cap of " + alert.limitMicros() + " micros (alert at "
                + alert.thresholdMicros() + ")";
    }
}
