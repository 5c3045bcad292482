package dev.tollgate.proxy;

import dev.tollgate.config.AccountConfig;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.ConfigException;
import dev.tollgate.config.ConfigLoader;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.config.Limits;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.journal.Ledger;
import dev.tollgate.metering.AccountBook;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.ModelRoutes;
import dev.tollgate.metering.request.Admission;
import dev.tollgate.proxy.accesslog.AccessLog;
import dev.tollgate.proxy.lanes.Lanes;
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

    /**
     * The configuration with the catalog in force, the routes built from it, and when it took effect: one reference, so
     * a reader never sees a catalog with another's routes. A reload replaces it; a request keeps the route it found.
     */
    private volatile Pricing pricing;
    private final dev.tollgate.proxy.upstream.UpstreamBreakers breakers;
    private final Ledger ledger;
    private final Admission admission;
    private final Consumer<Outcome> outcomes;
    private final NodeMetrics metrics;
    private final AccessLog accessLog;
    private final Lanes lanes;
    /**
     * The node's wall clock (epoch milliseconds) for what prices depend on: when a request arrived (its price set and
     * time window, and the facts the journal keeps) and which prices a reload may no longer change. Replaceable
     * ({@link #useClock}) so a test or a simulation can admit requests on either side of a price change.
     */
    private volatile java.util.function.LongSupplier clockMs = System::currentTimeMillis;
    /** The accounts' own provider credentials for direct routes; replaceable ({@link #useCredentials}) for tests. */
    private volatile dev.tollgate.proxy.credentials.ProviderCredentials credentials;

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
        this.ledger = ledger;
        this.pricing = Pricing.of(config, System.currentTimeMillis());
        this.breakers = new dev.tollgate.proxy.upstream.UpstreamBreakers(config.providers(), config.routing().breaker(), java.time.Clock.systemUTC());
        this.admission = new Admission(config.limits());
        this.lanes = new Lanes(config);
        this.outcomes = Objects.requireNonNull(outcomes);
        this.metrics = new NodeMetrics(config, ledger);
        this.accessLog = Objects.requireNonNull(accessLog);
        // Beside the journal, so a node's credentials live and move with its ledger; none can be kept without a master key.
        this.credentials = dev.tollgate.proxy.credentials.ProviderCredentials.open(config.journal() == null ? null : config.journal().directory(),
                System::getenv);
        metrics.watch(accessLog);
        metrics.watch(lanes);
        metrics.watch(breakers);
        if (config.journal() != null) {
            ledger.writer().health().requireFreeBytes(config.journal().minFreeBytes());
        }
        // No check here that this catalog keeps the prices applied before the restart: the journal names each debit's
        // catalog version and row version, not the prices, so there is no old catalog to compare with. A reload checks.
        // Before any request is admitted at it, so every debit naming this version follows its record.
        PriceCatalog catalog = config.catalog();
        if (ledger.recordCatalog(catalog.version(), catalog.source(), catalog.rows().size(), null)) {
            LOG.info("price catalog {} ({}, {} rows) journaled as loaded", catalog.version(), catalog.source(), catalog.rows().size());
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
        for (Ledger.KeyRecord key : ledger.keyRecords()) {
            String tag = key.revoked() ? "" : ledger.scope(key.keyHash()).lane();
            if (!tag.isEmpty() && !lanes.declares(tag)) {
                // Tagged before lanes existed, or its lane left the configuration: it runs in the first lane until it is re-tagged.
                LOG.warn("key {} ({}) is tagged with lane {}, which is not declared; it runs in lane {}", key.label(),
                        dev.tollgate.proxy.admin.AdminApi.keyId(key.keyHash()), tag, lanes.first().name());
            }
        }
    }

    public Ledger ledger() {
        return ledger;
    }

    /** Now by the gateway's clock, epoch milliseconds. */
    public long nowMs() {
        return clockMs.getAsLong();
    }

    /** Makes {@code clockMs} the gateway's clock (see {@link #nowMs()}): for tests and simulations; a node uses the system's. */
    public void useClock(java.util.function.LongSupplier clockMs) {
        this.clockMs = Objects.requireNonNull(clockMs);
    }

    /** The accounts' own provider credentials, for direct routes. */
    public dev.tollgate.proxy.credentials.ProviderCredentials credentials() {
        return credentials;
    }

    /** Makes {@code credentials} the node's (a test's master key and directory); a node opens its own from the environment. */
    public void useCredentials(dev.tollgate.proxy.credentials.ProviderCredentials credentials) {
        this.credentials = Objects.requireNonNull(credentials);
    }

    /** The configuration, with the price catalog in force now. */
    public TollgateConfig config() {
        return pricing.config();
    }

    public Limits limits() {
        return pricing.config().limits();
    }

    /** The price catalog in force now: what a request admitted now is priced by. */
    public PriceCatalog catalog() {
        return pricing.config().catalog();
    }

    /** The catalog in force and when it took effect (epoch milliseconds: the node's start, or the reload that changed it). */
    public CatalogInForce catalogInForce() {
        Pricing now = pricing;
        return new CatalogInForce(now.config().catalog(), now.loadedAtMs());
    }

    public record CatalogInForce(PriceCatalog catalog, long loadedAtMs) {
    }

    public AccountBook accounts() {
        return ledger.accounts();
    }

    public ApiKeys keys() {
        return ledger.keys();
    }

    /** The routes of the catalog in force. Look a request's route up once and keep it: that keeps its prices. */
    public ModelRoutes routes() {
        return pricing.routes();
    }

    /** The candidates that may serve a model, by the routes and the catalog in force. Look them up once per request. */
    public dev.tollgate.metering.ModelRouting routing() {
        return pricing.routing();
    }

    /** The circuit breaker of each configured provider. */
    public dev.tollgate.proxy.upstream.UpstreamBreakers breakers() {
        return breakers;
    }

    /** The catalog, its routes and when it took effect. */
    private record Pricing(TollgateConfig config, ModelRoutes routes, dev.tollgate.metering.ModelRouting routing, long loadedAtMs) {
        static Pricing of(TollgateConfig config, long loadedAtMs) {
            ModelRoutes routes = new ModelRoutes(config.catalog(), config.providers());
            return new Pricing(config, routes, new dev.tollgate.metering.ModelRouting(routes, config.routes()), loadedAtMs);
        }
    }

    /** What a reload did: the catalog in force after it, and whether it is a new version. */
    public record Reload(PriceCatalog catalog, boolean changed, String previousVersion, long loadedAtMs) {
    }

    /** Why a reload was refused: every problem, one line each; nothing changed. */
    public static final class ReloadRefused extends RuntimeException {
        private final java.util.List<String> problems;

        public ReloadRefused(java.util.List<String> problems) {
            super(String.join("; ", problems));
            this.problems = java.util.List.copyOf(problems);
        }

        public java.util.List<String> problems() {
            return problems;
        }
    }

    /**
     * Reads the price catalog again from where it was read at start-up (its file, or the built-in one), validates it
     * as start-up does and against the configured providers, and makes it the one in force. A request admitted before
     * keeps its route, so its price; every request admitted after is priced by the new catalog. A new version is
     * journaled first (with {@code author}), so its debits follow its record; the same version changes nothing. A
     * catalog that changes a price in force at any instant up to now ({@link PriceCatalog#pastPriceChanges}) is refused.
     *
     * @throws ReloadRefused with the catalog's problems, changing and journaling nothing
     */
    public synchronized Reload reloadCatalog(Ledger.Author author) {
        Pricing before = pricing;
        PriceCatalog current = before.config().catalog();
        PriceCatalog loaded;
        try {
            loaded = CatalogLoader.reload(current);
        } catch (ConfigException e) {
            metrics.catalogReload("invalid");
            throw new ReloadRefused(e.problems());
        }
        java.util.List<String> problems = new java.util.ArrayList<>(
                ConfigLoader.catalogProblems(loaded, before.config().providers(), loaded.source()));
        // A route whose target the new catalog no longer prices could not be served: the routes change first, then the catalog.
        problems.addAll(ConfigLoader.routeProblems(before.config().routes(), before.config().providers(), loaded, loaded.source()));
        // Balances are integer micro-units of the currency: changing it under them would relabel every balance.
        if (!loaded.currency().equals(current.currency()) || loaded.microsPerUnit() != current.microsPerUnit()) {
            problems.add(loaded.source() + ": currency: " + loaded.currency() + " at " + loaded.microsPerUnit()
                    + " micros per unit; the balances are held in " + current.currency() + " at " + current.microsPerUnit()
                    + ", which only a restart with a new configuration can change");
        }
        // Every debit so far was priced by the version in force when it was admitted: a reload may reprice only the future.
        for (String change : current.pastPriceChanges(loaded, nowMs())) {
            problems.add(loaded.source() + ": " + change);
        }
        if (!problems.isEmpty()) {
            metrics.catalogReload("invalid");
            throw new ReloadRefused(problems);
        }
        if (loaded.version().equals(current.version())) {
            metrics.catalogReload("unchanged");
            return new Reload(current, false, current.version(), before.loadedAtMs());
        }
        ledger.recordCatalog(loaded.version(), loaded.source(), loaded.rows().size(), author);
        Pricing after = Pricing.of(before.config().withCatalog(loaded), System.currentTimeMillis());
        pricing = after;
        metrics.catalogLoaded(loaded);
        metrics.catalogReload("changed");
        LOG.info("price catalog reloaded by {}: version {} ({}, {} rows) replaces {}", author == null ? "-" : author.actor(), loaded.version(),
                loaded.source(), loaded.rows().size(), current.version());
        return new Reload(loaded, true, current.version(), after.loadedAtMs());
    }

    public Admission admission() {
        return admission;
    }

    /** The node's lanes and which one each key's requests run in. */
    public Lanes lanes() {
        return lanes;
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
