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
        AdminTokens tokens = AdminTokens.fromEnvironment(Map.of(AdminTokens.TOKENS_ENV, "ops:write:" + WRITE_TOKEN + ",auditor:read:" + READ_TOKEN)::get);
        return TollgateNode.start(config(sim, directory, configKey, new ListenerConfig("127.0.0.1", 0), catalog), outcome -> { }, 1, Transport.best(),
                tokens);
    }
}
