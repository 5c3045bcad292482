package dev.tollgate.proxy;

import dev.tollgate.config.AccountConfig;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.Limits;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.config.Secret;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.metering.ApiKeys;
import java.net.URI;
import java.security.SecureRandom;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/** A gateway for tests: OpenAI-protocol providers openai/google/deepseek and Anthropic, all at one base URL, and one funded account. */
final class TestGateways {
    static final String ACCOUNT = "acme";
    /** The key Tollgate injects upstream; tests check that it, and never the client's key, reaches the provider. */
    static final Secret PROVIDER_KEY = new Secret("sk-provider-test-key");

    final String key = ApiKeys.newRawKey(new SecureRandom());
    final Queue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
    final Gateway gateway;

    TestGateways(String upstreamBaseUrl, long balanceMicros, Limits limits) {
        this(List.of(
                new ProviderConfig("openai", Protocol.OPENAI, URI.create(upstreamBaseUrl), null, PROVIDER_KEY, null),
                new ProviderConfig("anthropic", Protocol.ANTHROPIC, URI.create(upstreamBaseUrl), null, PROVIDER_KEY, null),
                new ProviderConfig("google", Protocol.OPENAI, URI.create(upstreamBaseUrl), null, PROVIDER_KEY, null),
                new ProviderConfig("deepseek", Protocol.OPENAI, URI.create(upstreamBaseUrl), null, PROVIDER_KEY, null)), balanceMicros, limits);
    }

    TestGateways(List<ProviderConfig> providers, long balanceMicros, Limits limits) {
        AccountConfig account = new AccountConfig(ACCOUNT, balanceMicros,
                List.of(new AccountConfig.KeyConfig(ApiKeys.sha256Hex(key), "test-key")));
        TollgateConfig config = new TollgateConfig(new ListenerConfig("127.0.0.1", 0), providers, CatalogLoader.loadBuiltin(), limits,
                List.of(account));
        gateway = new Gateway(config, outcomes::add);
    }

    int slot() {
        return gateway.accounts().slotOf(ACCOUNT);
    }

    long available() {
        return gateway.accounts().balances().availableMicros(slot());
    }

    long reserved() {
        return gateway.accounts().balances().reservedMicros(slot());
    }

    long conservationError() {
        return gateway.accounts().balances().conservationErrorMicros(slot());
    }
}
