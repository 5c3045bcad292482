package dev.tollgate.proxy.admin;

import dev.tollgate.config.AccountConfig;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.Durability;
import dev.tollgate.config.JournalConfig;
import dev.tollgate.config.Limits;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.config.Secret;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.proxy.TollgateNode;
import dev.tollgate.proxy.Transport;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A node for admin tests: the simulated provider for OpenAI and Anthropic, a journal in {@code directory}, one
 * account from the configuration ({@code bootstrap}, 1,000,000 micros, one key) and an admin listener on a free
 * loopback port taking a write token ({@code ops}) and a read token ({@code auditor}).
 */
public final class AdminTestNode {
    public static final String WRITE_TOKEN = "ops-secret-0123456789abcdef";
    public static final String READ_TOKEN = "auditor-secret-0123456789";

    private AdminTestNode() {
    }

    public static TollgateConfig config(SimulatedProvider sim, Path directory, String configKey, ListenerConfig admin) {
        return config(sim, directory, configKey, admin, CatalogLoader.loadBuiltin());
    }

    /** As above with {@code catalog} (read from a file, a reload reads that file again). */
    public static TollgateConfig config(SimulatedProvider sim, Path directory, String configKey, ListenerConfig admin, PriceCatalog catalog) {
        URI upstream = URI.create(sim.baseUrl());
        Secret providerKey = new Secret("sk-provider-admin-test-key");
        return new TollgateConfig(new ListenerConfig("127.0.0.1", 0),
                List.of(new ProviderConfig("openai", Protocol.OPENAI, upstream, null, providerKey, null),
                        new ProviderConfig("anthropic", Protocol.ANTHROPIC, upstream, null, providerKey, null)),
                catalog, Limits.defaults(),
                new JournalConfig(directory.resolve("journal"), Durability.PAGE_CACHE, JournalConfig.DEFAULT_SYNC_INTERVAL_MS),
                List.of(new AccountConfig("bootstrap", 1_000_000, List.of(new AccountConfig.KeyConfig(ApiKeys.sha256Hex(configKey), "boot")))))
                .withAdminListener(admin);
    }

    public static TollgateNode start(SimulatedProvider sim, Path directory, String configKey) throws InterruptedException {
        return start(sim, directory, configKey, CatalogLoader.loadBuiltin());
    }

    public static TollgateNode start(SimulatedProvider sim, Path directory, String configKey, PriceCatalog catalog) throws InterruptedException {
        return start(config(sim, directory, configKey, new ListenerConfig("127.0.0.1", 0), catalog));
    }

    /** A node of {@code config} (made with {@link #config}, perhaps changed) taking the two admin tokens. */
    public static TollgateNode start(TollgateConfig config) throws InterruptedException {
        AdminTokens tokens = AdminTokens.fromEnvironment(Map.of(AdminTokens.TOKENS_ENV, "ops:write:" + WRITE_TOKEN + ",auditor:read:" + READ_TOKEN)::get);
        return TollgateNode.start(config, outcome -> { }, 1, Transport.best(), tokens);
    }

    /**
     * Calls the admin API of {@code node} with the write token and checks the status: {@code headers} are name, value
     * pairs. Returns the parsed JSON body.
     */
    public static com.fasterxml.jackson.databind.JsonNode admin(java.net.http.HttpClient http, TollgateNode node, String method, String path,
                                                                 String body, int status, String... headers) throws Exception {
        java.net.http.HttpRequest.Builder request = java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.adminPort() + path))
                .timeout(java.time.Duration.ofSeconds(30)).header("Authorization", "Bearer " + WRITE_TOKEN).header("Content-Type", "application/json")
                .method(method, body == null ? java.net.http.HttpRequest.BodyPublishers.noBody() : java.net.http.HttpRequest.BodyPublishers.ofString(body));
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        java.net.http.HttpResponse<String> response = http.send(request.build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        org.assertj.core.api.Assertions.assertThat(response.statusCode()).as("%s %s: %s", method, path, response.body()).isEqualTo(status);
        return JSON.readTree(response.body());
    }

    /** Re-rated under the catalog in force, every debit {@code node}'s journal holds comes out exactly as billed. */
    public static void assertRerateReproducesTheDebits(TollgateNode node) {
        node.gateway().ledger().writer().awaitWritten();
        List<dev.tollgate.journal.reconcile.Rerating.Row> rerated = dev.tollgate.journal.reconcile.Rerating.rerate(node.gateway().ledger().journal(),
                node.gateway().routes().catalog(), dev.tollgate.config.ProviderConfig.catalogProviders(node.gateway().config().providers()), 0, Long.MAX_VALUE);
        org.assertj.core.api.Assertions.assertThat(rerated).isNotEmpty().allSatisfy(row -> {
            org.assertj.core.api.Assertions.assertThat(row.differenceMicros()).as("%s", row).isZero();
            org.assertj.core.api.Assertions.assertThat(row.unpriced()).isZero();
        });
    }

    /**
     * A simulated provider and a node of {@code catalog} in front of it, with the configuration's key and an HTTP
     * client: what a pricing test through the proxy starts with. Closing it stops both.
     */
    public record Running(SimulatedProvider sim, TollgateNode node, String key, java.net.http.HttpClient http) implements AutoCloseable {
        public static Running start(Path directory, PriceCatalog catalog) throws Exception {
            SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
            String key = ApiKeys.newRawKey(new java.security.SecureRandom());
            try {
                TollgateNode node = AdminTestNode.start(config(sim, directory, key, new ListenerConfig("127.0.0.1", 0), catalog));
                return new Running(sim, node, key, java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1)
                        .connectTimeout(java.time.Duration.ofSeconds(10)).build());
            } catch (Exception | Error e) {
                sim.close();
                throw e;
            }
        }

        /** Gives the configuration's account {@code micros} more, once per {@code idempotencyKey}. */
        public void fund(long micros, String idempotencyKey) throws Exception {
            admin(http, node, "POST", "/admin/v1/accounts/bootstrap/credits", "{\"amount_micros\":" + micros + "}", 201, "Idempotency-Key", idempotencyKey);
        }

        /**
         * Sends {@code body} to {@code path} with the key as its surface takes it ({@code x-api-key} on /v1/messages, else a
         * bearer token), expects a 200, and returns the request log's entry of it once journaled (it must be settled) with
         * the reservation the response's header named.
         */
        public Billed billed(String path, String body) throws Exception {
            java.net.http.HttpRequest.Builder request = java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + path))
                    .timeout(java.time.Duration.ofSeconds(60)).header("Content-Type", "application/json")
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body));
            if (path.equals("/v1/messages")) {
                request.header("x-api-key", key).header("anthropic-version", "2023-06-01");
            } else {
                request.header("Authorization", "Bearer " + key);
            }
            java.net.http.HttpResponse<String> response = http.send(request.build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            org.assertj.core.api.Assertions.assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            node.gateway().ledger().writer().awaitWritten();
            com.fasterxml.jackson.databind.JsonNode entry = admin(http, node, "GET", "/admin/v1/requests?account=bootstrap&limit=1", null, 200)
                    .path("data").get(0);
            org.assertj.core.api.Assertions.assertThat(entry.path("status").asText()).isEqualTo("settled");
            return new Billed(entry, Long.parseLong(response.headers().firstValue("x-tollgate-reserved-micros").orElseThrow()));
        }

        @Override
        public void close() {
            node.close();
            sim.close();
        }
    }

    /** A settled request as the request log shows it, and what was reserved for it. */
    public record Billed(com.fasterxml.jackson.databind.JsonNode entry, long reservedMicros) {
        public long costMicros() {
            return entry.path("cost_micros").asLong();
        }

        public long tokens(String field) {
            return entry.path(field).asLong();
        }
    }

    /** The node's {@code /metrics} page, as the read token sees it. */
    public static String metrics(java.net.http.HttpClient http, TollgateNode node) throws Exception {
        java.net.http.HttpResponse<String> response = http.send(java.net.http.HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + node.adminPort() + "/metrics")).header("Authorization", "Bearer " + READ_TOKEN).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        org.assertj.core.api.Assertions.assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();
}
