package dev.tollgate.proxy.cli;

import dev.tollgate.config.ConfigException;
import dev.tollgate.config.ConfigLoader;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.journal.LedgerState;
import dev.tollgate.journal.RecoveryReport;
import dev.tollgate.proxy.Money;
import dev.tollgate.proxy.TollgateNode;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import dev.tollgate.proxy.Transport;
import dev.tollgate.proxy.admin.AdminTokens;

@Command(name = "serve", description = "Run Tollgate with a configuration file.")
final class ServeCommand implements Callable<Integer> {

    @Option(names = "--config", required = true, description = "The YAML configuration file.")
    Path config;

    @Option(names = "--log-requests", description = "Print one line per settled or released request.")
    boolean logRequests;

    @Override
    public Integer call() throws Exception {
        TollgateConfig loaded;
        try {
            loaded = ConfigLoader.load(config, System::getenv);
        } catch (ConfigException e) {
            System.err.println("tollgate: the configuration has " + e.problems().size() + " problem(s):");
            e.problems().forEach(problem -> System.err.println("  " + problem));
            return 2;
        }
        AdminTokens adminTokens;
        try {
            adminTokens = AdminTokens.fromEnvironment(System::getenv);
        } catch (IllegalArgumentException e) {
            System.err.println("tollgate: " + e.getMessage());
            return 2;
        }
        OutcomePrinter printer = new OutcomePrinter(System.out, loaded.catalog().currency());
        TollgateNode node;
        try {
            node = TollgateNode.start(loaded, logRequests ? printer::print : outcome -> { }, Runtime.getRuntime().availableProcessors(),
                    Transport.best(), adminTokens);
        } catch (IllegalStateException e) {
            System.err.println("tollgate: " + e.getMessage());
            return 2;
        }
        printRecovery(node.recoveryReport(), loaded.catalog().currency());
        System.out.println("tollgate: listening on http://" + loaded.proxyListener().host() + ":" + node.port()
                + " with " + loaded.providers().size() + " provider(s), " + node.gateway().routes().routes().size()
                + " routable model(s), " + node.gateway().accounts().accountIds().size() + " account(s); journal "
                + loaded.journal().directory() + " (" + loaded.journal().durability().wireName() + ")");
        if (node.gateway().accessLog().enabled()) {
            System.out.println("tollgate: access log (one JSON line per request) to " + node.gateway().accessLog().destination());
        }
        if (node.adminPort() >= 0) {
            System.out.println("tollgate: admin API on http://" + loaded.adminListener().host() + ":" + node.adminPort() + "/admin/v1 (metrics on /metrics)"
                    + (adminTokens.isEmpty() ? "; no admin token set, so only /healthz, /readyz and /metrics answer" : ""));
        }
        CatalogReloadSignal.install(node.gateway(), System.out);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            node.close();
            stopped.countDown();
        }, "tollgate-shutdown"));
        stopped.await();
        return 0;
    }

    static void printRecovery(RecoveryReport report, String currency) {
        System.out.println("tollgate: recovered the ledger: " + report.recordsReplayed() + " journal record(s) replayed"
                + (report.snapshotIndex() >= 0 ? " after the snapshot at index " + Long.toHexString(report.snapshotIndex()) : " from the first")
                + " in " + report.replayNanos() / 1_000_000 + " ms");
        if (!report.releasedOnRecovery().isEmpty()) {
            System.out.println("tollgate: " + report.releasedOnRecovery().size() + " reservation(s) left open by the last run were released;"
                    + " in-flight exposure (what providers may still bill) " + Money.format(report.exposureMicros(), currency) + ":");
            for (LedgerState.OpenReservation open : report.releasedOnRecovery()) {
                System.out.println("  reservation " + open.reservationId() + " request " + open.requestId() + " account " + open.accountId()
                        + " held " + Money.format(open.heldMicros(), currency));
            }
        }
    }
}
