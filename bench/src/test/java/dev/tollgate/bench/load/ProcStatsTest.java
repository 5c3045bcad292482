package dev.tollgate.bench.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The /proc readers against a fake tree (exact values), and once against the real /proc (plausible values). */
class ProcStatsTest {

    @TempDir
    Path proc;

    /** A /proc/PID/stat line as the kernel writes it, with the given command name, parent, utime and stime. */
    private static String stat(long pid, String command, long parent, long utime, long stime) {
        // fields 3..: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice ...
        return pid + " (" + command + ") S " + parent + " " + pid + " " + pid + " 0 -1 4194560 1200 0 0 0 " + utime + " " + stime
                + " 7 9 20 0 3 0 12345 1000000 250 18446744073709551615 1 1 0 0 0 0 0 4096 17922 0 0 0 17 1 0 0 0 0 0\n";
    }

    private void process(long pid, String command, long parent, long utime, long stime, Long rssKib) throws IOException {
        Path dir = Files.createDirectories(proc.resolve(Long.toString(pid)));
        Files.writeString(dir.resolve("stat"), stat(pid, command, parent, utime, stime));
        Files.writeString(dir.resolve("status"), "Name:\t" + command + "\nState:\tS (sleeping)\nPPid:\t" + parent + "\n"
                + (rssKib == null ? "" : "VmRSS:\t  " + rssKib + " kB\n") + "Threads:\t3\n");
    }

    @Test
    void readsCpuTicksAndResidentMemoryOfOneProcess() throws IOException {
        process(100, "java", 1, 250, 50, 204800L);
        ProcStats stats = new ProcStats(proc, 100);

        assertThat(stats.cpuNanos(100)).isEqualTo(3_000_000_000L);
        assertThat(stats.rssKib(100)).isEqualTo(204800);
        assertThat(stats.sample(100)).isEqualTo(new ProcStats.Sample(3_000_000_000L, 204800L * 1024, 1));
    }

    @Test
    void aCommandNameWithSpacesAndParenthesesDoesNotShiftTheFields() {
        ProcStats.Stat stat = ProcStats.parseStat(stat(42, "nginx: worker (x) 1", 7, 11, 22));
        assertThat(stat.pid()).isEqualTo(42);
        assertThat(stat.command()).isEqualTo("nginx: worker (x) 1");
        assertThat(stat.state()).isEqualTo('S');
        assertThat(stat.parentPid()).isEqualTo(7);
        assertThat(stat.utimeTicks()).isEqualTo(11);
        assertThat(stat.stimeTicks()).isEqualTo(22);
        assertThatThrownBy(() -> ProcStats.parseStat("42 no parentheses")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void sumsAProcessAndAllItsDescendants() throws IOException {
        process(1, "init", 0, 5, 5, 1000L);
        process(100, "nginx: master process", 1, 10, 0, 1000L);
        process(101, "nginx: worker process", 100, 200, 100, 3000L);
        process(102, "nginx: worker process", 100, 300, 100, 5000L);
        process(103, "helper (child of a worker)", 102, 1, 1, 7L);
        process(200, "unrelated", 1, 999, 999, 99999L);
        Files.createDirectories(proc.resolve("self"));
        Files.writeString(proc.resolve("uptime"), "1.0 2.0\n");
        ProcStats stats = new ProcStats(proc, 100);

        assertThat(stats.withDescendants(100)).containsExactlyInAnyOrder(100L, 101L, 102L, 103L);
        assertThat(stats.withDescendants(100).getFirst()).isEqualTo(100L);
        ProcStats.Sample tree = stats.sampleTree(100);
        assertThat(tree.processes()).isEqualTo(4);
        assertThat(tree.cpuNanos()).isEqualTo((10 + 300 + 400 + 2) * 10_000_000L);
        assertThat(tree.rssBytes()).isEqualTo((1000L + 3000 + 5000 + 7) * 1024);
    }

    @Test
    void aProcessThatIsGoneOrAZombieReadsAsNothing() throws IOException {
        process(300, "zombie", 1, 4, 4, null);
        ProcStats stats = new ProcStats(proc, 100);

        assertThat(stats.sample(999)).isEqualTo(ProcStats.Sample.NONE);
        assertThat(stats.cpuNanos(999)).isEqualTo(-1);
        assertThat(stats.rssKib(999)).isEqualTo(-1);
        assertThat(stats.rssKib(300)).isEqualTo(-1);
        assertThat(stats.sample(300)).isEqualTo(ProcStats.Sample.NONE);
        assertThat(stats.sampleTree(999)).isEqualTo(ProcStats.Sample.NONE);
    }

    @Test
    void machineBusyTimeLeavesOutIdleAndIoWait() throws IOException {
        // user nice system idle iowait irq softirq steal guest guest_nice
        Files.writeString(proc.resolve("stat"), "cpu  100 2 30 5000 40 5 6 7 50 0\ncpu0 50 1 15 2500 20 2 3 3 25 0\nintr 1 2 3\n");
        assertThat(new ProcStats(proc, 100).systemBusyNanos()).isEqualTo((100 + 2 + 30 + 5 + 6 + 7) * 10_000_000L);
    }

    @Test
    void readsThisVeryProcessFromTheRealProc() {
        ProcStats stats = ProcStats.system();
        long self = ProcessHandle.current().pid();
        // A JVM that has run tests has used CPU and memory; exact values are the machine's business.
        assertThat(stats.cpuNanos(self)).isPositive();
        assertThat(stats.rssKib(self)).isGreaterThan(10_000);
        assertThat(stats.withDescendants(self)).startsWith(self);
        assertThat(stats.systemBusyNanos()).isPositive();
    }
}
