package dev.tollgate.proxy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Rows of the table in {@code docs/RELIABILITY.md}: each fault, crash or hostile-input test appends what it
 * ran and what it found to {@code target/reliability/<file>.tsv}, and {@code bin/reliability} turns the
 * newest row of each scenario into the table, so the published numbers are those of a real run.
 */
public final class ReliabilityLog {
    private ReliabilityLog() {
    }

    /**
     * @param scenario    what was tried, unique within the table (the newest row of a scenario wins)
     * @param injected    the fault or the bad input
     * @param invariant   what was checked after it
     * @param requests    requests (or cases) run
     * @param violations  invariant violations found: a passing test writes 0
     * @param command     the command that reproduces it
     */
    public static synchronized void row(String file, String scenario, String injected, String invariant, long requests, long violations,
                                        String command) {
        String line = String.join("\t", clean(scenario), clean(injected), clean(invariant), Long.toString(requests), Long.toString(violations),
                clean(command)) + "\n";
        try {
            Path directory = Files.createDirectories(Path.of("target", "reliability"));
            Files.writeString(directory.resolve(file + ".tsv"), line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The command line that runs one test class of the proxy module with the seed that was used. */
    public static String proxyTest(String testClass) {
        return "bin/test -pl proxy -am -Dsurefire.failIfNoSpecifiedTests=false -Dtest=" + testClass + " -Dtollgate.seed="
                + Long.getLong("tollgate.seed", 20261127L);
    }

    private static String clean(String text) {
        return text.replace('\t', ' ').replace('\n', ' ').replace('|', '/');
    }
}
