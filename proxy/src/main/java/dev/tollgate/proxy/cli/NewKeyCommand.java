package dev.tollgate.proxy.cli;

import dev.tollgate.metering.ApiKeys;
import java.security.SecureRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "new-key", description = "Make a new Tollgate key: shows the key once, and the hash to put in the configuration.")
final class NewKeyCommand implements Callable<Integer> {

    @Option(names = "--label", defaultValue = "default", description = "A non-secret name for the key in reports.")
    String label;

    @Override
    public Integer call() {
        String key = ApiKeys.newRawKey(new SecureRandom());
        System.out.println("key:    " + key);
        System.out.println("        (shown once: Tollgate keeps only its hash)");
        System.out.println("config: - { sha256: " + ApiKeys.sha256Hex(key) + ", label: " + label + " }");
        return 0;
    }
}
