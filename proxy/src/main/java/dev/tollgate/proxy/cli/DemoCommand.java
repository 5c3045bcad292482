package dev.tollgate.proxy.cli;

import dev.tollgate.config.AccountConfig;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.Durability;
import dev.tollgate.config.JournalConfig;
import dev.tollgate.config.Limits;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.config.Secret;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.proxy.Money;
import dev.tollgate.proxy.TollgateNode;
import dev.tollgate.proxy.Transport;
import dev.tollgate.proxy.admin.AdminTokens;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Tollgate on its embedded default: a simulated provider that speaks the real OpenAI and Anthropic
 * wire formats stands in for every provider of the shipped catalog, and one demo account is opened.
 */
@Command(name = "demo", description = "Run Tollgate against a built-in simulated provider, with a demo account and key.")
final class DemoCommand implements Callable<Integer> {

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Listen address (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "Tollgate's port (default: ${DEFAULT-VALUE}; 0 picks a free one).")
    int port;

    @Option(names = "--admin-port", defaultValue = "8081", description = "The admin API's port (default: ${DEFAULT-VALUE}; 0 picks a free one, -1 none).")
    int adminPort;

    @Option(names = "--balance-micros", defaultValue = "5000000", description = "The demo account's opening balance in micro-USD (default: ${DEFAULT-VALUE}).")
    long balanceMicros;

    @Option(names = "--events", defaultValue = "24", description = "Output tokens (stream events) per simulated answer (default: ${DEFAULT-VALUE}).")
    int events;

    @Option(names = "--event-delay-ms", defaultValue = "20", description = "Pause between simulated stream events (default: ${DEFAULT-VALUE}).")
    int eventDelayMs;

    @Option(names = "--first-byte-ms", defaultValue = "0", description = "Simulated time to the first byte (default: ${DEFAULT-VALUE}).")
    int firstByteMs;

    @Option(names = "--threads", defaultValue = "0", description = "Event loop threads (default: one per core).")
    int threads;

    @Option(names = "--quiet", description = "Do not print a line per request.")
    boolean quiet;

    @Option(names = "--provider-key", description = "The key the simulated provider demands (default: a random one), "
            + "for benchmarks that also call it directly.")
    String providerKeyOption;

    @Option(names = "--journal", description = "Keep the ledger journal in this directory, across runs (default: a temporary one).")
    Path journalDirectory;

    @Option(names = "--upstream-threads", defaultValue = "1", description = "Event loop threads of the simulated provider (default: ${DEFAULT-VALUE}).")
    int upstreamThreads;

    @Option(names = "--alert-webhook", description = "Deliver soft alerts to this URL, signed with $"
            + dev.tollgate.config.AlertsConfig.Webhook.DEFAULT_SECRET_ENV + " (default: none).")
    URI alertWebhook;

    @Override
    public Integer call() throws Exception {
        // The simulated provider insists on its own key, as a real one does: Tollgate injects it, and the
        // demo key a client presents never reaches the provider.
        Secret providerKey = new Secret(providerKeyOption != null ? providerKeyOption
                : ApiKeys.newRawKey(new SecureRandom()).replace("tg-", "sim-"));
        SimulatedProvider simulated = SimulatedProvider.start(SimulatedProvider.Settings.defaults()
                .withHost("127.0.0.1")
                .withRequiredApiKey(providerKey.reveal())
                .withIoThreads(upstreamThreads)
                .withDefaultEvents(events)
                .withInterEventDelayMs(eventDelayMs)
                .withFirstByteDelayMs(firstByteMs));
        URI upstream = URI.create(simulated.baseUrl());
        // A second OpenAI region that is down (a port nothing listens on), first in the route of gpt-4o-mini-ha: a request
        // for that model shows a fallback to openai before anything reached the client.
        URI down = URI.create("http://127.0.0.1:" + unusedPort() + "/v1");
        List<ProviderConfig> providers = List.of(
                new ProviderConfig("openai", Protocol.OPENAI, upstream, null, providerKey, null),
                new ProviderConfig("anthropic", Protocol.ANTHROPIC, upstream, null, providerKey, null),
                new ProviderConfig("google", Protocol.OPENAI, upstream, null, providerKey, null),
                new ProviderConfig("deepseek", Protocol.OPENAI, upstream, null, providerKey, null),
                new ProviderConfig("openai-down", Protocol.OPENAI, down, null, providerKey, null, "openai", java.util.Map.of(), java.util.Map.of()));
        List<dev.tollgate.config.RouteConfig> routes = List.of(new dev.tollgate.config.RouteConfig(DEMO_ROUTE, List.of(
                new dev.tollgate.config.RouteConfig.Target("openai-down", "gpt-4o-mini", 1, 1),
                new dev.tollgate.config.RouteConfig.Target("openai", "gpt-4o-mini", 2, 1))));
        PriceCatalog catalog = CatalogLoader.loadBuiltin();
        String key = ApiKeys.newRawKey(new SecureRandom());
        AccountConfig account = new AccountConfig("demo", balanceMicros, List.of(new AccountConfig.KeyConfig(ApiKeys.sha256Hex(key), "demo-key")));
        boolean temporaryJournal = journalDirectory == null;
        Path journalPath = temporaryJournal ? Files.createTempDirectory("tollgate-demo-journal") : journalDirectory;
        TollgateConfig config = new TollgateConfig(new ListenerConfig(host, port), providers, catalog, Limits.defaults(),
                new JournalConfig(journalPath, Durability.PERIODIC, JournalConfig.DEFAULT_SYNC_INTERVAL_MS), List.of(account))
                .withAdminListener(adminPort < 0 ? null : new ListenerConfig(host, adminPort))
                .withRoutes(routes, dev.tollgate.config.RoutingConfig.DEFAULT);
        if (alertWebhook != null) {
            String secret = System.getenv(dev.tollgate.config.AlertsConfig.Webhook.DEFAULT_SECRET_ENV);
            if (secret == null || secret.isBlank()) {
                throw new IllegalArgumentException("--alert-webhook: set " + dev.tollgate.config.AlertsConfig.Webhook.DEFAULT_SECRET_ENV
                        + " to the secret that signs the alerts");
            }
            config = config.withAlerts(new dev.tollgate.config.AlertsConfig(new dev.tollgate.config.AlertsConfig.Webhook(alertWebhook,
                    new Secret(secret.strip()), dev.tollgate.config.AlertsConfig.Webhook.DEFAULT_MAX_ATTEMPTS,
                    dev.tollgate.config.AlertsConfig.Webhook.DEFAULT_INITIAL_BACKOFF_MS, dev.tollgate.config.AlertsConfig.Webhook.DEFAULT_MAX_BACKOFF_MS,
                    dev.tollgate.config.AlertsConfig.Webhook.DEFAULT_TIMEOUT_MS)));
        }
        // A fresh admin token each run, shown below: the demo's admin API is as closed as a real one.
        String adminToken = "tga-" + ApiKeys.newRawKey(new SecureRandom()).substring(ApiKeys.KEY_PREFIX.length());

        OutcomePrinter printer = new OutcomePrinter(System.out, catalog.currency());
        TollgateNode node = TollgateNode.start(config, quiet ? outcome -> { } : printer::print,
                threads > 0 ? threads : Runtime.getRuntime().availableProcessors(), Transport.best(),
                AdminTokens.of("demo-admin", AdminTokens.Role.WRITE, adminToken));
        String base = "http://" + host + ":" + node.port();
        System.out.println("Tollgate demo on " + base + " (simulated OpenAI + Anthropic upstream on " + simulated.rootUrl() + ")");
        long available = node.gateway().accounts().snapshot("demo").availableMicros();
        System.out.println("Account 'demo' has " + Money.format(available, catalog.currency()) + "; journal in " + journalPath
                + (temporaryJournal ? " (temporary)" : "") + ". Its key, shown once:");
        System.out.println();
        System.out.println("  export TOLLGATE_KEY=" + key);
        System.out.println();
        System.out.println("Try (OpenAI surface, streaming, then Anthropic, then the balance):");
        System.out.println("  curl -s " + base + "/v1/chat/completions -H \"Authorization: Bearer $TOLLGATE_KEY\" -H 'content-type: application/json' \\");
        System.out.println("    -d '{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}]}'");
        System.out.println("  curl -sN " + base + "/v1/chat/completions -H \"Authorization: Bearer $TOLLGATE_KEY\" -H 'content-type: application/json' \\");
        System.out.println("    -d '{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}]}'");
        System.out.println("  curl -s " + base + "/v1/messages -H \"x-api-key: $TOLLGATE_KEY\" -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' \\");
        System.out.println("    -d '{\"model\":\"claude-haiku-4-5\",\"max_tokens\":256,\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}]}'");
        System.out.println("  curl -s " + base + "/tollgate/v1/balance -H \"Authorization: Bearer $TOLLGATE_KEY\"");
        System.out.println("The model " + DEMO_ROUTE + " is routed to openai-down first (nothing listens there), then to openai:");
        System.out.println("  curl -s " + base + "/v1/chat/completions -H \"Authorization: Bearer $TOLLGATE_KEY\" -H 'content-type: application/json' \\");
        System.out.println("    -d '{\"model\":\"" + DEMO_ROUTE + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}]}'");
        System.out.println();
        if (node.adminPort() >= 0) {
            String adminUrl = "http://" + host + ":" + node.adminPort();
            System.out.println("Admin API on " + adminUrl + "/admin/v1 and metrics on " + adminUrl + "/metrics; the demo admin token:");
            System.out.println();
            System.out.println("  export TOLLGATE_ADMIN_TOKEN=" + adminToken);
            System.out.println();
            System.out.println("  bin/tollgate accounts" + (node.adminPort() == 8081 ? "" : " --url " + adminUrl)
                    + "          # balances; also topup, adjust, keys, usage, requests, statement, audit (--help)");
            System.out.println();
        }
        CatalogReloadSignal.install(node.gateway(), System.out);
        System.out.println("Each request prints its exact cost and the balance after it. Ctrl-C stops.");
        System.out.flush();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            node.close();
            simulated.close();
            if (temporaryJournal) {
                deleteRecursively(journalPath);
            }
            stopped.countDown();
        }, "tollgate-shutdown"));
        stopped.await();
        return 0;
    }

    /** The model name of the demo's route, whose first target is down. */
    static final String DEMO_ROUTE = "gpt-4o-mini-ha";

    /** A loopback port nothing listens on (one the system just handed out and took back). */
    private static int unusedPort() throws java.io.IOException {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static void deleteRecursively(Path directory) {
        try (var paths = Files.walk(directory)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (java.io.IOException e) {
            // A temporary directory left behind is harmless.
        }
    }
}
