package dev.tollgate.config;

import java.net.URI;

/**
 * Where soft alerts go besides the log and {@code /metrics}: an optional webhook, delivered from the journal.
 *
 * @param webhook the webhook, or null for none
 */
public record AlertsConfig(Webhook webhook) {
    public static final AlertsConfig NONE = new AlertsConfig(null);

    /**
     * A URL that is sent each alert as JSON, signed with HMAC-SHA256 under a secret from the environment.
     *
     * @param url              where alerts are POSTed
     * @param secret           the signing secret (read from {@code secretEnv}, never from a file)
     * @param maxAttempts      how often one alert is tried before it is given up (logged and counted)
     * @param initialBackoffMs the wait after the first failed attempt; it doubles up to {@code maxBackoffMs}, with jitter
     * @param maxBackoffMs     the longest wait between attempts
     * @param timeoutMs        how long one attempt may take
     */
    public record Webhook(URI url, Secret secret, int maxAttempts, int initialBackoffMs, int maxBackoffMs, int timeoutMs) {
        public static final String DEFAULT_SECRET_ENV = "TOLLGATE_ALERT_WEBHOOK_SECRET";
        public static final int DEFAULT_MAX_ATTEMPTS = 24; // about 20 minutes with the default backoff
        public static final int DEFAULT_INITIAL_BACKOFF_MS = 1_000;
        public static final int DEFAULT_MAX_BACKOFF_MS = 60_000;
        public static final int DEFAULT_TIMEOUT_MS = 5_000;
    }
}
