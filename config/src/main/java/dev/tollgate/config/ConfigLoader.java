package dev.tollgate.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Loads the one YAML file that configures a Tollgate node and validates all of it before start-up:
 * unknown fields, missing fields, bad URLs, negative prices and duplicates are each reported as
 * {@code file: path: reason}, all at once. Secrets come only from the environment.
 *
 * <pre>
 * listeners:
 *   proxy: { host: 127.0.0.1, port: 8080 }
 *   admin: { host: 127.0.0.1, port: 8081 }   # the default; "off" for none. Tokens: TOLLGATE_ADMIN_TOKENS
 * catalog: builtin                  # or a path to a catalog file, relative to this file
 * providers:
 *   - name: openai
 *     protocol: openai              # openai | anthropic
 *     baseUrl: https://api.openai.com/v1
 *     apiKeyEnv: OPENAI_API_KEY     # optional: the environment variable holding the provider key
 *     caCertFile: certs/ca.pem      # optional: PEM certificates to trust for this provider
 *     pricesAs: openai              # optional: serve and price the catalog rows of this provider name
 *     extraHeaders: { X-Title: Acme }            # optional: sent on every request to it; not secret
 *     extraHeadersEnv: { OpenAI-Organization: OPENAI_ORG }   # optional: values from the environment
 * limits: { maxRequestBodyBytes: 33554432, ... }   # optional, see Limits
 * journal:
 *   directory: data/journal         # relative to this file
 *   durability: periodic            # page_cache | periodic (default) | per_debit
 *   syncIntervalMs: 100             # for periodic
 * accessLog:                        # optional: one JSON line per request (docs/OPERATIONS.md)
 *   enabled: false                  # the default
 *   path: logs/access.jsonl         # the default, relative to this file; "-" for standard output
 * alerts:                           # optional: soft alerts also go to a webhook (docs/OPERATIONS.md)
 *   webhook:
 *     url: https://billing.example.com/hooks/tollgate
 *     secretEnv: TOLLGATE_ALERT_WEBHOOK_SECRET   # the default: the HMAC-SHA256 signing secret
 *     maxAttempts: 24               # then the alert is given up (logged, counted); about 20 minutes
 *     initialBackoffMs: 1000        # doubling, with jitter, up to maxBackoffMs: 60000
 *     timeoutMs: 5000
 * metrics:
 *   keyLabels: false                # the default; true adds each key's label to the request series
 * lanes:                            # optional: none declared is one built-in lane, "default", without caps
 *   - name: interactive             # the first lane is every key's that names none
 *     maxConcurrent: 512            # in flight at once on this node
 *     queueDepth: 1024              # optional (0): waiting for a slot; beyond it, 429 with retry-after
 *     queueTimeoutMs: 2000          # optional (2000): then 503 (Anthropic 529) with retry-after
 *     upstreamConnections: 256      # optional (maxConcurrent): open upstream connections on the whole node
 *     priority: 0                   # optional (0): lower first when resumptions of several lanes meet on one event loop
 *     priceMultiplierBps: 10000     # optional (10000): 5000 bills the lane's tokens at half price
 * routes:                           # optional: what a model name a client sends is served by
 *   - model: gpt-4o-mini
 *     targets:                      # by priority (1 first), weighted within one; the same protocol for all
 *       - { provider: openai, model: gpt-4o-mini, priority: 1, weight: 3 }
 *       - { provider: openai-eu, model: gpt-4o-mini, priority: 2 }
 *   - model: claude-direct
 *     billing: direct               # optional (prepaid): paid on the account's own provider credentials, still capped here
 *     platformFee: { perRequestMicros: 100, percentBps: 200 }   # optional, direct only: drawn from the prepaid balance
 *     targets: [ { provider: anthropic, model: claude-haiku-4-5 } ]
 * routing:                          # optional: fallback and circuit breakers (RoutingConfig); these are the defaults
 *   maxAttempts: 3
 *   backoffMs: 20                   # doubled per attempt, full jitter, at most maxBackoffMs
 *   maxBackoffMs: 200
 *   breaker: { consecutiveFailures: 5, failureRatePercent: 50, windowCalls: 20, minimumCalls: 10, openMs: 30000, halfOpenProbes: 2 }
 * accounts:
 *   - id: acme
 *     openingCreditMicros: 25000000
 *     keys:
 *       - { sha256: 9f86d08..., label: ci }
 *       - { sha256: 60303ae..., label: nightly, lane: batch, lanes: [interactive] }   # lanes: others it may pick by x-tollgate-lane
 * </pre>
 */
public final class ConfigLoader {
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");
    private static final Pattern ACCOUNT_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}");
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    /** A lane's name: the shape of a key's lane tag, so the admin API's tags and the file's names are one set. */
    private static final Pattern LANE_NAME = Pattern.compile("[a-z0-9][a-z0-9_.-]{0,31}");
    /** An HTTP field name: a token of RFC 9110's tchar. */
    private static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");
    /** A field value Tollgate sends as written: visible ASCII, inner spaces and tabs, nothing a peer would trim or refuse. */
    private static final Pattern HEADER_VALUE = Pattern.compile("[\\x21-\\x7E](?:[\\x20-\\x7E\\t]*[\\x21-\\x7E])?");
    private static final String HOP_BY_HOP = "it describes Tollgate's own connection to the provider, and Tollgate recomputes it for every request";
    /** Headers an extra header may not set, each with why: Tollgate's framing, credentials and metering depend on them. */
    private static final Map<String, String> TOLLGATE_HEADERS = Map.ofEntries(
            Map.entry("host", "the host is the baseUrl's"),
            Map.entry("content-length", HOP_BY_HOP),
            Map.entry("transfer-encoding", HOP_BY_HOP),
            Map.entry("connection", HOP_BY_HOP),
            Map.entry("keep-alive", HOP_BY_HOP),
            Map.entry("proxy-connection", HOP_BY_HOP),
            Map.entry("proxy-authorization", HOP_BY_HOP),
            Map.entry("te", HOP_BY_HOP),
            Map.entry("trailer", HOP_BY_HOP),
            Map.entry("upgrade", HOP_BY_HOP),
            Map.entry("expect", HOP_BY_HOP),
            Map.entry("content-type", "the body is the JSON Tollgate metered"),
            Map.entry("accept-encoding", "Tollgate asks for an unencoded response, which it must read to meter it"),
            Map.entry("authorization", "it carries the provider key; name its environment variable in apiKeyEnv"),
            Map.entry("x-api-key", "it carries the provider key; name its environment variable in apiKeyEnv"),
            Map.entry("anthropic-version", "Tollgate passes the client's or sends the version whose responses it meters"));
    /** Words of a header name that say its value is a credential, which must come from the environment, not the file. */
    private static final Set<String> CREDENTIAL_WORDS = Set.of("key", "apikey", "token", "secret", "password", "auth", "authentication",
            "credential", "credentials", "cookie", "session");

    private ConfigLoader() {
    }

    public static TollgateConfig load(Path file, Function<String, String> environment) {
        try (InputStream in = Files.newInputStream(file)) {
            Path directory = file.toAbsolutePath().getParent();
            return load(file.toString(), in, directory, environment);
        } catch (IOException e) {
            throw new ConfigException(List.of(file + ": cannot read: " + e.getMessage()));
        }
    }

    /** @param directory where relative paths in the file (catalog, caCertFile) are resolved */
    public static TollgateConfig load(String fileName, InputStream in, Path directory, Function<String, String> environment) {
        Problems problems = new Problems(fileName);
        YamlObject root = YamlObject.of(Yaml.read(fileName, in), "", problems);
        problems.throwIfAny();

        ListenerConfig proxyListener = null;
        ListenerConfig adminListener = ListenerConfig.DEFAULT_ADMIN;
        YamlObject listeners = root.object("listeners", true);
        if (listeners != null) {
            proxyListener = listener(listeners.object("proxy", true));
            if (listeners.isOff("admin")) {
                adminListener = null;
            } else if (listeners.has("admin")) {
                adminListener = listener(listeners.object("admin", false));
            }
            listeners.rejectUnknown();
        }

        String catalogName = root.optionalText("catalog", CatalogLoader.BUILTIN_NAME);
        PriceCatalog catalog = null;
        if (catalogName != null) {
            try {
                catalog = catalogName.equals(CatalogLoader.BUILTIN_NAME)
                        ? CatalogLoader.loadBuiltin()
                        : CatalogLoader.load(directory.resolve(catalogName));
            } catch (ConfigException e) {
                e.problems().forEach(line -> problems.add("catalog", line));
            }
        }

        List<String> providerPaths = new ArrayList<>();
        List<ProviderConfig> providers = providers(root, directory, environment, problems, providerPaths);
        Limits limits = limits(root.object("limits", false));
        JournalConfig journal = journal(root.object("journal", true), directory);
        List<String> laneNames = new ArrayList<>();
        List<LaneConfig> lanes = lanes(root, problems, laneNames);
        List<AccountConfig> accounts = accounts(root, laneNames.isEmpty() ? List.of(LaneConfig.BUILT_IN_NAME) : laneNames, problems);
        AccessLogConfig accessLog = accessLog(root.object("accessLog", false), directory);
        AlertsConfig alerts = alerts(root.object("alerts", false), environment, problems);
        MetricsConfig metrics = metrics(root.object("metrics", false));
        List<RouteConfig> routes = routes(root, problems);
        RoutingConfig routing = routing(root.object("routing", false), problems);
        root.rejectUnknown();

        if (catalog != null) {
            checkCatalogAgainstProviders(catalog, providers, providerPaths, problems);
            checkRoutes(routes, providers, catalog, problems);
        }
        problems.throwIfAny();
        return new TollgateConfig(proxyListener, providers, catalog, limits, journal, accounts, adminListener, accessLog, alerts, metrics, routes,
                routing, lanes);
    }

    /**
     * The declared lanes in the file's order; none when the section is left out (the built-in lane then). {@code names}
     * receives every well-formed name, also of a lane with other problems, so keys naming it are not reported too.
     */
    private static List<LaneConfig> lanes(YamlObject root, Problems problems, List<String> names) {
        List<LaneConfig> lanes = new ArrayList<>();
        if (!root.has("lanes")) {
            return lanes;
        }
        List<JsonNode> items = root.nonEmptyList("lanes");
        for (int i = 0; i < items.size(); i++) {
            YamlObject lane = YamlObject.of(items.get(i), "lanes[" + i + "]", problems);
            if (lane == null) {
                continue;
            }
            int before = problems.lines().size();
            String name = lane.text("name");
            if (name != null && !LANE_NAME.matcher(name).matches()) {
                problems.add(lane.childPath("name"), "expected 1 to 32 lower-case letters, digits or _ . -, starting with a letter or digit, found \""
                        + name + "\"");
            } else if (name != null && names.contains(name)) {
                problems.add(lane.childPath("name"), "duplicate lane name \"" + name + "\"");
            } else if (name != null) {
                names.add(name);
            }
            int maxConcurrent = lane.boundedInt("maxConcurrent", 1, LaneConfig.MAX_COUNT);
            int queueDepth = lane.optionalBoundedInt("queueDepth", 0, LaneConfig.MAX_COUNT, 0);
            int queueTimeoutMs = lane.optionalBoundedInt("queueTimeoutMs", 1, 3_600_000, LaneConfig.DEFAULT_QUEUE_TIMEOUT_MS);
            int upstreamConnections = lane.optionalBoundedInt("upstreamConnections", 1, LaneConfig.MAX_COUNT, maxConcurrent);
            int priority = lane.optionalBoundedInt("priority", 0, LaneConfig.MAX_PRIORITY, LaneConfig.DEFAULT_PRIORITY);
            int priceMultiplierBps = lane.optionalBoundedInt("priceMultiplierBps", 1, LaneConfig.MAX_PRICE_MULTIPLIER_BPS, LaneConfig.LIST_PRICE_BPS);
            lane.rejectUnknown();
            if (problems.lines().size() == before) {
                lanes.add(new LaneConfig(name, maxConcurrent, queueDepth, queueTimeoutMs, upstreamConnections, priority, priceMultiplierBps));
            }
        }
        return lanes;
    }

    /** A key's {@code lane} or one of its {@code lanes}: the name of a declared lane, else a problem and null. */
    private static String declaredLane(String path, JsonNode value, List<String> laneNames, Problems problems) {
        if (value == null || !value.isTextual() || value.textValue().isBlank()) {
            problems.add(path, "expected the name of a lane" + YamlObject.found(value));
            return null;
        }
        String name = value.textValue();
        if (laneNames.contains(name)) {
            return name;
        }
        problems.add(path, "no lane named \"" + name + "\" is declared (lanes: " + String.join(", ", laneNames) + ")");
        return null;
    }

    private static List<RouteConfig> routes(YamlObject root, Problems problems) {
        List<RouteConfig> routes = new ArrayList<>();
        java.util.Set<String> models = new java.util.HashSet<>();
        List<JsonNode> items = root.list("routes", false);
        for (int i = 0; i < items.size(); i++) {
            YamlObject route = YamlObject.of(items.get(i), "routes[" + i + "]", problems);
            if (route == null) {
                continue;
            }
            String model = route.text("model");
            if (model != null && !models.add(model)) {
                problems.add(route.childPath("model"), "a second route for \"" + model + "\"");
            }
            List<RouteConfig.Target> targets = new ArrayList<>();
            List<JsonNode> targetItems = route.nonEmptyList("targets");
            java.util.Set<String> seen = new java.util.HashSet<>();
            for (int j = 0; j < targetItems.size(); j++) {
                YamlObject target = YamlObject.of(targetItems.get(j), route.childPath("targets") + "[" + j + "]", problems);
                if (target == null) {
                    continue;
                }
                String provider = target.text("provider");
                String upstreamModel = target.optionalText("model", model);
                int priority = target.optionalBoundedInt("priority", 1, 100, 1);
                int weight = target.optionalBoundedInt("weight", 1, 1_000, 1);
                target.rejectUnknown();
                if (provider != null && upstreamModel != null) {
                    if (!seen.add(provider + '\u0000' + upstreamModel)) {
                        problems.add(target.path(), "a second target " + provider + "/" + upstreamModel + " in this route");
                    }
                    targets.add(new RouteConfig.Target(provider, upstreamModel, priority, weight));
                }
            }
            RouteConfig.Billing billing = route.has("billing")
                    ? route.enumValue("billing", RouteConfig.Billing.class, (text, type) -> switch (text) {
                        case "prepaid" -> RouteConfig.Billing.PREPAID;
                        case "direct" -> RouteConfig.Billing.DIRECT;
                        default -> null;
                    })
                    : RouteConfig.Billing.PREPAID;
            RouteConfig.PlatformFee fee = RouteConfig.PlatformFee.NONE;
            YamlObject feeObject = route.object("platformFee", false);
            if (feeObject != null) {
                long perRequestMicros = feeObject.optionalNonNegativeLong("perRequestMicros", 0);
                int percentBps = feeObject.optionalBoundedInt("percentBps", 0, RouteConfig.PlatformFee.MAX_PERCENT_BPS, 0);
                feeObject.rejectUnknown();
                if (perRequestMicros > RouteConfig.PlatformFee.MAX_PER_REQUEST_MICROS) {
                    problems.add(feeObject.childPath("perRequestMicros"), "at most " + RouteConfig.PlatformFee.MAX_PER_REQUEST_MICROS);
                } else {
                    fee = new RouteConfig.PlatformFee(perRequestMicros, percentBps);
                }
                if (billing != RouteConfig.Billing.DIRECT) {
                    problems.add(feeObject.path(), "a platform fee is for a route with billing: direct; a prepaid route's price is the catalog's");
                }
            }
            route.rejectUnknown();
            if (model != null && !targets.isEmpty() && billing != null) {
                routes.add(new RouteConfig(model, targets, billing, fee));
            }
        }
        return routes;
    }

    /**
     * The problems of {@code routes} with the configured providers and the catalog: every target names a configured
     * provider and a model the catalog prices for it, and one route's targets speak one protocol (until requests are
     * translated between protocols, a client's surface decides which protocol serves it).
     */
    public static List<String> routeProblems(List<RouteConfig> routes, List<ProviderConfig> providers, PriceCatalog catalog, String fileName) {
        Problems problems = new Problems(fileName);
        checkRoutes(routes, providers, catalog, problems);
        return List.copyOf(problems.lines());
    }

    private static void checkRoutes(List<RouteConfig> routes, List<ProviderConfig> providers, PriceCatalog catalog, Problems problems) {
        for (int i = 0; i < routes.size(); i++) {
            RouteConfig route = routes.get(i);
            Protocol protocol = null;
            for (int j = 0; j < route.targets().size(); j++) {
                RouteConfig.Target target = route.targets().get(j);
                String path = "routes[" + i + "].targets[" + j + "]";
                ProviderConfig provider = providers.stream().filter(p -> p.name().equals(target.provider())).findFirst().orElse(null);
                if (provider == null) {
                    problems.add(path + ".provider", "no provider \"" + target.provider() + "\" is configured");
                    continue;
                }
                if (catalog.versions(provider.catalogProvider(), target.model()).isEmpty()) {
                    problems.add(path + ".model", "the catalog has no row for " + provider.catalogProvider() + "/" + target.model()
                            + ": a target is priced by its provider's catalog row (or those of the provider it pricesAs)");
                }
                if (protocol == null) {
                    protocol = provider.protocol();
                } else if (protocol != provider.protocol()) {
                    problems.add(path + ".provider", "speaks " + provider.protocol().wireName() + ", and this route's first target speaks "
                            + protocol.wireName() + ": one route's targets speak one protocol");
                }
            }
        }
    }

    private static RoutingConfig routing(YamlObject routing, Problems problems) {
        if (routing == null) {
            return RoutingConfig.DEFAULT;
        }
        RoutingConfig defaults = RoutingConfig.DEFAULT;
        int maxAttempts = routing.optionalBoundedInt("maxAttempts", 1, 10, defaults.maxAttempts());
        int backoffMs = routing.optionalBoundedInt("backoffMs", 0, 60_000, defaults.backoffMs());
        int maxBackoffMs = routing.optionalBoundedInt("maxBackoffMs", 0, 60_000, defaults.maxBackoffMs());
        if (maxBackoffMs < backoffMs) {
            problems.add(routing.childPath("maxBackoffMs"), "is less than backoffMs (" + backoffMs + ")");
        }
        RoutingConfig.Breaker breaker = defaults.breaker();
        YamlObject breakerNode = routing.object("breaker", false);
        if (breakerNode != null) {
            RoutingConfig.Breaker d = RoutingConfig.Breaker.DEFAULT;
            int windowCalls = breakerNode.optionalBoundedInt("windowCalls", 1, 10_000, d.windowCalls());
            breaker = new RoutingConfig.Breaker(breakerNode.optionalBoundedInt("consecutiveFailures", 1, 10_000, d.consecutiveFailures()),
                    breakerNode.optionalBoundedInt("failureRatePercent", 1, 100, d.failureRatePercent()), windowCalls,
                    breakerNode.optionalBoundedInt("minimumCalls", 1, 10_000, Math.min(d.minimumCalls(), windowCalls)),
                    breakerNode.optionalBoundedInt("openMs", 1, 3_600_000, d.openMs()),
                    breakerNode.optionalBoundedInt("halfOpenProbes", 1, 1_000, d.halfOpenProbes()));
            breakerNode.rejectUnknown();
        }
        routing.rejectUnknown();
        return new RoutingConfig(maxAttempts, backoffMs, maxBackoffMs, breaker);
    }

    private static AlertsConfig alerts(YamlObject alerts, Function<String, String> environment, Problems problems) {
        if (alerts == null) {
            return AlertsConfig.NONE;
        }
        YamlObject webhook = alerts.object("webhook", false);
        alerts.rejectUnknown();
        if (webhook == null) {
            return AlertsConfig.NONE;
        }
        java.net.URI url = webhook.httpUrl("url");
        String secretEnv = webhook.optionalText("secretEnv", AlertsConfig.Webhook.DEFAULT_SECRET_ENV);
        int maxAttempts = webhook.optionalBoundedInt("maxAttempts", 1, 100, AlertsConfig.Webhook.DEFAULT_MAX_ATTEMPTS);
        int initialBackoffMs = webhook.optionalBoundedInt("initialBackoffMs", 1, 3_600_000, AlertsConfig.Webhook.DEFAULT_INITIAL_BACKOFF_MS);
        int maxBackoffMs = webhook.optionalBoundedInt("maxBackoffMs", 1, 3_600_000, AlertsConfig.Webhook.DEFAULT_MAX_BACKOFF_MS);
        int timeoutMs = webhook.optionalBoundedInt("timeoutMs", 1, 600_000, AlertsConfig.Webhook.DEFAULT_TIMEOUT_MS);
        if (webhook.has("secret")) {
            problems.add(webhook.childPath("secret"), "secrets are never read from files: name an environment variable in secretEnv instead");
        }
        webhook.rejectUnknown();
        Secret secret = null;
        if (!ENV_NAME.matcher(secretEnv).matches()) {
            problems.add(webhook.childPath("secretEnv"), "expected the name of an environment variable, found \"" + secretEnv + "\"");
        } else {
            String value = environment.apply(secretEnv);
            if (value == null || value.isBlank()) {
                // Unsigned alerts would let anyone who can reach the receiver fake one (an auto-reload, say).
                problems.add(webhook.childPath("secretEnv"), "environment variable " + secretEnv + " is not set: alerts are always signed");
            } else {
                secret = new Secret(value.strip());
            }
        }
        if (maxBackoffMs < initialBackoffMs) {
            problems.add(webhook.childPath("maxBackoffMs"), "is less than initialBackoffMs (" + initialBackoffMs + ")");
        }
        return url == null || secret == null ? AlertsConfig.NONE
                : new AlertsConfig(new AlertsConfig.Webhook(url, secret, maxAttempts, initialBackoffMs, maxBackoffMs, timeoutMs));
    }

    private static MetricsConfig metrics(YamlObject metrics) {
        if (metrics == null) {
            return MetricsConfig.DEFAULT;
        }
        boolean keyLabels = metrics.optionalBoolean("keyLabels", false);
        metrics.rejectUnknown();
        return new MetricsConfig(keyLabels);
    }

    private static ListenerConfig listener(YamlObject listener) {
        if (listener == null) {
            return null;
        }
        String host = listener.text("host");
        int port = listener.boundedInt("port", 0, 65_535);
        listener.rejectUnknown();
        return new ListenerConfig(host, port);
    }

    /** @param paths receives the file path ({@code providers[i]}) of each provider returned, in the same order */
    private static List<ProviderConfig> providers(YamlObject root, Path directory, Function<String, String> environment, Problems problems,
                                                  List<String> paths) {
        List<ProviderConfig> providers = new ArrayList<>();
        Set<String> names = new HashSet<>();
        List<JsonNode> items = root.nonEmptyList("providers");
        for (int i = 0; i < items.size(); i++) {
            YamlObject provider = YamlObject.of(items.get(i), "providers[" + i + "]", problems);
            if (provider == null) {
                continue;
            }
            int before = problems.lines().size();
            String name = provider.text("name");
            if (name != null && !NAME.matcher(name).matches()) {
                problems.add(provider.childPath("name"), "expected lower-case letters, digits, '-' or '_', found \"" + name + "\"");
            } else if (name != null && !names.add(name)) {
                problems.add(provider.childPath("name"), "duplicate provider name \"" + name + "\"");
            }
            Protocol protocol = provider.enumValue("protocol", Protocol.class, Protocol::parse);
            URI baseUrl = provider.httpUrl("baseUrl");
            String apiKeyEnv = provider.optionalText("apiKeyEnv", null);
            Secret apiKey = null;
            if (apiKeyEnv != null) {
                if (!ENV_NAME.matcher(apiKeyEnv).matches()) {
                    problems.add(provider.childPath("apiKeyEnv"), "expected the name of an environment variable, found \"" + apiKeyEnv + "\"");
                } else {
                    String value = environment.apply(apiKeyEnv);
                    if (value == null || value.isBlank()) {
                        problems.add(provider.childPath("apiKeyEnv"), "environment variable " + apiKeyEnv + " is not set");
                    } else {
                        apiKey = new Secret(value.strip());
                    }
                }
            }
            if (provider.has("apiKey")) {
                problems.add(provider.childPath("apiKey"), "secrets are never read from files: name an environment variable in apiKeyEnv instead");
            }
            Path caCertFile = null;
            String caCert = provider.optionalText("caCertFile", null);
            if (caCert != null) {
                caCertFile = directory.resolve(caCert);
                if (!Files.isReadable(caCertFile)) {
                    problems.add(provider.childPath("caCertFile"), "cannot read " + caCertFile);
                }
            }
            String pricesAs = provider.optionalText("pricesAs", null);
            if (pricesAs != null && !NAME.matcher(pricesAs).matches()) {
                problems.add(provider.childPath("pricesAs"), "expected a provider name (lower-case letters, digits, '-' or '_'), found \"" + pricesAs + "\"");
            }
            Map<String, String> extraHeaders = extraHeaders(provider.object("extraHeaders", false), problems);
            Map<String, Secret> extraHeaderSecrets = extraHeaderSecrets(provider.object("extraHeadersEnv", false), extraHeaders.keySet(), environment,
                    problems);
            provider.rejectUnknown();
            if (problems.lines().size() == before) {
                providers.add(new ProviderConfig(name, protocol, baseUrl, apiKeyEnv, apiKey, caCertFile, pricesAs, extraHeaders, extraHeaderSecrets));
                paths.add(provider.path());
            }
        }
        return providers;
    }

    /** {@code extraHeaders}: header name to a value written in the file, which is therefore not secret. */
    private static Map<String, String> extraHeaders(YamlObject headers, Problems problems) {
        Map<String, String> result = new LinkedHashMap<>();
        if (headers == null) {
            return result;
        }
        Set<String> seen = new HashSet<>();
        for (String header : headers.fieldNames()) {
            String value = headers.text(header);
            if (!headerNameAllowed(headers, header, seen, problems) || value == null) {
                continue;
            }
            if (looksLikeACredential(header)) {
                problems.add(headers.childPath(header), "looks like a credential (a word of its name is key, token, secret, password, auth, cookie...);"
                        + " secrets are never read from files: name an environment variable in extraHeadersEnv instead");
            } else if (!HEADER_VALUE.matcher(value).matches()) {
                problems.add(headers.childPath(header), "expected printable ASCII without leading or trailing spaces, found \"" + value + "\"");
            } else {
                result.put(header, value);
            }
        }
        return result;
    }

    /**
     * {@code extraHeadersEnv}: header name to the environment variable holding its value, for values that are secret
     * (an organisation id, a gateway token). Problems name the variable, never its value.
     */
    private static Map<String, Secret> extraHeaderSecrets(YamlObject headers, Set<String> fromFile, Function<String, String> environment,
                                                          Problems problems) {
        Map<String, Secret> result = new LinkedHashMap<>();
        if (headers == null) {
            return result;
        }
        Set<String> seen = new HashSet<>();
        for (String header : fromFile) {
            seen.add(header.toLowerCase(Locale.ROOT));
        }
        for (String header : headers.fieldNames()) {
            String variable = headers.text(header);
            if (!headerNameAllowed(headers, header, seen, problems) || variable == null) {
                continue;
            }
            if (!ENV_NAME.matcher(variable).matches()) {
                problems.add(headers.childPath(header), "expected the name of an environment variable, found \"" + variable + "\"");
                continue;
            }
            String value = environment.apply(variable);
            if (value == null || value.isBlank()) {
                problems.add(headers.childPath(header), "environment variable " + variable + " is not set");
            } else if (!HEADER_VALUE.matcher(value.strip()).matches()) {
                problems.add(headers.childPath(header), "environment variable " + variable + " does not hold a header value (printable ASCII only)");
            } else {
                result.put(header, new Secret(value.strip()));
            }
        }
        return result;
    }

    /**
     * Whether {@code header} may be an extra header: an HTTP token (RFC 9110), not one Tollgate sets itself, and not
     * already given (in any letter case) by this provider. Records the problem when not.
     */
    private static boolean headerNameAllowed(YamlObject headers, String header, Set<String> seen, Problems problems) {
        String lower = header.toLowerCase(Locale.ROOT);
        if (!HEADER_NAME.matcher(header).matches()) {
            problems.add(headers.childPath(header), "not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)");
            return false;
        }
        String owner = TOLLGATE_HEADERS.get(lower);
        if (owner != null) {
            problems.add(headers.childPath(header), "Tollgate sets this header itself on every upstream request: " + owner);
            return false;
        }
        if (!seen.add(lower)) {
            problems.add(headers.childPath(header), "the header is given twice for this provider (names are case-insensitive)");
            return false;
        }
        return true;
    }

    /** By the words of the name ({@code x-goog-api-key}: x, goog, api, key), so that {@code x-portkey-provider} is not one. */
    private static boolean looksLikeACredential(String header) {
        for (String word : header.toLowerCase(Locale.ROOT).split("[-_.]")) {
            if (CREDENTIAL_WORDS.contains(word)) {
                return true;
            }
        }
        return false;
    }

    private static Limits limits(YamlObject limits) {
        Limits d = Limits.defaults();
        if (limits == null) {
            return d;
        }
        Limits result = new Limits(
                limits.optionalBoundedInt("maxRequestBodyBytes", 1024, 1 << 30, d.maxRequestBodyBytes()),
                limits.optionalBoundedInt("maxSseEventBytes", 1024, 64 << 20, d.maxSseEventBytes()),
                limits.optionalBoundedInt("minOutputTokens", 1, 1_000_000, d.minOutputTokens()),
                limits.optionalBoundedInt("promptTokensPerImage", 0, 1_000_000, d.promptTokensPerImage()),
                limits.optionalBoundedInt("upstreamConnectTimeoutMs", 1, 600_000, d.upstreamConnectTimeoutMs()),
                limits.optionalBoundedInt("upstreamResponseTimeoutMs", 1, 3_600_000, d.upstreamResponseTimeoutMs()),
                limits.optionalBoundedInt("upstreamIdleTimeoutMs", 1, 3_600_000, d.upstreamIdleTimeoutMs()),
                limits.optionalBoundedInt("maxAccounts", 1, 16_777_216, d.maxAccounts()),
                limits.optionalBoundedInt("maxIdleUpstreamConnections", 0, 65_536, d.maxIdleUpstreamConnections()),
                limits.optionalBoundedInt("headReadTimeoutMs", 1, 3_600_000, d.headReadTimeoutMs()),
                limits.optionalBoundedInt("clientIdleTimeoutMs", 1, 86_400_000, d.clientIdleTimeoutMs()),
                limits.optionalBoundedInt("maxClientConnections", 1, 1 << 24, d.maxClientConnections()),
                limits.optionalBoundedInt("maxClientConnectionsPerAddress", 1, 1 << 24, d.maxClientConnectionsPerAddress()));
        limits.rejectUnknown();
        return result;
    }

    private static JournalConfig journal(YamlObject journal, Path directory) {
        if (journal == null) {
            return null;
        }
        String journalDirectory = journal.text("directory");
        Durability durability = journal.has("durability")
                ? journal.enumValue("durability", Durability.class, Durability::parse)
                : Durability.PERIODIC;
        int syncIntervalMs = journal.optionalBoundedInt("syncIntervalMs", 1, 60_000, JournalConfig.DEFAULT_SYNC_INTERVAL_MS);
        long minFreeBytes = journal.optionalNonNegativeLong("minFreeBytes", JournalConfig.DEFAULT_MIN_FREE_BYTES);
        journal.rejectUnknown();
        return journalDirectory == null ? null : new JournalConfig(directory.resolve(journalDirectory), durability, syncIntervalMs, minFreeBytes);
    }

    private static AccessLogConfig accessLog(YamlObject accessLog, Path directory) {
        if (accessLog == null) {
            return AccessLogConfig.DISABLED;
        }
        boolean enabled = accessLog.optionalBoolean("enabled", false);
        String path = accessLog.optionalText("path", AccessLogConfig.DEFAULT_PATH);
        accessLog.rejectUnknown();
        if (path == null) {
            return AccessLogConfig.DISABLED; // the problem is recorded
        }
        return new AccessLogConfig(enabled, path.equals(AccessLogConfig.STANDARD_OUTPUT) ? null : directory.resolve(path));
    }

    private static List<AccountConfig> accounts(YamlObject root, List<String> lanes, Problems problems) {
        List<AccountConfig> accounts = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        Set<String> keyHashes = new HashSet<>();
        List<JsonNode> items = root.list("accounts", false);
        for (int i = 0; i < items.size(); i++) {
            YamlObject account = YamlObject.of(items.get(i), "accounts[" + i + "]", problems);
            if (account == null) {
                continue;
            }
            int before = problems.lines().size();
            String id = account.text("id");
            if (id != null && !ACCOUNT_ID.matcher(id).matches()) {
                problems.add(account.childPath("id"), "expected letters, digits, '.', '-' or '_', found \"" + id + "\"");
            } else if (id != null && !ids.add(id)) {
                problems.add(account.childPath("id"), "duplicate account id \"" + id + "\"");
            }
            long openingCreditMicros = account.nonNegativeLong("openingCreditMicros");
            List<AccountConfig.KeyConfig> keys = new ArrayList<>();
            List<JsonNode> keyItems = account.list("keys", false);
            for (int k = 0; k < keyItems.size(); k++) {
                YamlObject key = YamlObject.of(keyItems.get(k), account.childPath("keys") + "[" + k + "]", problems);
                if (key == null) {
                    continue;
                }
                String sha256 = key.text("sha256");
                String label = key.text("label");
                int keyProblemsBefore = problems.lines().size();
                String lane = key.has("lane") ? declaredLane(key.childPath("lane"), keyItems.get(k).get("lane"), lanes, problems) : null;
                List<String> pickable = new ArrayList<>();
                List<JsonNode> pickableItems = key.list("lanes", false);
                for (int p = 0; p < pickableItems.size(); p++) {
                    String name = declaredLane(key.childPath("lanes") + "[" + p + "]", pickableItems.get(p), lanes, problems);
                    if (name != null && pickable.contains(name)) {
                        problems.add(key.childPath("lanes") + "[" + p + "]", "\"" + name + "\" is listed twice");
                    } else if (name != null) {
                        pickable.add(name);
                    }
                }
                key.rejectUnknown();
                boolean lanesValid = problems.lines().size() == keyProblemsBefore;
                if (sha256 != null && !SHA256_HEX.matcher(sha256).matches()) {
                    problems.add(key.childPath("sha256"), "expected 64 lower-case hex digits (the output of `tollgate new-key`), not a raw key");
                } else if (sha256 != null && !keyHashes.add(sha256)) {
                    problems.add(key.childPath("sha256"), "the same key hash is listed twice");
                } else if (sha256 != null && label != null && lanesValid) {
                    keys.add(new AccountConfig.KeyConfig(sha256, label, lane, pickable));
                }
            }
            account.rejectUnknown();
            if (problems.lines().size() == before) {
                accounts.add(new AccountConfig(id, openingCreditMicros, keys));
            }
        }
        return accounts;
    }

    /**
     * The problems of {@code catalog} with the configured {@code providers} (as {@link #load} returned them, so in the
     * file's order), one line each as the configuration reports them: for a catalog reloaded while the node runs.
     */
    public static List<String> catalogProblems(PriceCatalog catalog, List<ProviderConfig> providers, String fileName) {
        Problems problems = new Problems(fileName);
        List<String> paths = new ArrayList<>();
        for (int i = 0; i < providers.size(); i++) {
            paths.add("providers[" + i + "]");
        }
        checkCatalogAgainstProviders(catalog, providers, paths, problems);
        return problems.lines();
    }

    /**
     * One problem for each provider whose protocol disagrees with a catalog row it serves (the rows of its name, or of
     * its {@code pricesAs}), and for each {@code pricesAs} that prices nothing or not plainly: it must name a provider
     * of the catalog (configured or not: a provider may serve another's models without that one being configured), not
     * one configured with another protocol or with a {@code pricesAs} of its own (one step, so a row's provider is
     * always found at once), and the provider that has it must have no rows of its own name (they would serve nothing).
     */
    private static void checkCatalogAgainstProviders(PriceCatalog catalog, List<ProviderConfig> providers, List<String> paths, Problems problems) {
        for (int i = 0; i < providers.size(); i++) {
            ProviderConfig provider = providers.get(i);
            String catalogProvider = provider.catalogProvider();
            boolean pricedAsAnother = !catalogProvider.equals(provider.name());
            if (pricedAsAnother && !pricesAsValid(catalog, providers, provider, paths.get(i) + ".pricesAs", problems)) {
                continue;
            }
            rows:
            for (ModelRow row : catalog.rows()) {
                if (!row.provider().equals(catalogProvider)) {
                    continue;
                }
                for (EndpointFamily family : row.endpoints()) {
                    if (family.protocol() != provider.protocol()) {
                        problems.add(paths.get(i) + ".protocol", "is configured as " + provider.protocol().wireName()
                                + " but the catalog row " + row.model() + (pricedAsAnother ? " of " + catalogProvider + " (its pricesAs)" : "")
                                + " serves " + family.wireName());
                        break rows;
                    }
                }
            }
        }
    }

    /** Whether {@code provider}'s pricesAs can price it; false with the problem recorded. */
    private static boolean pricesAsValid(PriceCatalog catalog, List<ProviderConfig> providers, ProviderConfig provider, String path,
                                           Problems problems) {
        String pricesAs = provider.pricesAs();
        for (ProviderConfig other : providers) {
            if (!other.name().equals(pricesAs)) {
                continue;
            }
            if (other.protocol() != provider.protocol()) {
                problems.add(path, "names " + pricesAs + ", which is configured as " + other.protocol().wireName() + ", but this provider is "
                        + provider.protocol().wireName());
                return false;
            }
            if (!other.catalogProvider().equals(other.name())) {
                problems.add(path, "names " + pricesAs + ", which is itself priced as " + other.catalogProvider() + "; name "
                        + other.catalogProvider() + " here instead");
                return false;
            }
        }
        ModelRow own = null;
        boolean priced = false;
        for (ModelRow row : catalog.rows()) {
            priced |= row.provider().equals(pricesAs);
            if (own == null && row.provider().equals(provider.name())) {
                own = row;
            }
        }
        if (!priced) {
            problems.add(path, "the catalog has no rows of provider " + pricesAs);
            return false;
        }
        if (own != null) {
            problems.add(path, "the catalog also has rows of " + provider.name() + " itself (" + own.model()
                    + "), which would serve nothing; remove pricesAs or those rows");
            return false;
        }
        return true;
    }
}
