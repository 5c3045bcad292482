package dev.tollgate.bench.load;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The load harness's entry point ({@code bench/scripts/load.sh} runs {@code harness}):
 * {@code mock} (the upstream), {@code run} (one open-loop run by hand) and {@code harness} (the whole comparison).
 */
@Command(name = "load", mixinStandardHelpOptions = true, subcommands = {Harness.class, MockMain.class, RunCommand.class, JfrSummaryCommand.class},
        description = "Tollgate's load harness.")
public final class LoadCli {

    public static void main(String[] args) {
        System.exit(new CommandLine(new LoadCli()).execute(args));
    }
}
