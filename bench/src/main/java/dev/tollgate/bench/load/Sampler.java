package dev.tollgate.bench.load;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Reads {@code /proc} for the processes of a run over its measured window: CPU time used between the
 * window's start and end, resident memory at the end and its peak (sampled every 200 ms), and the
 * CPU the whole machine was busy, so that what other processes used shows.
 */
final class Sampler implements Runnable {

    /** A process to watch; {@code tree} includes its descendants (nginx's workers). */
    record Watched(String name, long pid, boolean tree) {
    }

    /** One process over the window. */
    record Window(long cpuNanos, long rssEndBytes, long rssPeakBytes) {
    }

    private static final long EVERY_NS = TimeUnit.MILLISECONDS.toNanos(200);

    private final ProcStats stats;
    private final List<Watched> watched;
    private final long fromNs;
    private final long toNs;
    private final Map<String, Window> windows = new LinkedHashMap<>();
    private volatile long systemBusyNanos;
    private volatile Throwable failure;

    Sampler(ProcStats stats, List<Watched> watched, long fromNs, long toNs) {
        this.stats = stats;
        this.watched = List.copyOf(watched);
        this.fromNs = fromNs;
        this.toNs = toNs;
    }

    @Override
    public void run() {
        try {
            sleepUntil(fromNs);
            long[] cpuStart = new long[watched.size()];
            long[] peak = new long[watched.size()];
            long busyStart = stats.systemBusyNanos();
            for (int i = 0; i < watched.size(); i++) {
                ProcStats.Sample sample = sample(watched.get(i));
                cpuStart[i] = sample.cpuNanos();
                peak[i] = sample.rssBytes();
            }
            while (System.nanoTime() + EVERY_NS < toNs) {
                Thread.sleep(TimeUnit.NANOSECONDS.toMillis(EVERY_NS));
                for (int i = 0; i < watched.size(); i++) {
                    peak[i] = Math.max(peak[i], sample(watched.get(i)).rssBytes());
                }
            }
            sleepUntil(toNs);
            long busyEnd = stats.systemBusyNanos();
            synchronized (windows) {
                for (int i = 0; i < watched.size(); i++) {
                    ProcStats.Sample sample = sample(watched.get(i));
                    windows.put(watched.get(i).name(),
                            new Window(sample.cpuNanos() - cpuStart[i], sample.rssBytes(), Math.max(peak[i], sample.rssBytes())));
                }
            }
            systemBusyNanos = busyEnd - busyStart;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            failure = e;
        }
    }

    private ProcStats.Sample sample(Watched process) {
        return process.tree() ? stats.sampleTree(process.pid()) : stats.sample(process.pid());
    }

    private static void sleepUntil(long ns) throws InterruptedException {
        long wait = ns - System.nanoTime();
        if (wait > 0) {
            TimeUnit.NANOSECONDS.sleep(wait);
        }
    }

    Map<String, Window> windows() {
        if (failure != null) {
            throw new IllegalStateException("sampling /proc failed", failure);
        }
        synchronized (windows) {
            return Map.copyOf(windows);
        }
    }

    /** CPU time all cores were busy in the window, every process included. */
    long systemBusyNanos() {
        return systemBusyNanos;
    }
}
