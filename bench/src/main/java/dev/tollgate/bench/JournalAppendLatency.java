package dev.tollgate.bench;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalCodec;
import dev.tollgate.journal.JournalEvent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;

/**
 * How long one {@link Journal#append} of a realistic settlement takes, per durability setting, with
 * one and with two threads appending at once: every call timed with {@code System.nanoTime} into an
 * HdrHistogram after a warm-up. Appends run back to back (closed loop), so these are service
 * times; a request waits for exactly one of them.
 *
 * <pre>
 *   java ... dev.tollgate.bench.JournalAppendLatency [--records N] [--per-debit-records N] [--threads 1,2] [--dir DIR]
 * </pre>
 */
public final class JournalAppendLatency {
    private static final int DISTINCT_EVENTS = 4_096;

    public static void main(String[] args) throws Exception {
        int records = 1_000_000;
        int perDebitRecords = 20_000;
        List<Integer> threadCounts = List.of(1, 2);
        Path base = Path.of(System.getProperty("java.io.tmpdir"));
        List<Durability> durabilities = List.of(Durability.values());
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--records" -> records = Integer.parseInt(args[++i]);
                case "--per-debit-records" -> perDebitRecords = Integer.parseInt(args[++i]);
                case "--threads" -> threadCounts = Stream.of(args[++i].split(",")).map(Integer::parseInt).toList();
                case "--dir" -> base = Path.of(args[++i]);
                case "--durability" -> durabilities = Stream.of(args[++i].split(",")).map(name -> Durability.valueOf(name.toUpperCase(Locale.ROOT))).toList();
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Random random = new Random(42);
        JournalEvent[] events = new JournalEvent[DISTINCT_EVENTS];
        for (int i = 0; i < events.length; i++) {
            events[i] = BenchEvents.settlement(random, i + 1, 1_795_000_000_000L + i);
        }
        int recordBytes = JournalCodec.encode(events[0], ByteBuffer.allocate(JournalCodec.MAX_RECORD_LENGTH));

        // A throwaway run first: the first journal a JVM opens pays for class loading, JIT compilation
        // and Chronicle's first mappings, which made whichever configuration came first look slower.
        measure(base, Durability.PAGE_CACHE, 2, 500_000, 500_000, events);

        System.out.printf("Journal.append of a Settled record (%d bytes), closed loop, latency per call in microseconds%n", recordBytes);
        System.out.printf("%-11s %7s %10s %9s %9s %9s %9s %9s %12s%n", "durability", "threads", "appends", "p50", "p99", "p99.9", "p99.99", "max",
                "appends/s");
        for (Durability durability : durabilities) {
            for (int threads : threadCounts) {
                int perThread = (durability == Durability.PER_DEBIT ? perDebitRecords : records) / threads;
                int warmUp = Math.max(perThread / 5, 1_000);
                Result result = measure(base, durability, threads, warmUp, perThread, events);
                Histogram h = result.histogram();
                System.out.printf("%-11s %7d %10d %9.2f %9.2f %9.2f %9.2f %9.1f %12.0f%n", durability.wireName(), threads, h.getTotalCount(),
                        h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(99) / 1e3, h.getValueAtPercentile(99.9) / 1e3,
                        h.getValueAtPercentile(99.99) / 1e3, h.getMaxValue() / 1e3, h.getTotalCount() / (result.wallNanos() / 1e9));
            }
        }
    }

    record Result(Histogram histogram, long wallNanos) {
    }

    static Result measure(Path base, Durability durability, int threads, int warmUp, int perThread, JournalEvent[] events) throws Exception {
        Path directory = Files.createTempDirectory(base, "tollgate-append-" + durability.wireName() + "-");
        try (Journal journal = Journal.open(directory, durability, 100)) {
            List<Histogram> histograms = new ArrayList<>();
            CyclicBarrier warmedUp = new CyclicBarrier(threads + 1);
            CyclicBarrier done = new CyclicBarrier(threads + 1);
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Histogram histogram = new Histogram(60_000_000_000L, 3);
                histograms.add(histogram);
                int offset = t * 997;
                workers.add(Thread.ofPlatform().name("append-" + t).start(() -> {
                    try {
                        for (int i = 0; i < warmUp; i++) {
                            journal.append(events[(offset + i) & (DISTINCT_EVENTS - 1)]);
                        }
                        warmedUp.await();
                        for (int i = 0; i < perThread; i++) {
                            JournalEvent event = events[(offset + i) & (DISTINCT_EVENTS - 1)];
                            long start = System.nanoTime();
                            journal.append(event);
                            histogram.recordValue(System.nanoTime() - start);
                        }
                        done.await();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }));
            }
            warmedUp.await();
            long start = System.nanoTime();
            done.await();
            long wallNanos = System.nanoTime() - start;
            for (Thread worker : workers) {
                worker.join();
            }
            Histogram all = new Histogram(60_000_000_000L, 3);
            histograms.forEach(all::add);
            return new Result(all, wallNanos);
        } finally {
            deleteTree(directory);
        }
    }

    static void deleteTree(Path root) throws IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }
}
