package dev.tollgate.proxy;

import dev.tollgate.config.AccountConfig;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.Durability;
import dev.tollgate.config.JournalConfig;
import dev.tollgate.config.Limits;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.config.Secret;
import dev.tollgate.config.TollgateConfig;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * A Tollgate node in a child JVM, for the crash test: started on a journal directory, it recovers,
 * writes its port to a file, and serves until it is killed.
 *
 * <p>Arguments: journal directory, port file, upstream base URL, account id, opening credit micros, key hash,
 * and optionally the journal durability (default {@code PAGE_CACHE}).
 */
public final class CrashTestNode {
    private CrashTestNode() {
    }

    public static void main(String[] args) throws Exception {
        Path journal = Path.of(args[0]);
        Path portFile = Path.of(args[1]);
        URI upstream = URI.create(args[2]);
        Durability durability = args.length > 6 ? Durability.valueOf(args[6]) : Durability.PAGE_CACHE;
        AccountConfig account = new AccountConfig(args[3], Long.parseLong(args[4]), List.of(new AccountConfig.KeyConfig(args[5], "crash-test")));
        TollgateConfig config = new TollgateConfig(new ListenerConfig("127.0.0.1", 0),
                List.of(new ProviderConfig("openai", Protocol.OPENAI, upstream, null, TestGateways.PROVIDER_KEY, null),
                        new ProviderConfig("anthropic", Protocol.ANTHROPIC, upstream, null, TestGateways.PROVIDER_KEY, null)),
                CatalogLoader.loadBuiltin(), Limits.defaults(), new JournalConfig(journal, durability, JournalConfig.DEFAULT_SYNC_INTERVAL_MS),
                List.of(account));
        TollgateNode node = TollgateNode.start(config, outcome -> { }, 2, Transport.best());
        Path temporary = portFile.resolveSibling(portFile.getFileName() + ".tmp");
        Files.writeString(temporary, Integer.toString(node.port()));
        Files.move(temporary, portFile, StandardCopyOption.ATOMIC_MOVE);
        Thread.currentThread().join();
    }
}
