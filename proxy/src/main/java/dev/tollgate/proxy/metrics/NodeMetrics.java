package dev.tollgate.proxy.metrics;

import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.journal.JournalWriter;
import dev.tollgate.journal.Ledger;
import dev.tollgate.journal.reconcile.DriftReport;
import dev.tollgate.journal.reconcile.Lag;
import dev.tollgate.journal.reconcile.Reconciler;
import dev.tollgate.metering.Balances;
import dev.tollgate.metering.Usage;
import dev.tollgate.metering.request.Rejection;
import dev.tollgate.proxy.Endpoint;
import dev.tollgate.proxy.Outcome;
import dev.tollgate.proxy.accesslog.AccessLog;
import dev.tollgate.proxy.listener.ConnectionGuard;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.io.IOException;
import java.io.OutputStream;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The Prometheus metrics of one node, the data behind {@code GET /metrics} on the admin listener: what the
 * requests did (counted as their outcomes are published), what was refused before a reservation, latencies, and
 * gauges read from the ledger, the journal, the reconciler and the listener at scrape time.
 *
 * <p><b>Bounded labels.</b> No label holds a key, an account or a request id, nor a key's label unless the operator turns
 * on {@code metrics.keyLabels}: then the {@code tollgate_key_*} series carry it, for at most {@link #MAX_KEY_LABELS}
 * labels (the rest as {@code other}). {@code model} is a
 * model of the configured catalog (anything else is {@code other}), {@code provider} a configured provider,
 * {@code reason} one of the code's own reasons (at most {@link #MAX_REASONS} per series, then {@code other}).
 *
 * <p><b>Money</b> is counted in integer micro-units of the account currency ({@code _micros}); Prometheus keeps
 * doubles, exact up to 2^53 micro-units (about 9 billion currency units). The ledger stays the exact record.
 *
 * <p><b>The hot path</b> allocates nothing: the data point of each (provider, model) and (surface, reason) is kept
 * once made, so a request's metrics are a few map reads and atomic adds.
 *
 * <p>The registry is the node's own, so several nodes in one JVM (tests) do not clash. JVM metrics are the
 * process's, registered once on a registry of their own ({@link JvmMetrics} keeps every registry it was registered
 * on for ever) and written on every node's page.
 */
public final class NodeMetrics {
    /** The content type of {@link #writeTextFormat}: the Prometheus text format 0.0.4. */
    public static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;
    /** The label value for anything outside the bounded set. */
    public static final String OTHER = "other";
    /** Distinct reasons kept per requests series before further ones are counted as {@code other}. */
    static final int MAX_REASONS = 64;
    /** Distinct key labels kept in the {@code tollgate_key_*} series before further ones are counted as {@code other}. */
    static final int MAX_KEY_LABELS = 1_000;

    /** Latency buckets, in seconds: 0.5 ms to 60 s (an upstream's first byte may take that long for a long prompt). */
    private static final double[] LATENCY_BUCKETS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    /** Request durations, in seconds: a stream may last minutes. */
    private static final double[] DURATION_BUCKETS = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
    /** Journal appends, in seconds: a copy into mapped memory is about 0.4 us; a forced sync about 90 us. */
    private static final double[] JOURNAL_BUCKETS = {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5};

    private static final PrometheusTextFormatWriter WRITER = PrometheusTextFormatWriter.create();
    private static final Protocol[] SURFACES = Protocol.values();
    private static final Rejection.Kind[] KINDS = Rejection.Kind.values();
    private static volatile PrometheusRegistry jvmRegistry;

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final TollgateConfig config;
    private final Ledger ledger;
    /** The catalog in force: a reload replaces it ({@link #catalogLoaded}). */
    private volatile dev.tollgate.config.PriceCatalog catalog;
    /** A provider's name to that of the catalog rows it serves (its pricesAs), to tell its models from {@code other}. */
    private final Map<String, String> catalogProviders;
    private final Counter catalogReloads;
    private final Counter alertsRaised;
    /** The {@code tollgate_key_*} series, by key label; null unless {@code metrics.keyLabels} is on. */
    private final Counter keyRequests;
    private final Counter keyTokens;
    private final Counter keyCost;
    private final ConcurrentHashMap<String, KeySeries> keySeries = new ConcurrentHashMap<>();
    private final Counter alertDeliveries;
    private final Counter alertFailedAttempts;
    private final Counter alertTailerFailures;

    private final Counter requests;
    private final Counter tokens;
    private final Counter cost;
    private final Counter debited;
    private final Counter writtenOff;
    private final Counter refusals;
    /** Per surface ordinal. */
    private final DistributionDataPoint[] requestDuration;
    private final DistributionDataPoint[] addedLatency;
    private final Histogram upstreamFirstByte;
    private final Map<String, DistributionDataPoint> firstByteByProvider;
    private final Counter upstreamAttempts;
    /** The attempts that served, by provider: made once, as every request counts one. */
    private final Map<String, CounterDataPoint> servedByProvider;
    private final DistributionDataPoint journalAppend;
    private final DistributionDataPoint journalSync;
    /** [surface ordinal][rejection kind ordinal]. */
    private final CounterDataPoint[][] refusalsByKind;
    /** Refusals that are not a {@link Rejection.Kind}, by reason, then surface ordinal. */
    private final Map<String, CounterDataPoint[]> otherRefusals = new HashMap<>();
    /** Provider, then model: every configured provider is here, each with its models made on first use. */
    private final Map<String, ConcurrentHashMap<String, ModelSeries>> series = new HashMap<>();
    /** Made on first use, so a page without such outcomes shows no series for it. */
    private volatile ModelSeries otherSeries;
    private boolean watching;
    /** The configured lanes, by their index in the configuration: the bounded values of the {@code lane} label. */
    private final String[] laneNames;
    private final Map<String, Integer> laneIndexes = new HashMap<>();

    /** Reasons a request is refused before a reservation that are not a {@link Rejection.Kind}. */
    public static final String JOURNAL_UNAVAILABLE = "journal_unavailable";
    public static final String JOURNAL_FAILED = "journal_failed";
    public static final String HEADERS_TOO_LARGE = "headers_too_large";
    public static final String URI_TOO_LONG = "uri_too_long";
    public static final String INVALID_HTTP = "invalid_http";

    public NodeMetrics(TollgateConfig config, Ledger ledger) {
        this.config = config;
        this.ledger = ledger;
        this.catalog = config.catalog();
        this.laneNames = config.lanes().stream().map(dev.tollgate.config.LaneConfig::name).toArray(String[]::new);
        for (int i = 0; i < laneNames.length; i++) {
            laneIndexes.put(laneNames[i], i);
        }
        this.catalogProviders = ProviderConfig.catalogProviders(config.providers());
        GaugeWithCallback.builder().name("tollgate_catalog_info")
                .help("The price catalog in force (always 1): its version, as the journal names it with every debit, and where it was read from.")
                .labelNames("version", "source")
                .callback(cb -> {
                    dev.tollgate.config.PriceCatalog current = catalog;
                    cb.call(1, current.version(), current.source());
                }).register(registry);
        catalogReloads = Counter.builder().name("tollgate_catalog_reloads_total")
                .help("Price catalog reloads by result: changed (a new version in force), unchanged (the same version), invalid (refused, nothing changed).")
                .labelNames("result").withoutExemplars().register(registry);
        if (config.metrics().keyLabels()) {
            keyRequests = Counter.builder().name("tollgate_key_requests_total")
                    .help("Metered requests by the label of the key that made them (metrics.keyLabels) and status: settled or released.")
                    .labelNames("key_label", "status").withoutExemplars().register(registry);
            keyTokens = Counter.builder().name("tollgate_key_tokens_total")
                    .help("Tokens billed, by key label and kind: input (all of the prompt, cached or not) or output (reasoning included).")
                    .labelNames("key_label", "kind").withoutExemplars().register(registry);
            keyCost = Counter.builder().name("tollgate_key_cost_micros_total")
                    .help("What settled requests cost, in micro-units of the account currency, by key label.")
                    .labelNames("key_label").withoutExemplars().register(registry);
        } else {
            keyRequests = null;
            keyTokens = null;
            keyCost = null;
        }
        alertsRaised = Counter.builder().name("tollgate_alerts_raised_total")
                .help("Soft alerts raised on this node, once per crossing: window day, month or total (a key's spend reached its alert percentage of that cap) or balance (an account fell below its low-balance threshold).")
                .labelNames("window").withoutExemplars().register(registry);
        alertDeliveries = Counter.builder().name("tollgate_alert_webhook_deliveries_total")
                .help("Alerts the webhook finished with: delivered (a 2xx answer) or given_up (out of attempts, or refused with a 4xx).")
                .labelNames("outcome").withoutExemplars().register(registry);
        alertFailedAttempts = Counter.builder().name("tollgate_alert_webhook_failed_attempts_total")
                .help("Webhook attempts that failed (an answer other than 2xx, a timeout or a connection failure); most are tried again.")
                .withoutExemplars().register(registry);
        alertTailerFailures = Counter.builder().name("tollgate_alert_webhook_tailer_failures_total")
                .help("Failures of the alert webhook's journal tailer itself (its cursor file not writable, the journal not readable); it tries again after 5 s.")
                .withoutExemplars().register(registry);
        requests = Counter.builder().name("tollgate_requests_total")
                .help("Metered requests by how they ended: status settled (billed) or released (nothing charged), and why.")
                .labelNames("surface", "provider", "model", "status", "reason", "lane").withoutExemplars().register(registry);
        tokens = Counter.builder().name("tollgate_tokens_total")
                .help("Tokens billed on settled requests, by kind: input (plain), cached_input, cache_write, output, and reasoning (already inside output).")
                .labelNames("provider", "model", "kind").withoutExemplars().register(registry);
        cost = Counter.builder().name("tollgate_cost_micros_total")
                .help("The priced cost of settled requests, in integer micro-units of the account currency: debited plus written off. The ledger is the exact record.")
                .labelNames("provider", "model").withoutExemplars().register(registry);
        debited = Counter.builder().name("tollgate_debited_micros_total")
                .help("Money debited from balances for settled requests, in integer micro-units of the account currency. The ledger is the exact record.")
                .labelNames("provider", "model").withoutExemplars().register(registry);
        writtenOff = Counter.builder().name("tollgate_written_off_micros_total")
                .help("Cost beyond the reservation and the balance, not charged to anyone, in integer micro-units of the account currency.")
                .labelNames("provider", "model").withoutExemplars().register(registry);
        refusals = Counter.builder().name("tollgate_refusals_total")
                .help("Requests refused before any money was reserved, by reason (invalid_key, unknown_model, insufficient_balance, journal_unavailable...).")
                .labelNames("surface", "reason").withoutExemplars().register(registry);
        Histogram duration = Histogram.builder().name("tollgate_request_duration_seconds")
                .help("Metered requests from arrival to outcome, in seconds (millisecond resolution).")
                .labelNames("surface").classicOnly().classicUpperBounds(DURATION_BUCKETS).withoutExemplars().register(registry);
        Histogram added = Histogram.builder().name("tollgate_added_latency_seconds")
                .help("Time Tollgate itself adds to a request that went upstream: from the whole request to sending it upstream "
                        + "(authentication, admission, the reservation journaled), plus from the upstream's last byte to the client's "
                        + "(the debit journaled).")
                .labelNames("surface").classicOnly().classicUpperBounds(LATENCY_BUCKETS).withoutExemplars().register(registry);
        upstreamFirstByte = Histogram.builder().name("tollgate_upstream_first_byte_seconds")
                .help("From sending a request upstream to the provider's response head, in seconds.")
                .labelNames("provider").classicOnly().classicUpperBounds(LATENCY_BUCKETS).withoutExemplars().register(registry);
        Histogram append = Histogram.builder().name("tollgate_journal_append_seconds")
                .help("One record copied into the journal, in seconds.")
                .classicOnly().classicUpperBounds(JOURNAL_BUCKETS).withoutExemplars().register(registry);
        Histogram sync = Histogram.builder().name("tollgate_journal_sync_seconds")
                .help("One batch of records forced to disk (per_debit durability), in seconds.")
                .classicOnly().classicUpperBounds(JOURNAL_BUCKETS).withoutExemplars().register(registry);
        journalAppend = append.labelValues();
        journalSync = sync.labelValues();

        requestDuration = new DistributionDataPoint[SURFACES.length];
        addedLatency = new DistributionDataPoint[SURFACES.length];
        refusalsByKind = new CounterDataPoint[SURFACES.length][KINDS.length];
        for (Protocol surface : SURFACES) {
            requestDuration[surface.ordinal()] = duration.labelValues(surface.wireName());
            addedLatency[surface.ordinal()] = added.labelValues(surface.wireName());
            for (Rejection.Kind kind : KINDS) {
                refusalsByKind[surface.ordinal()][kind.ordinal()] = refusals.labelValues(surface.wireName(), reasonOf(kind));
            }
        }
        for (String reason : new String[] {JOURNAL_UNAVAILABLE, JOURNAL_FAILED, HEADERS_TOO_LARGE, URI_TOO_LONG, INVALID_HTTP}) {
            CounterDataPoint[] bySurface = new CounterDataPoint[SURFACES.length];
            for (Protocol surface : SURFACES) {
                bySurface[surface.ordinal()] = refusals.labelValues(surface.wireName(), reason);
            }
            otherRefusals.put(reason, bySurface);
        }

        // Only configured providers route requests, so only theirs can have outcomes.
        Set<String> providers = new HashSet<>();
        for (ProviderConfig provider : config.providers()) {
            providers.add(provider.name());
        }
        providers.remove(OTHER);
        upstreamAttempts = Counter.builder().name("tollgate_upstream_attempts_total")
                .help("Upstream attempts by provider and result: served (a response head that is not a failure), a failure reason (upstream_status_503, "
                        + "upstream_connect_failed, upstream_timeout, upstream_connection_lost...) or circuit_open (skipped by the provider's breaker).")
                .labelNames("provider", "result").withoutExemplars().register(registry);
        Map<String, DistributionDataPoint> firstByte = new HashMap<>();
        Map<String, CounterDataPoint> served = new HashMap<>();
        for (String provider : providers) {
            series.put(provider, new ConcurrentHashMap<>());
            firstByte.put(provider, upstreamFirstByte.labelValues(provider));
            served.put(provider, upstreamAttempts.labelValues(provider, "served"));
        }
        firstByteByProvider = Map.copyOf(firstByte);
        servedByProvider = Map.copyOf(served);

        registerLedgerGauges();
        ledger.writer().timings(new JournalWriter.Timings() {
            @Override
            public void appended(long nanos) {
                journalAppend.observe(nanos / 1e9);
            }

            @Override
            public void synced(long nanos) {
                journalSync.observe(nanos / 1e9);
            }
        });
    }

    private static String reasonOf(Rejection.Kind kind) {
        return kind.name().toLowerCase(Locale.ROOT);
    }

    /** The surface of a metered endpoint's path: Anthropic's for /v1/messages, OpenAI's otherwise. */
    static Protocol surfaceOf(String endpointPath) {
        Endpoint endpoint = Endpoint.atPath(endpointPath);
        return endpoint == null ? Protocol.OPENAI : endpoint.surface();
    }

    // ---------------------------------------------------------------- fed by the request path

    /** One reservation's outcome (called from {@code Gateway.publish}, on the event loop). */
    public void outcome(Outcome outcome) {
        Protocol surface = surfaceOf(outcome.endpoint());
        ModelSeries model = seriesOf(outcome.provider(), outcome.model());
        boolean settled = Outcome.SETTLED.equals(outcome.status());
        model.requests(surface, settled, outcome.reason(), outcome.lane()).inc();
        if (settled) {
            Usage usage = outcome.usage();
            incIfPositive(model.input, usage.inputTokens());
            incIfPositive(model.cachedInput, usage.cacheReadTokens());
            incIfPositive(model.cacheWrite, usage.cacheWriteTokens());
            incIfPositive(model.output, usage.outputTokens());
            incIfPositive(model.reasoning, usage.reasoningTokens());
            incIfPositive(model.cost, outcome.costMicros());
            incIfPositive(model.debited, outcome.debitedMicros());
            incIfPositive(model.writtenOff, outcome.writtenOffMicros());
        }
        requestDuration[surface.ordinal()].observe(Math.max(0, outcome.endEpochMs() - outcome.startEpochMs()) / 1000.0);
        if (keyRequests != null) {
            KeySeries key = keySeriesOf(outcome.keyLabel());
            if (settled) {
                key.settled.inc();
                Usage usage = outcome.usage();
                incIfPositive(key.input, usage.inputTokens() + usage.cacheReadTokens() + usage.cacheWriteTokens());
                incIfPositive(key.output, usage.outputTokens());
                incIfPositive(key.cost, outcome.costMicros());
            } else {
                key.released.inc();
            }
        }
    }

    /** The data points of one key label, made on first use (at most {@link #MAX_KEY_LABELS}, then {@link #OTHER}). */
    private KeySeries keySeriesOf(String keyLabel) {
        String label = keyLabel == null || keyLabel.isEmpty() ? "-" : keyLabel;
        KeySeries series = keySeries.get(label);
        if (series != null) {
            return series;
        }
        if (keySeries.size() >= MAX_KEY_LABELS) {
            label = OTHER;
        }
        return keySeries.computeIfAbsent(label, KeySeries::new);
    }

    private final class KeySeries {
        final CounterDataPoint settled;
        final CounterDataPoint released;
        final CounterDataPoint input;
        final CounterDataPoint output;
        final CounterDataPoint cost;

        KeySeries(String label) {
            settled = keyRequests.labelValues(label, "settled");
            released = keyRequests.labelValues(label, "released");
            input = keyTokens.labelValues(label, "input");
            output = keyTokens.labelValues(label, "output");
            cost = keyCost.labelValues(label);
        }
    }

    private static void incIfPositive(CounterDataPoint counter, long amount) {
        if (amount > 0) {
            counter.inc(amount);
        }
    }

    /** A request refused before a reservation, for one of {@link Rejection.Kind}'s reasons. */
    public void refused(Protocol surface, Rejection.Kind kind) {
        refusalsByKind[surface.ordinal()][kind.ordinal()].inc();
    }

    /** A request refused before a reservation for one of this class's own reasons ({@link #JOURNAL_UNAVAILABLE}...). */
    public void refused(Protocol surface, String reason) {
        CounterDataPoint[] bySurface = otherRefusals.get(reason);
        if (bySurface == null) {
            throw new IllegalArgumentException("not a refusal reason: " + reason); // a bug: the reasons are constants
        }
        bySurface[surface.ordinal()].inc();
    }

    /** From sending a request upstream to its response head. */
    public void upstreamFirstByte(String provider, long nanos) {
        DistributionDataPoint point = firstByteByProvider.get(provider);
        (point != null ? point : upstreamFirstByte.labelValues(OTHER)).observe(nanos / 1e9);
    }

    /** One upstream attempt's result: {@code served}, a failure reason, or {@code circuit_open}. */
    public void upstreamAttempt(String provider, String result) {
        CounterDataPoint point = "served".equals(result) ? servedByProvider.get(provider) : null;
        (point != null ? point : upstreamAttempts.labelValues(servedByProvider.containsKey(provider) ? provider : OTHER, result)).inc();
    }

    /** What Tollgate added to a request that went upstream (see the metric's help). */
    public void addedLatency(Protocol surface, long nanos) {
        addedLatency[surface.ordinal()].observe(nanos / 1e9);
    }

    /** A catalog took effect: new models get series of their own from now on, and the info gauge shows its version. */
    public void catalogLoaded(dev.tollgate.config.PriceCatalog loaded) {
        catalog = loaded;
    }

    /** One reload, by its result: {@code changed}, {@code unchanged} or {@code invalid}. */
    public void catalogReload(String result) {
        catalogReloads.labelValues(result).inc();
    }

    /** A soft alert raised on this node: {@code window} is day, month, total or balance. */
    public void alertRaised(String window) {
        alertsRaised.labelValues(window).inc();
    }

    /** What the alert webhook did, as its listener. */
    public dev.tollgate.proxy.alerts.AlertWebhook.Listener alertWebhookListener() {
        return new dev.tollgate.proxy.alerts.AlertWebhook.Listener() {
            @Override
            public void delivered(int attempts) {
                alertDeliveries.labelValues("delivered").inc();
            }

            @Override
            public void failedAttempt() {
                alertFailedAttempts.inc();
            }

            @Override
            public void givenUp() {
                alertDeliveries.labelValues("given_up").inc();
            }

            @Override
            public void tailerFailed() {
                alertTailerFailures.inc();
            }
        };
    }

    // ---------------------------------------------------------------- read at scrape time

    private void registerLedgerGauges() {
        GaugeWithCallback.builder().name("tollgate_reserved_micros")
                .help("Money held now for requests in flight, summed over accounts, in integer micro-units of the account currency.")
                .callback(cb -> cb.call(sumOverAccounts(true))).register(registry);
        GaugeWithCallback.builder().name("tollgate_available_micros")
                .help("Money available to spend now, summed over accounts, in integer micro-units of the account currency.")
                .callback(cb -> cb.call(sumOverAccounts(false))).register(registry);
        GaugeWithCallback.builder().name("tollgate_accounts")
                .help("Accounts open in the ledger.")
                .callback(cb -> cb.call(ledger.accounts().accountIds().size())).register(registry);
        GaugeWithCallback.builder().name("tollgate_journal_accepting_records")
                .help("1 while the journal can take records (requests are admitted), 0 while it cannot (disk full, a failed append).")
                .callback(cb -> cb.call(ledger.writer().health().acceptingRecords() ? 1 : 0)).register(registry);
        GaugeWithCallback.builder().name("tollgate_journal_queued_records")
                .help("Records submitted to the journal writer and not yet written.")
                .callback(cb -> cb.call(ledger.writer().queued())).register(registry);
        GaugeWithCallback.builder().name("tollgate_unrecorded_releases")
                .help("Releases made in the counters that wait for the journal to take records again.")
                .callback(cb -> cb.call(ledger.unrecordedReleases())).register(registry);
    }

    private double sumOverAccounts(boolean reserved) {
        Balances balances = ledger.balances();
        int accounts = ledger.accounts().accountIds().size();
        long sum = 0;
        for (int slot = 0; slot < accounts; slot++) {
            sum += reserved ? balances.reservedMicros(slot) : balances.availableMicros(slot);
        }
        return sum;
    }

    /**
     * Adds what only a running node has: the reconciler's lag and drift and the proxy listener's connections.
     * Called once, by {@code TollgateNode.start}.
     */
    public synchronized void watch(Reconciler reconciler, ConnectionGuard.Connections connections) {
        if (watching) {
            throw new IllegalStateException("already watching a reconciler and a listener");
        }
        watching = true;
        GaugeWithCallback.builder().name("tollgate_reconciliation_lag_records")
                .help("Journal records the reconciler has not applied yet.")
                .callback(cb -> cb.call(reconciler.lag().recordsBehind())).register(registry);
        GaugeWithCallback.builder().name("tollgate_reconciliation_lag_seconds")
                .help("The newest journal record's time minus that of the newest record the reconciler applied, in seconds.")
                .callback(cb -> {
                    Lag lag = reconciler.lag();
                    cb.call(lag.millisBehind() / 1000.0);
                }).register(registry);
        GaugeWithCallback.builder().name("tollgate_reconciliation_drift_micros")
                .help("The last conclusive conservation check: live counters against the journal's balances, summed absolute "
                        + "differences in integer micro-units (0: consistent).")
                .callback(cb -> cb.call(reconciler.drift().driftMicros())).register(registry);
        GaugeWithCallback.builder().name("tollgate_reconciliation_drift_checked")
                .help("1 once a conservation check was conclusive (the drift figure is measured), 0 before.")
                .callback(cb -> cb.call(reconciler.drift().conclusive() ? 1 : 0)).register(registry);
        GaugeWithCallback.builder().name("tollgate_reconciliation_failed")
                .help("1 when the reconciler stopped on a record it could not apply.")
                .callback(cb -> cb.call(reconciler.failure() != null || reconciler.drift().status() == DriftReport.Status.FAILED ? 1 : 0))
                .register(registry);
        GaugeWithCallback.builder().name("tollgate_open_connections")
                .help("Client connections open on the proxy listener.")
                .callback(cb -> cb.call(connections.open())).register(registry);
        CounterWithCallback.builder().name("tollgate_connections_refused_total")
                .help("Client connections refused at the listener's or an address's cap.")
                .callback(cb -> cb.call(connections.refused())).register(registry);
        CounterWithCallback.builder().name("tollgate_connections_timed_out_total")
                .help("Client connections closed by the head-read or idle timeout.")
                .callback(cb -> cb.call(connections.timedOut())).register(registry);
    }

    /** What each lane holds and refuses, read from its gate at scrape time. Called once, by the gateway. */
    public void watch(dev.tollgate.proxy.lanes.Lanes lanes) {
        GaugeWithCallback.builder().name("tollgate_lane_in_flight")
                .help("Requests holding one of their lane's slots now: from the lane gate to the end of the exchange.")
                .labelNames("lane").callback(cb -> lanes.all().forEach(lane -> cb.call(lane.inFlight(), lane.name()))).register(registry);
        GaugeWithCallback.builder().name("tollgate_lane_queued")
                .help("Requests waiting in their lane's queue for a slot now; they hold no money.")
                .labelNames("lane").callback(cb -> lanes.all().forEach(lane -> cb.call(lane.queued(), lane.name()))).register(registry);
        GaugeWithCallback.builder().name("tollgate_lane_max_concurrent")
                .help("A lane's slots (maxConcurrent): at most this many of its requests are in flight at once on this node.")
                .labelNames("lane").callback(cb -> lanes.all().forEach(lane -> cb.call(lane.config().maxConcurrent(), lane.name()))).register(registry);
        CounterWithCallback.builder().name("tollgate_lane_entries_total")
                .help("Requests let into their lane, by kind: at_once (a slot was free) or queued (they waited; some then timed out or left).")
                .labelNames("lane", "kind").callback(cb -> lanes.all().forEach(lane -> {
                    cb.call(lane.admittedOnArrival(), lane.name(), "at_once");
                    cb.call(lane.waitedInQueue(), lane.name(), "queued");
                })).register(registry);
        CounterWithCallback.builder().name("tollgate_lane_refusals_total")
                .help("Requests their lane refused, holding nothing: reason full (every slot taken and the queue full: 429) or queue_timeout "
                        + "(no slot within queueTimeoutMs: 503, Anthropic 529).")
                .labelNames("lane", "reason").callback(cb -> lanes.all().forEach(lane -> {
                    cb.call(lane.refusedFull(), lane.name(), "full");
                    cb.call(lane.refusedTimedOut(), lane.name(), "queue_timeout");
                })).register(registry);
        GaugeWithCallback.builder().name("tollgate_lane_upstream_connections")
                .help("Upstream connections a lane holds open now on this node (connecting, in use and idle), against its upstreamConnections.")
                .labelNames("lane").callback(cb -> lanes.all().forEach(lane -> cb.call(lane.upstream().open(), lane.name()))).register(registry);
        CounterWithCallback.builder().name("tollgate_lane_left_queue_total")
                .help("Requests whose client went away while they waited in their lane's queue.")
                .labelNames("lane").callback(cb -> lanes.all().forEach(lane -> cb.call(lane.leftWhileQueued(), lane.name()))).register(registry);
    }

    /** Lines the access log could not write (see {@link AccessLog}); 0 for ever when it is off. */
    /** Shows each provider's circuit breaker state: 1 on the series of its state, 0 on the others. */
    public void watch(dev.tollgate.proxy.upstream.UpstreamBreakers breakers) {
        GaugeWithCallback.builder().name("tollgate_upstream_circuit_state")
                .help("Each upstream provider's circuit breaker: 1 on its current state (closed: used; open: skipped; half_open: probing), 0 on the others.")
                .labelNames("provider", "state")
                .callback(cb -> breakers.states().forEach((provider, state) -> {
                    for (String name : new String[] {"closed", "open", "half_open"}) {
                        cb.call(name.equals(state.name().toLowerCase(java.util.Locale.ROOT)) ? 1 : 0, provider, name);
                    }
                })).register(registry);
    }

    public void watch(AccessLog accessLog) {
        CounterWithCallback.builder().name("tollgate_access_log_dropped_total")
                .help("Access log lines lost: its queue was full (the writer could not keep up) or the write failed. 0 when the access log is off.")
                .callback(cb -> cb.call(accessLog.droppedLines())).register(registry);
    }

    // ---------------------------------------------------------------- the page

    /** The page in the Prometheus text format 0.0.4 ({@link #CONTENT_TYPE}): this node's metrics, then the JVM's. */
    public void writeTextFormat(OutputStream out) throws IOException {
        MetricSnapshots.Builder page = MetricSnapshots.builder();
        for (MetricSnapshot snapshot : registry.scrape()) {
            page.metricSnapshot(snapshot);
        }
        for (MetricSnapshot snapshot : jvmRegistry().scrape()) {
            page.metricSnapshot(snapshot);
        }
        WRITER.write(out, page.build());
    }

    /** This node's own registry (the JVM's metrics are not in it). */
    public PrometheusRegistry registry() {
        return registry;
    }

    private static PrometheusRegistry jvmRegistry() {
        PrometheusRegistry jvm = jvmRegistry;
        if (jvm == null) {
            synchronized (NodeMetrics.class) {
                jvm = jvmRegistry;
                if (jvm == null) {
                    jvm = new PrometheusRegistry();
                    JvmMetrics.builder().register(jvm);
                    jvmRegistry = jvm;
                }
            }
        }
        return jvm;
    }

    // ---------------------------------------------------------------- per (provider, model)

    private ModelSeries seriesOf(String provider, String model) {
        ConcurrentHashMap<String, ModelSeries> models = series.get(provider);
        if (models == null) {
            return otherSeries();
        }
        ModelSeries found = models.get(model);
        if (found != null) {
            return found;
        }
        // First use of this model: made once, and only for a model of the catalog.
        if (catalog.versions(catalogProviders.getOrDefault(provider, provider), model).isEmpty()) {
            found = models.get(OTHER);
            if (found != null) {
                return found;
            }
            ModelSeries other = new ModelSeries(provider, OTHER);
            found = models.putIfAbsent(OTHER, other);
            return found != null ? found : other;
        }
        ModelSeries made = new ModelSeries(provider, model);
        found = models.putIfAbsent(model, made);
        return found != null ? found : made;
    }

    private ModelSeries otherSeries() {
        ModelSeries other = otherSeries;
        if (other == null) {
            synchronized (this) {
                other = otherSeries;
                if (other == null) {
                    other = new ModelSeries(OTHER, OTHER);
                    otherSeries = other;
                }
            }
        }
        return other;
    }

    /** The data points of one (provider, model), kept so the request path looks them up instead of making them. */
    private final class ModelSeries {
        private final String provider;
        private final String model;
        final CounterDataPoint input;
        final CounterDataPoint cachedInput;
        final CounterDataPoint cacheWrite;
        final CounterDataPoint output;
        final CounterDataPoint reasoning;
        final CounterDataPoint cost;
        final CounterDataPoint debited;
        final CounterDataPoint writtenOff;
        /** [(lane index * surfaces + surface ordinal) * 2 + (settled ? 1 : 0)]: by reason. */
        private final ConcurrentHashMap<String, CounterDataPoint>[] requestsByReason;

        @SuppressWarnings("unchecked")
        ModelSeries(String provider, String model) {
            this.provider = provider;
            this.model = model;
            input = tokens.labelValues(provider, model, "input");
            cachedInput = tokens.labelValues(provider, model, "cached_input");
            cacheWrite = tokens.labelValues(provider, model, "cache_write");
            output = tokens.labelValues(provider, model, "output");
            reasoning = tokens.labelValues(provider, model, "reasoning");
            cost = NodeMetrics.this.cost.labelValues(provider, model);
            debited = NodeMetrics.this.debited.labelValues(provider, model);
            writtenOff = NodeMetrics.this.writtenOff.labelValues(provider, model);
            requestsByReason = new ConcurrentHashMap[(laneNames.length + 1) * SURFACES.length * 2]; // the last lane is other
            for (int i = 0; i < requestsByReason.length; i++) {
                requestsByReason[i] = new ConcurrentHashMap<>();
            }
        }

        CounterDataPoint requests(Protocol surface, boolean settled, String reason, String lane) {
            Integer laneIndex = laneIndexes.get(lane);
            int laneAt = laneIndex == null ? laneNames.length : laneIndex;
            ConcurrentHashMap<String, CounterDataPoint> byReason = requestsByReason[(laneAt * SURFACES.length + surface.ordinal()) * 2 + (settled ? 1 : 0)];
            String key = reason == null ? OTHER : reason;
            CounterDataPoint point = byReason.get(key);
            if (point != null) {
                return point;
            }
            if (byReason.size() >= MAX_REASONS) {
                key = OTHER;
                point = byReason.get(key);
                if (point != null) {
                    return point;
                }
            }
            CounterDataPoint made = NodeMetrics.this.requests.labelValues(surface.wireName(), provider, model,
                    settled ? Outcome.SETTLED : Outcome.RELEASED, key, laneAt < laneNames.length ? laneNames[laneAt] : OTHER);
            point = byReason.putIfAbsent(key, made);
            return point != null ? point : made;
        }
    }
}
