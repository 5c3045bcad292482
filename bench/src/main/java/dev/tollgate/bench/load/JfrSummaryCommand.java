package dev.tollgate.bench.load;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The harness's JFR summary of any recording, e.g. one taken by hand with {@code jcmd PID JFR.start}. */
@Command(name = "jfr-summary", mixinStandardHelpOptions = true,
        description = "Summarize a JDK Flight Recorder recording: CPU by component, by Tollgate frame, by top frame and thread; allocation; GC.")
final class JfrSummaryCommand implements Callable<Integer> {

    @Parameters(index = "0", description = "The .jfr file.")
    Path recording;

    @Option(names = "--top", defaultValue = "15", description = "Rows per table (default: ${DEFAULT-VALUE}).")
    int top;

    @Override
    public Integer call() throws Exception {
        System.out.print(JfrSummary.summarize(recording, top));
        return 0;
    }
}
