package dev.tollgate.config;

import java.util.List;

/** The whole validated configuration of one Tollgate node; {@code lanes} is never empty: the declared lanes in order, or the built-in one. */
public record TollgateConfig(
        ListenerConfig proxyListener,
        List<ProviderConfig> providers,
        PriceCatalog catalog,
        Limits limits,
        JournalConfig journal,
        List<AccountConfig> accounts,
        ListenerConfig adminListener,
        AccessLogConfig accessLog,
        AlertsConfig alerts,
        MetricsConfig metrics,
        List<RouteConfig> routes,
        RoutingConfig routing,
        List<LaneConfig> lanes) {

    public TollgateConfig {
        providers = List.copyOf(providers);
        accounts = List.copyOf(accounts);
        routes = routes == null ? List.of() : List.copyOf(routes);
        routing = routing == null ? RoutingConfig.DEFAULT : routing;
        accessLog = accessLog == null ? AccessLogConfig.DISABLED : accessLog;
        alerts = alerts == null ? AlertsConfig.NONE : alerts;
        metrics = metrics == null ? MetricsConfig.DEFAULT : metrics;
        lanes = lanes == null || lanes.isEmpty() ? List.of(LaneConfig.BUILT_IN) : List.copyOf(lanes);
    }

    /** A node with only the built-in lane. */
    public TollgateConfig(ListenerConfig proxyListener, List<ProviderConfig> providers, PriceCatalog catalog, Limits limits, JournalConfig journal,
                          List<AccountConfig> accounts, ListenerConfig adminListener, AccessLogConfig accessLog, AlertsConfig alerts, MetricsConfig metrics,
                          List<RouteConfig> routes, RoutingConfig routing) {
        this(proxyListener, providers, catalog, limits, journal, accounts, adminListener, accessLog, alerts, metrics, routes, routing, null);
    }

    /** A node without explicit routes. */
    public TollgateConfig(ListenerConfig proxyListener, List<ProviderConfig> providers, PriceCatalog catalog, Limits limits, JournalConfig journal,
                          List<AccountConfig> accounts, ListenerConfig adminListener, AccessLogConfig accessLog, AlertsConfig alerts, MetricsConfig metrics) {
        this(proxyListener, providers, catalog, limits, journal, accounts, adminListener, accessLog, alerts, metrics, List.of(), RoutingConfig.DEFAULT);
    }

    /** A node without an alert webhook and with the default metrics. */
    public TollgateConfig(ListenerConfig proxyListener, List<ProviderConfig> providers, PriceCatalog catalog, Limits limits, JournalConfig journal,
                          List<AccountConfig> accounts, ListenerConfig adminListener, AccessLogConfig accessLog) {
        this(proxyListener, providers, catalog, limits, journal, accounts, adminListener, accessLog, AlertsConfig.NONE, MetricsConfig.DEFAULT);
    }

    /** A node without an access log. */
    public TollgateConfig(ListenerConfig proxyListener, List<ProviderConfig> providers, PriceCatalog catalog, Limits limits, JournalConfig journal,
                          List<AccountConfig> accounts, ListenerConfig adminListener) {
        this(proxyListener, providers, catalog, limits, journal, accounts, adminListener, AccessLogConfig.DISABLED);
    }

    /** A node without an admin listener. */
    public TollgateConfig(ListenerConfig proxyListener, List<ProviderConfig> providers, PriceCatalog catalog, Limits limits, JournalConfig journal,
                          List<AccountConfig> accounts) {
        this(proxyListener, providers, catalog, limits, journal, accounts, null);
    }

    /** This configuration with the admin listener at {@code admin} (null: none). */
    public TollgateConfig withAdminListener(ListenerConfig admin) {
        return new TollgateConfig(proxyListener, providers, catalog, limits, journal, accounts, admin, accessLog, alerts, metrics, routes, routing, lanes);
    }

    /** This configuration with the price catalog {@code newCatalog} (a reload). */
    public TollgateConfig withCatalog(PriceCatalog newCatalog) {
        return new TollgateConfig(proxyListener, providers, newCatalog, limits, journal, accounts, adminListener, accessLog, alerts, metrics, routes, routing, lanes);
    }

    /** This configuration with the access log {@code log}. */
    public TollgateConfig withAccessLog(AccessLogConfig log) {
        return new TollgateConfig(proxyListener, providers, catalog, limits, journal, accounts, adminListener, log, alerts, metrics, routes, routing, lanes);
    }

    /** This configuration with the alert webhook of {@code newAlerts}. */
    public TollgateConfig withAlerts(AlertsConfig newAlerts) {
        return new TollgateConfig(proxyListener, providers, catalog, limits, journal, accounts, adminListener, accessLog, newAlerts, metrics, routes, routing, lanes);
    }

    /** This configuration with {@code newMetrics}. */
    public TollgateConfig withMetrics(MetricsConfig newMetrics) {
        return new TollgateConfig(proxyListener, providers, catalog, limits, journal, accounts, adminListener, accessLog, alerts, newMetrics, routes, routing, lanes);
    }

    /** This configuration with {@code newRoutes} and {@code newRouting}. */
    public TollgateConfig withRoutes(List<RouteConfig> newRoutes, RoutingConfig newRouting) {
        return new TollgateConfig(proxyListener, providers, catalog, limits, journal, accounts, adminListener, accessLog, alerts, metrics, newRoutes, newRouting, lanes);
    }

    /** This configuration with {@code newLanes} (none: the built-in lane). */
    public TollgateConfig withLanes(List<LaneConfig> newLanes) {
        return new TollgateConfig(proxyListener, providers, catalog, limits, journal, accounts, adminListener, accessLog, alerts, metrics, routes, routing,
                newLanes);
    }

    /** The lane named {@code name}, or null when none is. */
    public LaneConfig lane(String name) {
        for (LaneConfig lane : lanes) {
            if (lane.name().equals(name)) {
                return lane;
            }
        }
        return null;
    }

    public ProviderConfig provider(String name) {
        for (ProviderConfig provider : providers) {
            if (provider.name().equals(name)) {
                return provider;
            }
        }
        return null;
    }
}
