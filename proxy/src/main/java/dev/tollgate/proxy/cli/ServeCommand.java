package dev.tollgate.proxy.cli;

import dev.tollgate.config.ConfigException;
import dev.tollgate.config.ConfigLoader;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.proxy.Gateway;
import dev.tollgate.proxy.TollgateServer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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
        OutcomePrinter printer = new OutcomePrinter(System.out, loaded.catalog().currency());
        Gateway gateway = new Gateway(loaded, logRequests ? printer::print : outcome -> { });
        TollgateServer server = TollgateServer.start(gateway, loaded.proxyListener());
        System.out.println("tollgate: listening on http://" + loaded.proxyListener().host() + ":" + server.port()
                + " with " + loaded.providers().size() + " provider(s), " + gateway.routes().routes().size()
                + " routable model(s), " + loaded.accounts().size() + " account(s)");
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "tollgate-shutdown"));
        stopped.await();
        return 0;
    }
}
