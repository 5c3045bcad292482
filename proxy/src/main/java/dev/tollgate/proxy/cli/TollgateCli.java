package dev.tollgate.proxy.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code bin/tollgate}: the one entry point for operators. */
@Command(name = "tollgate", mixinStandardHelpOptions = true, version = "tollgate 0.1.0", scope = CommandLine.ScopeType.INHERIT,
        description = "A metering proxy for AI model APIs, sold as prepaid balance.",
        subcommands = {ServeCommand.class, DemoCommand.class, NewKeyCommand.class, JournalCommand.class,
                AdminCommands.Accounts.class, AdminCommands.Topup.class, AdminCommands.Adjust.class, AdminCommands.Keys.class,
                AdminCommands.Usage.class, AdminCommands.Requests.class, AdminCommands.StatementCommand.class, AdminCommands.Pricing.class,
                AdminCommands.Audit.class, CommandLine.HelpCommand.class})
public final class TollgateCli {

    public static void main(String[] args) {
        System.exit(new CommandLine(new TollgateCli()).execute(args));
    }
}
