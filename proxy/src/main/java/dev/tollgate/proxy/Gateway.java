package dev.tollgate.proxy;

import dev.tollgate.config.AccountConfig;
import dev.tollgate.config.Limits;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.journal.Ledger;
import dev.tollgate.metering.AccountBook;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.ModelRoutes;
import dev.tollgate.metering.request.Admission;
import dev.tollgate.proxy.accesslog.AccessLog;
import dev.tollgate.proxy.metrics.NodeMetrics;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;

/**
 * The state every connection of one node shares: the journaled ledger (accounts, balances, keys),
 * routes, admission rules, and where outcomes go. Built once at start-up, after recovery.
 */
public final class Gateway {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Gateway.class);
    /** The idempotency key of an account's opening credit from the configuration: applied once, ever. */
    static final String OPENING_CREDIT_KEY = "config-opening-credit";

    private final TollgateConfig config;
    private final Ledger ledger;
    private final ModelRoutes routes;
    private final Admission admission;
    private final Consumer<Outcome> outcomes;
    private final NodeMetrics metrics;
    private final AccessLog accessLog;

    /**
     * Brings the recovered ledger in line with the configuration: accounts it names are opened with
     * their opening credit (once: a restart does not credit them again), its keys are issued, and
     * configuration keys no longer in it are revoked (keys issued through the admin API are left alone).
     *
     * @param outcomes receives every settle and release, on the event loop that produced it: keep it short
     */
    public Gateway(TollgateConfig config, Ledger ledger, Consumer<Outcome> outcomes) {
        this(config, ledger, outcomes, AccessLog.DISABLED);
    }

    /** @param accessLog where each request's line goes ({@link AccessLog#DISABLED}: nowhere); its owner closes it */
    public Gateway(TollgateConfig config, Ledger ledger, Consumer<Outcome> outcomes, AccessLog accessLog) {
        this.config = config;
        this.ledger = ledger;
        this.routes = new ModelRoutes(config.catalog(), config.providers());
        this.admission = new Admission(config.limits());
        this.outcomes = Objects.requireNonNull(outcomes);
        this.metrics = new NodeMetrics(config, ledger);
        this.accessLog = Objects.requireNonNull(accessLog);
        metrics.watch(accessLog);
        if (config.journal() != null) {
            ledger.writer().health().requireFreeBytes(config.journal().minFreeBytes());
        }
        Set<String> configuredKeys = new HashSet<>();
        for (AccountConfig account : config.accounts()) {
            ledger.openAccount(account.id());
            if (account.openingCreditMicros() > 0) {
                ledger.credit(account.id(), account.openingCreditMicros(), OPENING_CREDIT_KEY);
            }
            for (AccountConfig.KeyConfig key : account.keys()) {
                configuredKeys.add(key.sha256Hex());
                Ledger.KeyRecord known = ledger.keyRecord(key.sha256Hex());
                if (known != null && known.revoked()) {
                    // Revoked through the admin API (a leak, say): the file does not bring it back; a new key does.
                    LOG.warn("key {} of account {} in the configuration was revoked through the admin API and stays revoked", key.label(), account.id());
                    continue;
                }
                ledger.issueKey(key.sha256Hex(), "", key.label(), account.id());
            }
        }
        // Keys the admin API issued (they carry a shown prefix) are the operator's; only configuration keys follow the file.
        for (Ledger.KeyRecord key : ledger.keyRecords()) {
            if (!key.revoked() && key.displayPrefix().isEmpty() && !configuredKeys.contains(key.keyHash())) {
                ledger.revokeKey(key.keyHash());
            }
        }
    }

    public Ledger ledger() {
        return ledger;
    }

    public TollgateConfig config() {
        return config;
    }

    public Limits limits() {
        return config.limits();
    }

    public AccountBook accounts() {
        return ledger.accounts();
    }

    public ApiKeys keys() {
        return ledger.keys();
    }

    public ModelRoutes routes() {
        return routes;
    }

    public Admission admission() {
        return admission;
    }

    /** This node's Prometheus metrics (the /metrics page). */
    public NodeMetrics metrics() {
        return metrics;
    }

    /** One JSON line per request, or {@link AccessLog#DISABLED}: check {@link AccessLog#enabled()} before building a line. */
    public AccessLog accessLog() {
        return accessLog;
    }

    /**
     * Why this node should not be sent requests now, or null when it is ready: the journal must take records,
     * or nothing admitted could be charged. (Recovery is over once a Gateway exists.)
     */
    public String notReadyReason() {
        return ledger.writer().health().acceptingRecords() ? null : "journal_not_accepting_records";
    }

    /** Counts the outcome in the metrics, then hands it to the outcome listener. */
    public void publish(Outcome outcome) {
        metrics.outcome(outcome);
        outcomes.accept(outcome);
    }

    /** A request id unique enough to find one request in logs: {@code tg_req_} and 16 random hex digits. */
    public static String newRequestId() {
        return "tg_req_" + Long.toHexString(ThreadLocalRandom.current().nextLong() | Long.MIN_VALUE);
    }
}
