package dev.tollgate.proxy;

import dev.tollgate.proxy.listener.TollgateServer;

import dev.tollgate.config.JournalConfig;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.Ledger;
import dev.tollgate.journal.RecoveryReport;
import dev.tollgate.journal.reconcile.Reconciler;
import dev.tollgate.journal.reconcile.ReconcilerSettings;
import java.util.function.Consumer;

/**
 * One running Tollgate: the journal opened, the ledger recovered from it, the configuration applied,
 * the reconciler tailing the journal, the proxy listening. Closing it stops the listener first, so
 * nothing is appended any more; then the reconciler catches up to the end and writes its snapshot
 * (which the next start-up recovers from); then the journal closes.
 */
public final class TollgateNode implements AutoCloseable {
    private final Journal journal;
    private final Gateway gateway;
    private final Reconciler reconciler;
    private final TollgateServer server;

    private TollgateNode(Journal journal, Gateway gateway, Reconciler reconciler, TollgateServer server) {
        this.journal = journal;
        this.gateway = gateway;
        this.reconciler = reconciler;
        this.server = server;
    }

    public static TollgateNode start(TollgateConfig config, Consumer<Outcome> outcomes, int threads, Transport transport)
            throws InterruptedException {
        JournalConfig journalConfig = config.journal();
        Journal journal = Journal.open(journalConfig.directory(), journalConfig.durability(), journalConfig.syncIntervalMs());
        Reconciler reconciler = null;
        try {
            Ledger ledger = Ledger.recover(journal, journalConfig.snapshotDirectory(), config.limits().maxAccounts(), System::currentTimeMillis);
            Gateway gateway = new Gateway(config, ledger, outcomes);
            // After recovery and the configuration's own records, so its first conservation check sees them all.
            reconciler = Reconciler.start(journal, journalConfig.snapshotDirectory(), gateway.accounts(), ReconcilerSettings.fromSystemProperties(),
                    System::currentTimeMillis);
            TollgateServer server = TollgateServer.start(gateway, config.proxyListener(), threads, transport);
            gateway.metrics().watch(reconciler, server.connections());
            return new TollgateNode(journal, gateway, reconciler, server);
        } catch (RuntimeException | InterruptedException e) {
            if (reconciler != null) {
                reconciler.close();
            }
            journal.close();
            throw e;
        }
    }

    public static TollgateNode start(TollgateConfig config, Consumer<Outcome> outcomes) throws InterruptedException {
        return start(config, outcomes, Runtime.getRuntime().availableProcessors(), Transport.best());
    }

    public Gateway gateway() {
        return gateway;
    }

    public TollgateServer server() {
        return server;
    }

    public int port() {
        return server.port();
    }

    public Journal journal() {
        return journal;
    }

    /** Rollups, statements, usage, the conservation check (drift) and lag. */
    public Reconciler reconciler() {
        return reconciler;
    }

    public RecoveryReport recoveryReport() {
        return gateway.ledger().recoveryReport();
    }

    @Override
    public void close() {
        server.close();
        gateway.ledger().close(); // journals what the writer still holds
        reconciler.close();
        journal.close();
    }
}
