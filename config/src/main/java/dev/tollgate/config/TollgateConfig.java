package dev.tollgate.config;

import java.util.List;

/** The whole validated configuration of one Tollgate node. */
public record TollgateConfig(
        ListenerConfig proxyListener,
        List<ProviderConfig> providers,
        PriceCatalog catalog,
        Limits limits,
        JournalConfig journal,
        List<AccountConfig> accounts) {

    public TollgateConfig {
        providers = List.copyOf(providers);
        accounts = List.copyOf(accounts);
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
