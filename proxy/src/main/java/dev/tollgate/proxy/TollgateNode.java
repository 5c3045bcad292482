package dev.tollgate.proxy;

import dev.tollgate.proxy.accesslog.AccessLog;
import dev.tollgate.proxy.alerts.AlertWebhook;
import dev.tollgate.proxy.admin.AdminServer;
import dev.tollgate.proxy.admin.AdminTokens;
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
    /** Null when the configuration has no admin listener. */
    private final AdminServer admin;
    private final AccessLog accessLog;
    /** Null without a webhook configured. */
    private final AlertWebhook webhook;
    private static final org.slf4j.Logger ALERT_LOG = org.slf4j.LoggerFactory.getLogger("dev.tollgate.alerts");

    private TollgateNode(Journal journal, Gateway gateway, Reconciler reconciler, TollgateServer server, AdminServer admin, AccessLog accessLog,
                         AlertWebhook webhook) {
        this.accessLog = accessLog;
        this.webhook = webhook;
        this.journal = journal;
        this.gateway = gateway;
        this.reconciler = reconciler;
        this.server = server;
        this.admin = admin;
    }

    public static TollgateNode start(TollgateConfig config, Consumer<Outcome> outcomes, int threads, Transport transport)
            throws InterruptedException {
        return start(config, outcomes, threads, transport, AdminTokens.none());
    }

    /**
     * Starts the node with the admin listener of the configuration (if any) taking {@code adminTokens}.
     *
     * @throws IllegalStateException when the configured access log cannot be opened (before the journal is touched)
     */
    public static TollgateNode start(TollgateConfig config, Consumer<Outcome> outcomes, int threads, Transport transport, AdminTokens adminTokens)
            throws InterruptedException {
        JournalConfig journalConfig = config.journal();
        AccessLog accessLog = AccessLog.open(config.accessLog());
        Journal journal;
        try {
            journal = Journal.open(journalConfig.directory(), journalConfig.durability(), journalConfig.syncIntervalMs());
        } catch (RuntimeException e) {
            accessLog.close();
            throw e;
        }
        Reconciler reconciler = null;
        TollgateServer server = null;
        AlertWebhook webhook = null;
        AdminServer admin = null;
        try {
            Ledger ledger = Ledger.recover(journal, journalConfig.snapshotDirectory(), config.limits().maxAccounts(), System::currentTimeMillis);
            Gateway gateway = new Gateway(config, ledger, outcomes, accessLog);
            ledger.onAlert((alert, key) -> {
                ALERT_LOG.info(dev.tollgate.proxy.alerts.AlertEvent.logLine(alert, key.label()));
                gateway.metrics().alertRaised(alert.window().name().toLowerCase(java.util.Locale.ROOT));
            });
            // After recovery and the configuration's own records, so its first conservation check sees them all.
            reconciler = Reconciler.start(journal, journalConfig.snapshotDirectory(), gateway.accounts(), ReconcilerSettings.fromSystemProperties(),
                    System::currentTimeMillis);
            restoreSpend(ledger, reconciler);
            // Before the listener: on its first start it begins at the journal's end, so no alert raised by a request is before it.
            webhook = config.alerts().webhook() == null ? null
                    : AlertWebhook.start(config.alerts().webhook(), journal, ledger, config.catalog().currency(),
                    gateway.metrics().alertWebhookListener(), System::currentTimeMillis);
            server = TollgateServer.start(gateway, config.proxyListener(), threads, transport);
            gateway.metrics().watch(reconciler, server.connections());
            admin = config.adminListener() == null ? null
                    : AdminServer.start(gateway, reconciler, config.adminListener(), adminTokens, transport);
            return new TollgateNode(journal, gateway, reconciler, server, admin, accessLog, webhook);
        } catch (Exception e) {
            if (admin != null) {
                admin.close();
            }
            if (server != null) {
                server.close();
            }
            if (webhook != null) {
                webhook.close();
            }
            if (reconciler != null) {
                reconciler.close();
            }
            journal.close();
            accessLog.close();
            throw e;
        }
    }

    /** What each capped key spent this UTC day, month and in total, into the ledger's spend windows before any request is admitted. */
    private static void restoreSpend(Ledger ledger, Reconciler reconciler) {
        if (ledger.hasCappedKeys()) { // else nothing to restore, and no reason to wait for the reconciler
            long now = System.currentTimeMillis();
            ledger.restoreSpend(reconciler.spentByKey(now, java.time.Duration.ofMinutes(5)), now);
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

    /** The admin listener's port, or -1 when there is none. */
    public int adminPort() {
        return admin == null ? -1 : admin.port();
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
        if (admin != null) {
            admin.close();
        }
        server.close();
        gateway.ledger().close(); // journals what the writer still holds
        if (webhook != null) {
            webhook.close(); // what it has not delivered yet, it delivers after the next start
        }
        reconciler.close();
        journal.close();
        accessLog.close(); // last: the lines of the requests the listener finished are queued by now
    }
}
