package dev.tollgate.proxy.alerts;

import dev.tollgate.config.AlertsConfig;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent.AlertRaised;
import dev.tollgate.journal.Ledger;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers every alert the journal records to the configured webhook, from a tailer of its own: an alert raised just
 * before a crash is in the journal, so it is delivered after the restart. The position of the last alert delivered (or
 * given up) is kept in a cursor file beside the journal and written after each one, so an alert is sent again only if
 * the node stopped between sending it and writing the file; the receiver dedupes those on the event id.
 *
 * <p>A 2xx answer delivers an alert. Any other answer, a timeout or a connection failure is tried again after a backoff
 * that doubles from {@code initialBackoffMs} to {@code maxBackoffMs} with full jitter, up to {@code maxAttempts} in
 * all; a 4xx other than 408 and 429 is not tried again (the receiver will not change its mind). An alert given up is
 * logged and counted, and delivery goes on with the next one. Alerts are delivered one at a time, in journal order.
 *
 * <p>On the first start with a webhook (no cursor file), delivery begins at the end of the journal: alerts raised
 * before the webhook existed are not sent.
 */
public final class AlertWebhook implements AutoCloseable {
    /** The cursor file, in the journal's directory: the journal index of the last record handled, in hex. */
    public static final String CURSOR_FILE = "alert-webhook.cursor";
    private static final Logger LOG = LoggerFactory.getLogger(AlertWebhook.class);
    private static final int BATCH_RECORDS = 256;
    private static final long IDLE_POLL_MS = 200;
    /** How often the cursor moves on over records that are not alerts, so a restart need not re-read them all. */
    private static final long CURSOR_SAVE_INTERVAL_MS = 5_000;

    /** What deliveries did, for the node's metrics. */
    public interface Listener {
        void delivered(int attempts);

        void failedAttempt();

        void givenUp();
    }

    private final AlertsConfig.Webhook config;
    private final Journal journal;
    private final Ledger ledger;
    private final String currency;
    private final Path cursorFile;
    private final Listener listener;
    private final LongSupplier clockMs;
    private final HttpClient client;
    private final Thread thread;
    private volatile boolean running = true;

    private AlertWebhook(AlertsConfig.Webhook config, Journal journal, Ledger ledger, String currency, Path cursorFile, Listener listener,
                         LongSupplier clockMs) {
        this.config = config;
        this.journal = journal;
        this.ledger = ledger;
        this.currency = currency;
        this.cursorFile = cursorFile;
        this.listener = listener;
        this.clockMs = clockMs;
        this.client = HttpClient.newBuilder().connectTimeout(Duration.ofMillis(config.timeoutMs()))
                .followRedirects(HttpClient.Redirect.NEVER).build();
        this.thread = Thread.ofPlatform().daemon().name("tollgate-alert-webhook").unstarted(this::run);
    }

    /** Starts delivering, from the cursor file's position (the journal's end if there is none yet). */
    public static AlertWebhook start(AlertsConfig.Webhook config, Journal journal, Ledger ledger, String currency, Listener listener,
                                     LongSupplier clockMs) {
        Path cursorFile = journal.directory().resolve(CURSOR_FILE);
        AlertWebhook webhook = new AlertWebhook(config, journal, ledger, currency, cursorFile, listener, clockMs);
        if (!Files.exists(cursorFile)) {
            webhook.saveCursor(journal.lastIndex());
        }
        webhook.thread.start();
        return webhook;
    }

    private record Pending(long index, AlertRaised alert) {
    }

    private void run() {
        long position = readCursor();
        long savedAt = clockMs.getAsLong();
        long saved = position;
        try (Journal.Cursor cursor = journal.cursor(null)) {
            cursor.seekAfter(position);
            List<Pending> pending = new ArrayList<>();
            long[] last = {position};
            while (running) {
                pending.clear();
                long read = cursor.read(BATCH_RECORDS, (index, event) -> {
                    last[0] = index;
                    if (event instanceof AlertRaised alert) {
                        pending.add(new Pending(index, alert));
                    }
                });
                for (Pending alert : pending) {
                    if (!deliver(alert)) {
                        return; // stopping: this alert is delivered after the restart
                    }
                    saveCursor(alert.index());
                    saved = alert.index();
                    savedAt = clockMs.getAsLong();
                }
                position = last[0];
                if (position != saved && clockMs.getAsLong() - savedAt >= CURSOR_SAVE_INTERVAL_MS) {
                    saveCursor(position);
                    saved = position;
                    savedAt = clockMs.getAsLong();
                }
                if (read == 0) {
                    Thread.sleep(IDLE_POLL_MS);
                }
            }
            if (position != saved) {
                saveCursor(position);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            if (running) {
                LOG.error("alert webhook delivery stopped: {}", e.toString());
            }
        }
    }

    /** Tries one alert until it is delivered or given up (true), or the node stops (false). */
    private boolean deliver(Pending pending) throws InterruptedException {
        String eventId = AlertEvent.id(pending.index());
        byte[] body = AlertEvent.body(pending.index(), pending.alert(), ledger, currency);
        byte[] secret = config.secret().reveal().getBytes(StandardCharsets.UTF_8);
        long backoffMs = config.initialBackoffMs();
        for (int attempt = 1; running; attempt++) {
            String outcome;
            boolean retry;
            try {
                HttpRequest request = HttpRequest.newBuilder(config.url()).timeout(Duration.ofMillis(config.timeoutMs()))
                        .header("Content-Type", "application/json")
                        .header("User-Agent", "Tollgate-Alerts/1")
                        .header(AlertEvent.EVENT_ID_HEADER, eventId)
                        .header(AlertEvent.SIGNATURE_HEADER, AlertEvent.signature(secret, clockMs.getAsLong() / 1000, body))
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
                int status = client.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
                if (status >= 200 && status < 300) {
                    listener.delivered(attempt);
                    return true;
                }
                outcome = "HTTP " + status;
                retry = status >= 500 || status == 408 || status == 429;
            } catch (IOException e) {
                outcome = e.getClass().getSimpleName();
                retry = true;
            }
            listener.failedAttempt();
            if (!retry || attempt >= config.maxAttempts()) {
                LOG.warn("alert {} ({}) given up after {} attempt(s) to {}: {}", eventId, AlertEvent.type(pending.alert()), attempt,
                        config.url().getHost(), outcome);
                listener.givenUp();
                return true;
            }
            long waitMs = ThreadLocalRandom.current().nextLong(backoffMs / 2, backoffMs + 1); // jittered, never near zero
            LOG.info("alert {} attempt {} to {} failed ({}); next in {} ms", eventId, attempt, config.url().getHost(), outcome, waitMs);
            Thread.sleep(waitMs);
            backoffMs = Math.min(config.maxBackoffMs(), backoffMs * 2);
        }
        return false;
    }

    private long readCursor() {
        try {
            return Long.parseUnsignedLong(Files.readString(cursorFile).strip(), 16);
        } catch (IOException | NumberFormatException e) {
            throw new IllegalStateException("cannot read the alert webhook's cursor " + cursorFile + ": " + e.getMessage(), e);
        }
    }

    /** Written whole and then moved into place, so a crash leaves the old position or the new one, never half of one. */
    private void saveCursor(long index) {
        Path temporary = cursorFile.resolveSibling(CURSOR_FILE + ".tmp");
        try {
            Files.writeString(temporary, Long.toHexString(index) + "\n");
            Files.move(temporary, cursorFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write the alert webhook's cursor " + cursorFile + ": " + e.getMessage(), e);
        }
    }

    /** Stops; an alert being tried is tried again after the next start (the receiver dedupes on its id). */
    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
