package dev.tollgate.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
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
 *     upstreamConnections: 256      # optional (maxConcurrent): open upstream connections, split across event loops
 *     priority: 0                   # optional (0): lower first when resumptions of several lanes meet on one event loop
 *     priceMultiplierBps: 10000     # optional (10000): 5000 bills the lane's tokens at half price
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
        root.rejectUnknown();

        if (catalog != null) {
            checkCatalogAgainstProviders(catalog, providers, providerPaths, problems);
        }
        problems.throwIfAny();
        return new TollgateConfig(proxyListener, providers, catalog, limits, journal, accounts, adminListener, accessLog, alerts, metrics, lanes);
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
            provider.rejectUnknown();
            if (problems.lines().size() == before) {
                providers.add(new ProviderConfig(name, protocol, baseUrl, apiKeyEnv, apiKey, caCertFile));
                paths.add(provider.path());
            }
        }
        return providers;
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

    /** One problem for each provider whose protocol disagrees with a catalog row of its name. */
    private static void checkCatalogAgainstProviders(PriceCatalog catalog, List<ProviderConfig> providers, List<String> paths, Problems problems) {
        for (int i = 0; i < providers.size(); i++) {
            ProviderConfig provider = providers.get(i);
            rows:
            for (ModelRow row : catalog.rows()) {
                if (!row.provider().equals(provider.name())) {
                    continue;
                }
                for (EndpointFamily family : row.endpoints()) {
                    if (family.protocol() != provider.protocol()) {
                        problems.add(paths.get(i) + ".protocol", "is configured as " + provider.protocol().wireName()
                                + " but the catalog row " + row.model() + " serves " + family.wireName());
                        break rows;
                    }
                }
            }
        }
    }
}
