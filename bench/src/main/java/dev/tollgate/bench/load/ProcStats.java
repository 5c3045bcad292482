package dev.tollgate.bench.load;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * CPU time and resident memory of a process (and optionally all its descendants) read from
 * {@code /proc}, the way {@code ps} and {@code top} read them.
 *
 * <p>The root directory is a parameter so that tests can point the reader at a fake tree. A process
 * that exits while it is being read is skipped: a sample is the processes that were there.
 *
 * <ul>
 *   <li>CPU: fields 14 and 15 of {@code /proc/PID/stat} ({@code utime}, {@code stime}), in clock
 *       ticks of {@code USER_HZ}; they cover every thread of the process.</li>
 *   <li>Memory: {@code VmRSS} of {@code /proc/PID/status}, in KiB. Summed over several processes
 *       (nginx's master and workers) it counts pages they share once per process, so it is an
 *       upper bound of what they occupy together.</li>
 * </ul>
 */
public final class ProcStats {

    /** Linux has reported {@code USER_HZ} = 100 to user space on every architecture for decades. */
    public static final long DEFAULT_TICKS_PER_SECOND = 100;

    private final Path procRoot;
    private final long ticksPerSecond;

    public ProcStats(Path procRoot, long ticksPerSecond) {
        if (ticksPerSecond <= 0) {
            throw new IllegalArgumentException("ticksPerSecond must be positive: " + ticksPerSecond);
        }
        this.procRoot = procRoot;
        this.ticksPerSecond = ticksPerSecond;
    }

    /** The real {@code /proc}. */
    public static ProcStats system() {
        return new ProcStats(Path.of("/proc"), DEFAULT_TICKS_PER_SECOND);
    }

    /** One reading of a set of processes. {@code processes} is how many were found and read. */
    public record Sample(long cpuNanos, long rssBytes, int processes) {

        public static final Sample NONE = new Sample(0, 0, 0);

        public Sample plus(Sample other) {
            return new Sample(cpuNanos + other.cpuNanos, rssBytes + other.rssBytes, processes + other.processes);
        }
    }

    /** The process alone, or nothing if it is gone. */
    public Sample sample(long pid) {
        Stat stat = stat(pid);
        if (stat == null) {
            return Sample.NONE;
        }
        long rssKib = rssKib(pid);
        if (rssKib < 0) {
            return Sample.NONE;
        }
        return new Sample(ticksToNanos(stat.utimeTicks + stat.stimeTicks), rssKib * 1024, 1);
    }

    /** The process and every descendant of it (nginx: the master and its workers). */
    public Sample sampleTree(long pid) {
        Sample total = Sample.NONE;
        for (long member : withDescendants(pid)) {
            total = total.plus(sample(member));
        }
        return total;
    }

    /** {@code pid} first, then its descendants, found by scanning every process's parent id. */
    public List<Long> withDescendants(long pid) {
        Map<Long, List<Long>> children = new HashMap<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(procRoot)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (!isNumber(name)) {
                    continue;
                }
                long child = Long.parseLong(name);
                Stat stat = stat(child);
                if (stat != null) {
                    children.computeIfAbsent(stat.parentPid, parent -> new ArrayList<>()).add(child);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + procRoot, e);
        }
        List<Long> result = new ArrayList<>();
        ArrayDeque<Long> toVisit = new ArrayDeque<>();
        toVisit.add(pid);
        // A limit, not a guess: a process tree deeper or wider than this is not what we measure.
        while (!toVisit.isEmpty() && result.size() < 4096) {
            long next = toVisit.poll();
            result.add(next);
            toVisit.addAll(children.getOrDefault(next, List.of()));
        }
        return result;
    }

    /** utime + stime of one process, in nanoseconds, or -1 if it is gone. */
    public long cpuNanos(long pid) {
        Stat stat = stat(pid);
        return stat == null ? -1 : ticksToNanos(stat.utimeTicks + stat.stimeTicks);
    }

    /** VmRSS in KiB, or -1 if the process is gone (or is a zombie, which has no VmRSS line). */
    public long rssKib(long pid) {
        String status = read(procRoot.resolve(Long.toString(pid)).resolve("status"));
        if (status == null) {
            return -1;
        }
        for (String line : status.split("\n")) {
            if (line.startsWith("VmRSS:")) {
                String[] parts = line.substring("VmRSS:".length()).trim().split("\\s+");
                if (parts.length != 2 || !parts[1].equals("kB")) {
                    throw new IllegalStateException("unexpected VmRSS line in " + pid + "/status: " + line);
                }
                return Long.parseLong(parts[0]);
            }
        }
        return -1;
    }

    /**
     * CPU time every core of the machine spent busy (not idle, not waiting for I/O) since boot, from
     * the {@code cpu} line of {@code /proc/stat}: user, nice, system, irq, softirq and steal. Compared with
     * the processes the harness runs, it shows how much else ran on the machine during a measurement.
     */
    public long systemBusyNanos() {
        String stat = read(procRoot.resolve("stat"));
        if (stat == null) {
            throw new IllegalStateException("no " + procRoot.resolve("stat"));
        }
        for (String line : stat.split("\n")) {
            if (line.startsWith("cpu ")) {
                String[] fields = line.trim().split("\\s+");
                // cpu user nice system idle iowait irq softirq steal [guest guest_nice: already inside user and nice]
                long busy = 0;
                for (int i : new int[] {1, 2, 3, 6, 7, 8}) {
                    if (i < fields.length) {
                        busy += Long.parseLong(fields[i]);
                    }
                }
                return ticksToNanos(busy);
            }
        }
        throw new IllegalStateException("no cpu line in " + procRoot.resolve("stat"));
    }

    long ticksToNanos(long ticks) {
        return ticks * (TimeUnit.SECONDS.toNanos(1) / ticksPerSecond);
    }

    /** The fields we use of {@code /proc/PID/stat}. */
    record Stat(long pid, String command, char state, long parentPid, long utimeTicks, long stimeTicks) {
    }

    /** Parses one {@code /proc/PID/stat} line, or null if the process is gone. */
    Stat stat(long pid) {
        String line = read(procRoot.resolve(Long.toString(pid)).resolve("stat"));
        return line == null ? null : parseStat(line);
    }

    /**
     * The command name (field 2) is in parentheses and may itself hold spaces and parentheses
     * ({@code (tollgate-io (1))}), so the fields after it are counted from its last closing parenthesis.
     */
    static Stat parseStat(String line) {
        int open = line.indexOf('(');
        int close = line.lastIndexOf(')');
        if (open < 0 || close < open) {
            throw new IllegalArgumentException("not a /proc/PID/stat line: " + line);
        }
        long pid = Long.parseLong(line.substring(0, open).trim());
        String command = line.substring(open + 1, close);
        String[] rest = line.substring(close + 1).trim().split("\\s+");
        // rest[0] is field 3 (state); field N is rest[N - 3].
        if (rest.length < 13) {
            throw new IllegalArgumentException("too few fields in /proc/PID/stat line: " + line);
        }
        return new Stat(pid, command, rest[0].charAt(0), Long.parseLong(rest[1]),
                Long.parseLong(rest[14 - 3]), Long.parseLong(rest[15 - 3]));
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.ISO_8859_1);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            // ESRCH and friends when the process exits between listing and reading.
            if (!Files.exists(file.getParent())) {
                return null;
            }
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    private static boolean isNumber(String name) {
        if (name.isEmpty() || name.length() > 18) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            if (name.charAt(i) < '0' || name.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }
}
