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
 * given up) is kept in a cursor file beside the journal and written (and forced to disk) after each one, so an alert is
 * sent again only if the node stopped between sending it and writing the file; the receiver dedupes those on the event id.
 *
 * <p>A 2xx answer delivers an alert. Any other answer, a timeout or a connection failure is tried again after a backoff
 * that doubles from {@code initialBackoffMs} to {@code maxBackoffMs} with half jitter, up to {@code maxAttempts} in
 * all; 400, 410 and 413 are not tried again (the receiver will not take this body), while other 4xx are (a receiver
 * being deployed answers 404, one whose secret is being rotated 401). An alert given up is logged and counted, and
 * delivery goes on with the next one. Alerts are delivered one at a time, in journal order. A failure of the tailer
 * itself (the cursor file not writable, a journal it cannot read) is logged, counted, and tried again.
 *
 * <p>On the first start with a webhook (no cursor file), delivery begins at the end of the journal: alerts raised
 * before the webhook existed are not sent. A cursor file that cannot be read is replaced by the journal's beginning
 * (every alert delivered again, each with its id, rather than one lost); a cursor past the journal's end (a machine
 * crash lost the journal's last records) by the end.
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

        /** The tailer itself failed (it tries again after a pause). */
        void tailerFailed();
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
    private final long startAfterIndex;

    private AlertWebhook(AlertsConfig.Webhook config, Journal journal, Ledger ledger, String currency, Path cursorFile, Listener listener,
                         LongSupplier clockMs, long startAfterIndex) {
        this.startAfterIndex = startAfterIndex;
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
        long position;
        long lastIndex = journal.lastIndex();
        if (!Files.exists(cursorFile)) {
            position = lastIndex;
        } else {
            try {
                position = Long.parseUnsignedLong(Files.readString(cursorFile).strip(), 16);
            } catch (IOException | NumberFormatException e) {
                LOG.warn("the alert webhook's cursor {} cannot be read ({}): delivering every alert of the journal again, each with its id",
                        cursorFile, e.toString());
                position = -1;
            }
            if (position > lastIndex) {
                LOG.warn("the alert webhook's cursor {} is past the journal's end {}: going on from the end", Long.toHexString(position),
                        Long.toHexString(lastIndex));
                position = lastIndex;
            }
        }
        AlertWebhook webhook = new AlertWebhook(config, journal, ledger, currency, cursorFile, listener, clockMs, position);
        webhook.saveCursor(position);
        webhook.thread.start();
        return webhook;
    }

    private record Pending(long index, AlertRaised alert) {
    }

    private void run() {
        long position = startAfterIndex;
        while (running) {
            try {
                position = tail(position);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                if (!running) {
                    return;
                }
                LOG.error("alert webhook delivery failed, trying again in 5 s: {}", e.toString());
                listener.tailerFailed();
                try {
                    Thread.sleep(5_000);
                } catch (InterruptedException stopped) {
                    return;
                }
            }
        }
    }

    /** Delivers from after {@code position} until stopped; returns the position reached (or throws). */
    private long tail(long from) throws InterruptedException {
        long position = from;
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
                        return saved; // stopping: this alert is delivered after the restart
                    }
                    saveCursor(alert.index());
                    saved = alert.index();
                    position = saved;
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
            return position;
        }
    }

    /** Tries one alert until it is delivered or given up (true), or the node stops (false). */
    private boolean deliver(Pending pending) throws InterruptedException {
        String eventId = AlertEvent.id(pending.alert());
        byte[] body = AlertEvent.body(pending.alert(), ledger, currency);
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
                retry = status != 400 && status != 410 && status != 413;
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

    /** Written whole, forced to disk and then moved into place, so a crash leaves the old position or the new one. */
    private void saveCursor(long index) {
        Path temporary = cursorFile.resolveSibling(CURSOR_FILE + ".tmp");
        try {
            try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(temporary, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
                channel.write(java.nio.ByteBuffer.wrap((Long.toHexString(index) + "\n").getBytes(StandardCharsets.US_ASCII)));
                channel.force(true);
            }
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
            // The tailer reads the journal: it must be gone before the journal closes. An attempt in flight ends with
            // its timeout at the latest.
            thread.join(config.timeoutMs() + 10_000L);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.warn("the alert webhook's tailer did not stop in time");
        }
    }
}
