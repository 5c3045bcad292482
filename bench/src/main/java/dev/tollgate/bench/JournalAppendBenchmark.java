package dev.tollgate.bench;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Appending one settlement record to the journal, per durability setting, in JMH's sample mode so
 * the report has p50/p99/p99.9 next to the mean. Goal (issue 4): p99 at most 2 us with page-cache
 * durability. (`bench/scripts/journal.sh latency` measures the same with HdrHistogram over a
 * million appends, and with two threads.)
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class JournalAppendBenchmark {
    @Param({"page_cache", "periodic", "per_debit"})
    public String durability;

    private Path directory;
    private Journal journal;
    private JournalEvent[] settlements;
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        directory = Files.createTempDirectory("tollgate-append-bench");
        journal = Journal.open(directory, Durability.valueOf(durability.toUpperCase(java.util.Locale.ROOT)), 100);
        Random random = new Random(11);
        settlements = new JournalEvent[1_024];
        for (int i = 0; i < settlements.length; i++) {
            settlements[i] = BenchEvents.settlement(random, i + 1, 1_795_000_000_000L + i);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        journal.close();
        try (var paths = Files.walk(directory)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
    }

    @Benchmark
    public long appendSettlement() {
        return journal.append(settlements[next++ & (settlements.length - 1)]);
    }
}
