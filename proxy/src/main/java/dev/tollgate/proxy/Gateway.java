package dev.tollgate.proxy;

import dev.tollgate.config.AccountConfig;
import dev.tollgate.config.Limits;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.metering.AccountBook;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.ModelRoutes;
import dev.tollgate.metering.request.Admission;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;

/**
 * The state every connection of one node shares: accounts and their balances, keys, routes,
 * admission rules, and where outcomes go. Built once at start-up.
 */
public final class Gateway {
    private final TollgateConfig config;
    private final AccountBook accounts;
    private final ApiKeys keys = new ApiKeys();
    private final ModelRoutes routes;
    private final Admission admission;
    private final Consumer<Outcome> outcomes;

    /** @param outcomes receives every settle and release, on the event loop that produced it: keep it short */
    public Gateway(TollgateConfig config, Consumer<Outcome> outcomes) {
        this.config = config;
        this.accounts = new AccountBook(config.limits().maxAccounts());
        this.routes = new ModelRoutes(config.catalog(), config.providers());
        this.admission = new Admission(config.limits());
        this.outcomes = Objects.requireNonNull(outcomes);
        for (AccountConfig account : config.accounts()) {
            int slot = accounts.open(account.id());
            accounts.balances().credit(slot, account.openingCreditMicros());
            for (AccountConfig.KeyConfig key : account.keys()) {
                keys.add(new ApiKeys.ApiKey(key.sha256Hex(), key.label(), account.id(), slot));
            }
        }
    }

    public TollgateConfig config() {
        return config;
    }

    public Limits limits() {
        return config.limits();
    }

    public AccountBook accounts() {
        return accounts;
    }

    public ApiKeys keys() {
        return keys;
    }

    public ModelRoutes routes() {
        return routes;
    }

    public Admission admission() {
        return admission;
    }

    void publish(Outcome outcome) {
        outcomes.accept(outcome);
    }

    /** A request id unique enough to find one request in logs: {@code tg_req_} and 16 random hex digits. */
    static String newRequestId() {
        return "tg_req_" + Long.toHexString(ThreadLocalRandom.current().nextLong() | Long.MIN_VALUE);
    }
}
