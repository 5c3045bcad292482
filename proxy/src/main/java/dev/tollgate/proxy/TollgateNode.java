package dev.tollgate.proxy;

import dev.tollgate.config.JournalConfig;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.Ledger;
import dev.tollgate.journal.RecoveryReport;
import java.util.function.Consumer;

/**
 * One running Tollgate: the journal opened, the ledger recovered from it, the configuration applied,
 * the proxy listening. Closing it stops the listener first, so nothing is appended after the journal closes.
 */
public final class TollgateNode implements AutoCloseable {
    private final Journal journal;
    private final Gateway gateway;
    private final TollgateServer server;

    private TollgateNode(Journal journal, Gateway gateway, TollgateServer server) {
        this.journal = journal;
        this.gateway = gateway;
        this.server = server;
    }

    public static TollgateNode start(TollgateConfig config, Consumer<Outcome> outcomes, int threads, Transport transport)
            throws InterruptedException {
        JournalConfig journalConfig = config.journal();
        Journal journal = Journal.open(journalConfig.directory(), journalConfig.durability(), journalConfig.syncIntervalMs());
        try {
            Ledger ledger = Ledger.recover(journal, journalConfig.snapshotDirectory(), config.limits().maxAccounts(), System::currentTimeMillis);
            Gateway gateway = new Gateway(config, ledger, outcomes);
            TollgateServer server = TollgateServer.start(gateway, config.proxyListener(), threads, transport);
            return new TollgateNode(journal, gateway, server);
        } catch (RuntimeException | InterruptedException e) {
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

    public RecoveryReport recoveryReport() {
        return gateway.ledger().recoveryReport();
    }

    @Override
    public void close() {
        server.close();
        journal.close();
    }
}
