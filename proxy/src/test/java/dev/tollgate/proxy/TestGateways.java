package dev.tollgate.proxy;

import dev.tollgate.config.AccountConfig;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.Durability;
import dev.tollgate.config.JournalConfig;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.Ledger;
import dev.tollgate.journal.LedgerState;
import dev.tollgate.journal.reconcile.Reconciler;
import dev.tollgate.journal.reconcile.ReconcilerSettings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
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
public final class TestGateways implements AutoCloseable {
    public static final String ACCOUNT = "acme";
    /** The key Tollgate injects upstream; tests check that it, and never the client's key, reaches the provider. */
    public static final Secret PROVIDER_KEY = new Secret("sk-provider-test-key");

    public final String key = ApiKeys.newRawKey(new SecureRandom());
    public final Queue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
    public final Gateway gateway;
    public final Path journalDirectory;
    public final Journal journal;
    private final TollgateConfig config;
    private Reconciler reconciler;

    public TestGateways(String upstreamBaseUrl, long balanceMicros, Limits limits) {
        this(upstreamBaseUrl, balanceMicros, limits, Durability.PAGE_CACHE);
    }

    public TestGateways(String upstreamBaseUrl, long balanceMicros, Limits limits, Durability durability) {
        this(List.of(
                new ProviderConfig("openai", Protocol.OPENAI, URI.create(upstreamBaseUrl), null, PROVIDER_KEY, null),
                new ProviderConfig("anthropic", Protocol.ANTHROPIC, URI.create(upstreamBaseUrl), null, PROVIDER_KEY, null),
                new ProviderConfig("google", Protocol.OPENAI, URI.create(upstreamBaseUrl), null, PROVIDER_KEY, null),
                new ProviderConfig("deepseek", Protocol.OPENAI, URI.create(upstreamBaseUrl), null, PROVIDER_KEY, null)), balanceMicros, limits,
                durability);
    }

    public TestGateways(List<ProviderConfig> providers, long balanceMicros, Limits limits) {
        this(providers, balanceMicros, limits, Durability.PAGE_CACHE);
    }

    public TestGateways(List<ProviderConfig> providers, long balanceMicros, Limits limits, Durability durability) {
        this(providers, balanceMicros, limits, durability, List.of(), dev.tollgate.config.RoutingConfig.DEFAULT, java.util.function.UnaryOperator.identity());
    }

    /** As the providers at one base URL, with the configuration changed by {@code adjust} (lanes, more keys) before the gateway starts. */
    public TestGateways(String upstreamBaseUrl, long balanceMicros, Limits limits, java.util.function.UnaryOperator<TollgateConfig> adjust) {
        this(List.of(
                new ProviderConfig("openai", Protocol.OPENAI, URI.create(upstreamBaseUrl), null, PROVIDER_KEY, null),
                new ProviderConfig("anthropic", Protocol.ANTHROPIC, URI.create(upstreamBaseUrl), null, PROVIDER_KEY, null)), balanceMicros, limits,
                Durability.PAGE_CACHE, List.of(), dev.tollgate.config.RoutingConfig.DEFAULT, adjust);
    }

    /** A gateway whose model names may be served by {@code routes}, falling back as {@code routing} says. */
    public TestGateways(List<ProviderConfig> providers, long balanceMicros, Limits limits, List<dev.tollgate.config.RouteConfig> routes,
                        dev.tollgate.config.RoutingConfig routing) {
        this(providers, balanceMicros, limits, Durability.PAGE_CACHE, routes, routing, java.util.function.UnaryOperator.identity());
    }

    private TestGateways(List<ProviderConfig> providers, long balanceMicros, Limits limits, Durability durability,
                         List<dev.tollgate.config.RouteConfig> routes, dev.tollgate.config.RoutingConfig routing,
                         java.util.function.UnaryOperator<TollgateConfig> adjust) {
        AccountConfig account = new AccountConfig(ACCOUNT, balanceMicros,
                List.of(new AccountConfig.KeyConfig(ApiKeys.sha256Hex(key), "test-key")));
        try {
            journalDirectory = Files.createTempDirectory("tollgate-test-journal");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        TollgateConfig config = new TollgateConfig(new ListenerConfig("127.0.0.1", 0), providers, CatalogLoader.loadBuiltin(), limits,
                new JournalConfig(journalDirectory, durability, JournalConfig.DEFAULT_SYNC_INTERVAL_MS), List.of(account)).withRoutes(routes, routing);
        config = adjust.apply(config);
        this.config = config;
        journal = Journal.open(journalDirectory, durability, 0);
        Ledger ledger = Ledger.recover(journal, config.journal().snapshotDirectory(), limits.maxAccounts(), System::currentTimeMillis);
        gateway = new Gateway(config, ledger, outcomes::add);
    }

    public int slot() {
        return gateway.accounts().slotOf(ACCOUNT);
    }

    public long available() {
        return gateway.accounts().balances().availableMicros(slot());
    }

    public long reserved() {
        return gateway.accounts().balances().reservedMicros(slot());
    }

    /** Starts a reconciler on this gateway's journal and live counters, as {@link TollgateNode} does; closed with the gateway. */
    public Reconciler startReconciler(ReconcilerSettings settings) {
        reconciler = Reconciler.start(journal, config.journal().snapshotDirectory(), gateway.accounts(), settings, System::currentTimeMillis);
        return reconciler;
    }

    /**
     * For EmbeddedChannel tests: waits until the journal writer has acknowledged everything, then runs
     * the acknowledgements' continuations that it queued on the channel's event loop.
     */
    public void runJournalAcknowledgements(io.netty.channel.embedded.EmbeddedChannel channel) {
        gateway.ledger().writer().awaitWritten();
        channel.runPendingTasks();
    }

    /** The journal replayed from empty, as recovery would see it. */
    public LedgerState replayJournal() {
        gateway.ledger().writer().awaitWritten();
        LedgerState state = new LedgerState();
        journal.readAfter(-1, state::apply);
        return state;
    }

    @Override
    public void close() {
        gateway.ledger().close();
        if (reconciler != null) {
            reconciler.close();
        }
        journal.close();
        try (var paths = Files.walk(journalDirectory)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            // a temporary directory left behind is harmless
        }
    }

    public long conservationError() {
        return gateway.accounts().balances().conservationErrorMicros(slot());
    }
}
