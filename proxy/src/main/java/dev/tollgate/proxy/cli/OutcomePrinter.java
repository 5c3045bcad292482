package dev.tollgate.proxy.cli;

import dev.tollgate.metering.Usage;
import dev.tollgate.proxy.Money;
import dev.tollgate.proxy.Outcome;
import java.io.PrintStream;

/** One line per request outcome, for people watching a console (the demo, or serve --log-requests). */
final class OutcomePrinter {
    private final PrintStream out;
    private final String currency;

    OutcomePrinter(PrintStream out, String currency) {
        this.out = out;
        this.currency = currency;
    }

    void print(Outcome outcome) {
        out.println(format(outcome, currency));
    }

    static String format(Outcome outcome, String currency) {
        StringBuilder line = new StringBuilder(160);
        line.append(outcome.requestId()).append(' ').append(outcome.endpoint()).append(' ');
        if (outcome.requestedModel() != null) {
            line.append(outcome.requestedModel()).append(" -> ").append(outcome.provider()).append('/');
        }
        line.append(outcome.model());
        if (outcome.attemptsBefore() != null && !outcome.attemptsBefore().isEmpty()) {
            line.append(" (after ").append(outcome.attemptsBefore()).append(')');
        }
        line.append(": ");
        if (Outcome.RELEASED.equals(outcome.status())) {
            line.append("released (").append(outcome.reason()).append("), nothing charged");
        } else {
            Usage usage = outcome.usage();
            line.append(usage.inputTokens()).append(" in");
            if (usage.cacheReadTokens() > 0) {
                line.append(" + ").append(usage.cacheReadTokens()).append(" cached");
            }
            if (usage.cacheWriteTokens() > 0) {
                line.append(" + ").append(usage.cacheWriteTokens()).append(" cache-write");
            }
            line.append(" + ").append(usage.outputTokens()).append(" out tokens = ")
                    .append(Money.format(outcome.debitedMicros(), currency));
            if (!"completed".equals(outcome.reason())) {
                line.append(" (").append(outcome.reason()).append(')');
            }
            if (!outcome.usageReportedByProvider()) {
                line.append(" [counted by Tollgate]");
            }
        }
        line.append("; balance ").append(Money.format(outcome.balanceAfterMicros(), currency));
        return line.toString();
    }
}
