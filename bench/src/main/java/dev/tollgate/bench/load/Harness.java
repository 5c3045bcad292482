package dev.tollgate.bench.load;

import dev.tollgate.bench.load.LoadGenerator.Result;
import dev.tollgate.bench.load.LoadGenerator.Spec;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The whole comparison in one run: the same mock, the same open-loop offered load, straight to the
 * mock, through nginx as a plain reverse proxy, and through Tollgate doing all its metering; JSON and
 * SSE streams; the maximum rate each sustains with p99 under a limit; correctness of every Tollgate
 * run checked against its journal; 10,000 concurrent slow streams through Tollgate; optionally a JFR
 * profile of Tollgate during the streaming run. Writes a Markdown report and exits non-zero if a
 * correctness check failed.
 */
@Command(name = "harness", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Direct vs nginx vs Tollgate at the same open-loop load, correctness under load, 10k open streams.")
final class Harness implements Callable<Integer> {

    @Option(names = "--tollgate-jar", required = true, description = "proxy/target/tollgate.jar")
    Path tollgateJar;

    @Option(names = "--work", required = true, description = "An empty directory for configs, journals, logs and the report.")
    Path work;

    @Option(names = "--jvm-flags", defaultValue = "", description = "Flags for the JVMs started (the list in bin/jdk25.sh), space-separated.")
    String jvmFlags;

    @Option(names = "--tollgate-java-opts", defaultValue = "", description = "Extra JVM options for Tollgate only (default: none, as bin/tollgate).")
    String tollgateJavaOpts;

    @Option(names = "--tollgate-durability", defaultValue = "periodic",
            description = "journal.durability of the Tollgate under test: page_cache, periodic or per_debit (default: ${DEFAULT-VALUE}).")
    String durability;

    @Option(names = "--journal-parent", description = "Diagnostic: put Tollgate's journals under this directory (e.g. /dev/shm, to "
            + "take the disk out of the picture) instead of the work directory; they are deleted after their checks.")
    Path journalParent;

    @Option(names = "--nginx", defaultValue = "/usr/sbin/nginx", description = "The nginx binary (default: ${DEFAULT-VALUE}).")
    Path nginx;

    @Option(names = "--quick", description = "About 2 minutes: shorter runs, a coarser search, shorter slow streams.")
    boolean quick;

    @Option(names = "--jfr", description = "Record Tollgate with JDK Flight Recorder during the fixed-rate streaming run and summarize it.")
    boolean jfr;

    @Option(names = "--modes", split = ",", defaultValue = "json,stream", description = "json, stream or both (default: ${DEFAULT-VALUE}).")
    List<String> modes;

    @Option(names = "--surface", defaultValue = "mixed", description = "openai, anthropic or mixed (alternating) (default: ${DEFAULT-VALUE}).")
    String surface;

    @Option(names = "--events", defaultValue = "20", description = "Output tokens (content events) per answer (default: ${DEFAULT-VALUE}).")
    int events;

    @Option(names = "--stream-delay-ms", defaultValue = "0", description = "Pause between stream events in the streaming runs (default: ${DEFAULT-VALUE}).")
    int streamDelayMs;

    @Option(names = "--json-rate", description = "Offered requests/s of the fixed-rate JSON runs (default: half the lowest maximum "
            + "the search found, or 2000 without a search).")
    Double jsonRate;

    @Option(names = "--stream-rate", description = "Offered streams/s of the fixed-rate streaming runs (default: half the lowest maximum "
            + "the search found, or 400 without a search).")
    Double streamRate;

    @Option(names = "--seconds", description = "Measured seconds of each fixed-rate run (default: 15, quick 4).")
    Double measureSeconds;

    @Option(names = "--warmup-seconds", description = "Warm-up before each fixed-rate run, same rate, not measured (default: 5, quick 1.5).")
    Double warmupSeconds;

    @Option(names = "--tollgate-warmup-seconds", description = "JIT warm-up of a fresh Tollgate before its first measurement (default: 10, quick 4).")
    Double tollgateWarmupSeconds;

    @Option(names = "--no-search", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Search the maximum rate with p99 under --p99-limit-ms (default: on).")
    boolean search;

    @Option(names = "--step-seconds", description = "Measured seconds of each search step (default: 3, quick 1).")
    Double stepSeconds;

    @Option(names = "--p99-limit-ms", defaultValue = "5", description = "The latency limit of the search (default: ${DEFAULT-VALUE}).")
    double p99LimitMs;

    @Option(names = "--client-threads", defaultValue = "1", description = "Load generator event loops (default: ${DEFAULT-VALUE}).")
    int clientThreads;

    @Option(names = "--mock-threads", defaultValue = "1", description = "Mock provider event loops (default: ${DEFAULT-VALUE}).")
    int mockThreads;

    @Option(names = "--connections", defaultValue = "256", description = "Client connection pool bound (default: ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = "--upstream-keepalive", defaultValue = "256",
            description = "Idle upstream connections kept per worker/event loop, nginx and Tollgate alike (default: ${DEFAULT-VALUE}).")
    int upstreamKeepalive;

    @Option(names = "--streams", defaultValue = "10000", description = "Concurrent slow streams through Tollgate; 0 skips (default: ${DEFAULT-VALUE}).")
    int streams;

    @Option(names = "--streams-open-seconds", description = "Time over which the slow streams are opened (default: 10, quick 5).")
    Double streamsOpenSeconds;

    @Option(names = "--streams-events", defaultValue = "10", description = "Output tokens of each slow stream (default: ${DEFAULT-VALUE}).")
    int streamsEvents;

    @Option(names = "--streams-delay-ms", description = "Pause between events of the slow streams (default: 2000, quick 700).")
    Integer streamsDelayMs;

    @Option(names = "--command-line", defaultValue = "", description = "The command that started the run, for the report.")
    String commandLine;

    private static final double SEARCH_TOLERANCE = 0.05;
    private static final double QUICK_SEARCH_TOLERANCE = 0.15;

    enum Mode { JSON, STREAM }

    enum Target {
        DIRECT("direct"), NGINX("nginx"), TOLLGATE("Tollgate");

        final String label;

        Target(String label) {
            this.label = label;
        }
    }

    /** One fixed-rate run: the result, and per watched process its CPU and memory over the measured window. */
    record Measured(Result result, Map<String, Sampler.Window> windows, long systemBusyNanos) {
        Sampler.Window window(String name) {
            return windows.getOrDefault(name, new Sampler.Window(0, 0, 0));
        }

        /** CPU of processes other than the mock, the proxy and the generator (other work on the machine). */
        long otherCpuNanos() {
            long ours = windows.values().stream().mapToLong(Sampler.Window::cpuNanos).sum();
            return Math.max(0, systemBusyNanos - ours);
        }
    }

    record Step(double rate, boolean sustained, long p99Us, long sendLagP99Us, String why) {
    }

    record SearchResult(double maxRate, List<Step> steps) {
    }

    private final ProcStats proc = ProcStats.system();
    private final List<String> failures = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private final List<AutoCloseable> running = new ArrayList<>();
    private final Map<String, Measured> fixed = new LinkedHashMap<>();
    private final Map<Mode, Double> fixedRates = new HashMap<>();
    private final Map<String, SearchResult> searches = new LinkedHashMap<>();
    private final Map<String, List<RequestTemplate>> templates = new HashMap<>();
    private final StringBuilder runLog = new StringBuilder();
    private final List<Path> deleteAfter = new ArrayList<>();

    private TollgateInstance.Jvm jvm;
    private TollgateInstance.Jvm tollgateJvm;
    private String providerKey;
    private ManagedProcess mock;
    private int mockPort;
    private NginxInstance nginxInstance;
    private TollgateInstance tollgate;
    private LoadGenerator generator;
    private long tollgateCompleted;
    private String jfrSummary;
    private String ledgerMain;
    private String ledgerStreams;
    private ManyStreams manyStreams;
    private double slowOpenSeconds;

    @Override
    public Integer call() throws Exception {
        double measure = measureSeconds != null ? measureSeconds : quick ? 4 : 15;
        double warmup = warmupSeconds != null ? warmupSeconds : quick ? 1.5 : 5;
        double tollgateWarmup = tollgateWarmupSeconds != null ? tollgateWarmupSeconds : quick ? 4 : 10;
        double step = stepSeconds != null ? stepSeconds : quick ? 1 : 3;
        int slowDelayMs = streamsDelayMs != null ? streamsDelayMs : quick ? 700 : 2000;
        slowOpenSeconds = streamsOpenSeconds != null ? streamsOpenSeconds : quick ? 5 : 10;
        List<Mode> modeList = modes.stream().map(m -> Mode.valueOf(m.trim().toUpperCase(Locale.ROOT))).toList();
        if (!List.of("openai", "anthropic", "mixed").contains(surface)) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "--surface must be openai, anthropic or mixed");
        }

        Files.createDirectories(work);
        Instant began = Instant.now();
        Thread cleanup = new Thread(this::closeAll, "harness-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        jvm = new TollgateInstance.Jvm(Path.of(System.getProperty("java.home"), "bin", "java").toString(), split(jvmFlags), List.of());
        tollgateJvm = new TollgateInstance.Jvm(jvm.java(), jvm.flags(), split(tollgateJavaOpts));
        providerKey = "mock-" + Long.toHexString(new SecureRandom().nextLong());
        String machine = machine();
        double loadAverageAtStart = loadAverage();
        say("machine: " + machine + "; load average at start " + loadAverageAtStart);
        if (loadAverageAtStart > 0.5) {
            notes.add(String.format(Locale.ROOT, "The machine was not idle when the run started (load average %.2f): other processes "
                    + "compete for the same cores, and the 'other CPU' column shows how much they took during each measurement.",
                    loadAverageAtStart));
        }
        try {
            startMock();
            nginxInstance = NginxInstance.start(nginx, work.resolve("nginx"), mockPort, upstreamKeepalive);
            running.add(nginxInstance);
            say("nginx on 127.0.0.1:" + nginxInstance.port() + " (pid " + nginxInstance.pid() + ")");
            tollgate = TollgateInstance.start("tollgate", tollgateJar, tollgateJvm, work.resolve("tollgate"), mockPort, providerKey, upstreamKeepalive,
                    durability, journalParent);
            running.add(tollgate);
            say("Tollgate on 127.0.0.1:" + tollgate.port() + " (pid " + tollgate.pid() + "), journal " + tollgate.journal());
            generator = new LoadGenerator(clientThreads);
            running.add(generator);

            // First the maximum rate each path sustains with p99 under the limit, then all three at
            // the same offered load: by default half the lowest of the three maxima, so that every
            // path runs where it keeps up and the added latency is not a queue's.
            // Every JVM in the path (generator, mock, Tollgate) compiles its hot code first: a search
            // that starts cold fails its first steps for the JIT, not for the path.
            for (Mode mode : modeList) {
                double rate = mode == Mode.JSON ? 2000 : 500;
                run(Target.DIRECT, mode, rate, warmup, 0, "JIT warm-up " + mode + " direct", false);
                run(Target.NGINX, mode, rate, warmup / 2, 0, "warm-up " + mode + " nginx", false);
                run(Target.TOLLGATE, mode, rate, tollgateWarmup / modeList.size(), 0, "JIT warm-up " + mode + " Tollgate", false);
            }
            if (search) {
                for (Mode mode : modeList) {
                    for (Target target : Target.values()) {
                        searches.put(key(mode, target), search(target, mode, step));
                    }
                }
            }
            for (Mode mode : modeList) {
                double rate = fixedRate(mode);
                fixedRates.put(mode, rate);
                for (Target target : Target.values()) {
                    run(target, mode, rate, warmup, 0, "warm-up " + mode + " " + target.label, false);
                    boolean profile = jfr && target == Target.TOLLGATE && mode == Mode.STREAM;
                    Path recording = work.resolve("tollgate-stream.jfr");
                    if (profile) {
                        tollgate.jcmd("JFR.start", "name=load", "settings=profile", "filename=" + recording,
                                "jdk.CPUTimeSample#enabled=true", "jdk.CPUTimeSample#throttle=5ms");
                    }
                    Measured measured = run(target, mode, rate, 1, measure, mode + " " + target.label, true);
                    if (profile) {
                        tollgate.jcmd("JFR.stop", "name=load");
                        jfrSummary = JfrSummary.summarize(recording, 15, measured.result().all().completed());
                        say("JFR recording " + recording + " summarized");
                    }
                    fixed.put(key(mode, target), measured);
                    if (target != Target.TOLLGATE && !measured.result().clean()) {
                        failures.add("the " + mode + " run straight to " + target.label + " had errors or incomplete responses, so the "
                                + "comparison is not valid: " + measured.result().problems());
                    }
                }
            }
            if (jfr && !modeList.contains(Mode.STREAM)) {
                notes.add("--jfr records the streaming run, and --modes had no stream mode: no profile.");
            }

            ledgerMain = checkLedger(tollgate, tollgateCompleted, (long) events * tollgateCompleted, "the comparison runs");
            running.remove(tollgate);
            tollgate = null;
            nginxInstance.close();
            running.remove(nginxInstance);

            if (streams > 0) {
                manyStreams = manyStreams(slowDelayMs);
            }
        } catch (Exception | Error e) {
            failures.add("the harness itself failed: " + e);
            say("FAILED: " + e);
            e.printStackTrace(System.out);
        } finally {
            closeAll();
            Runtime.getRuntime().removeShutdownHook(cleanup);
        }
        for (Path journal : deleteAfter) {
            deleteTree(journal);
        }
        String report = report(began, machine, loadAverageAtStart, measure, warmup, step, slowDelayMs);
        Files.writeString(work.resolve("report.md"), report, StandardCharsets.UTF_8);
        Files.writeString(work.resolve("runs.log"), runLog.toString(), StandardCharsets.UTF_8);
        System.out.println();
        System.out.println(report);
        System.out.println("report: " + work.resolve("report.md") + "; every run in detail: " + work.resolve("runs.log"));
        if (!failures.isEmpty()) {
            System.out.println("FAILED: " + failures.size() + " check(s) failed (see 'Correctness under load' above).");
            return 1;
        }
        return 0;
    }

    private static String key(Mode mode, Target target) {
        return mode + "/" + target;
    }

    private void startMock() throws InterruptedException {
        mockPort = Ports.free();
        List<String> command = jvm.command("-cp", System.getProperty("java.class.path"), LoadCli.class.getName(), "mock",
                "--port", Integer.toString(mockPort), "--threads", Integer.toString(mockThreads), "--key", providerKey,
                "--events", Integer.toString(events));
        mock = ManagedProcess.start("mock", command, Map.of(), work.resolve("mock.log"));
        running.add(mock);
        mock.awaitLine("mock: listening on", Duration.ofSeconds(30));
        say("mock provider on 127.0.0.1:" + mockPort + " (pid " + mock.pid() + ", " + mockThreads + " thread(s))");
    }

    /** The option if given, else half the lowest maximum found (two significant digits), else a modest default. */
    private double fixedRate(Mode mode) {
        Double given = mode == Mode.JSON ? jsonRate : streamRate;
        if (given != null) {
            return given;
        }
        double lowest = Double.POSITIVE_INFINITY;
        for (Target target : Target.values()) {
            SearchResult result = searches.get(key(mode, target));
            if (result != null) {
                lowest = Math.min(lowest, result.maxRate());
            }
        }
        if (lowest == Double.POSITIVE_INFINITY || lowest <= 0) {
            return mode == Mode.JSON ? 2000 : 400;
        }
        return roundDown2(lowest / 2);
    }

    /** {@code 1234.5} to {@code 1200}: two significant digits, rounded down. */
    static double roundDown2(double value) {
        if (value < 10) {
            return Math.max(1, Math.floor(value));
        }
        double scale = Math.pow(10, Math.floor(Math.log10(value)) - 1);
        return Math.floor(value / scale) * scale;
    }

    private List<RequestTemplate> templates(Target target, Mode mode, int delayMs, int port, String key) {
        return templates.computeIfAbsent(target + "/" + mode + "/" + delayMs + "/" + port, k -> RunCommand.templates(surface,
                mode == Mode.STREAM, events, delayMs, "127.0.0.1:" + port, key));
    }

    private Spec spec(String label, Target target, Mode mode, double rate, double warmSeconds, double measureSecondsOfRun, double drainSeconds) {
        int port = switch (target) {
            case DIRECT -> mockPort;
            case NGINX -> nginxInstance.port();
            case TOLLGATE -> tollgate.port();
        };
        String key = target == Target.TOLLGATE ? tollgate.key() : providerKey;
        List<RequestTemplate> mix = templates(target, mode, mode == Mode.STREAM ? streamDelayMs : 0, port, key);
        return new Spec(label, new InetSocketAddress("127.0.0.1", port), mix, rate, seconds(warmSeconds), seconds(measureSecondsOfRun),
                connections, 1 << 20, TimeUnit.SECONDS.toNanos(30), seconds(drainSeconds), List.of());
    }

    private static long seconds(double seconds) {
        return (long) (seconds * 1e9);
    }

    private List<Sampler.Watched> watched(Target target) {
        List<Sampler.Watched> watched = new ArrayList<>();
        switch (target) {
            case NGINX -> watched.add(new Sampler.Watched("proxy", nginxInstance.pid(), true));
            case TOLLGATE -> watched.add(new Sampler.Watched("proxy", tollgate.pid(), false));
            case DIRECT -> { }
        }
        watched.add(new Sampler.Watched("mock", mock.pid(), false));
        watched.add(new Sampler.Watched("generator", ProcessHandle.current().pid(), false));
        return watched;
    }

    /**
     * One run; with {@code measureSecondsOfRun} 0 it is only a warm-up (all of it unmeasured).
     * Every Tollgate run's completions are added to what its journal must show as settled.
     */
    private Measured run(Target target, Mode mode, double rate, double warmSeconds, double measureSecondsOfRun, String label, boolean log)
            throws InterruptedException {
        boolean warmOnly = measureSecondsOfRun <= 0;
        // A warm-up is a run whose measured part is tiny; the spec needs a measured part.
        Spec spec = spec(label, target, mode, rate, warmSeconds, warmOnly ? 0.001 : measureSecondsOfRun, warmOnly ? 5 : 10);
        long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
        Sampler sampler = new Sampler(proc, watched(target), start + spec.warmupNs(), start + spec.warmupNs() + spec.measureNs());
        Thread samplerThread = Thread.ofPlatform().name("sampler").daemon().start(sampler);
        Result result = generator.run(spec, start);
        samplerThread.join();
        Measured measured = new Measured(result, sampler.windows(), sampler.systemBusyNanos());
        account(target, mode, result);
        runLog.append(Report.describe(result)).append(windowsText(measured)).append('\n');
        if (log) {
            say(String.format(Locale.ROOT, "%-26s achieved %8.0f/s  p50 %s  p99 %s  p99.9 %s ms  %s", label, result.achievedPerSecond(),
                    Report.ms(Report.at(result.latencyUs(), 50)), Report.ms(Report.at(result.latencyUs(), 99)),
                    Report.ms(Report.at(result.latencyUs(), 99.9)), result.clean() ? "" : "NOT CLEAN " + result.problems()));
        }
        return measured;
    }

    private static String windowsText(Measured measured) {
        StringBuilder out = new StringBuilder();
        measured.windows().forEach((name, window) -> out.append(String.format(Locale.ROOT, "  %s: cpu %.2f s, rss %.1f MiB (peak %.1f)%n",
                name, window.cpuNanos() / 1e9, window.rssEndBytes() / 1048576.0, window.rssPeakBytes() / 1048576.0)));
        out.append(String.format(Locale.ROOT, "  machine busy %.2f s, other processes %.2f s%n", measured.systemBusyNanos() / 1e9,
                measured.otherCpuNanos() / 1e9));
        return out.toString();
    }

    /** Tollgate runs: every response whole, and each completion is a settlement its journal must hold. */
    private void account(Target target, Mode mode, Result result) {
        if (target != Target.TOLLGATE) {
            return;
        }
        tollgateCompleted += result.all().completed();
        LoadGenerator.Counts all = result.all();
        if (all.errors() > 0 || all.incomplete() > 0 || all.unaccounted() != 0) {
            failures.add(String.format(Locale.ROOT, "%s through Tollgate at %.0f/s: %d error(s), %d incomplete response(s), %d unaccounted; "
                    + "for example %s", mode, result.spec().ratePerSecond(), all.errors(), all.incomplete(), all.unaccounted(), result.problems()));
        }
    }

    private SearchResult search(Target target, Mode mode, double stepSeconds) throws InterruptedException {
        double rate = mode == Mode.JSON ? (quick ? 8000 : 2000) : (quick ? 1600 : 400);
        double good = 0;
        double bad = Double.POSITIVE_INFINITY;
        double tolerance = quick ? QUICK_SEARCH_TOLERANCE : SEARCH_TOLERANCE;
        long limitUs = (long) (p99LimitMs * 1000);
        List<Step> steps = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            boolean ok = false;
            // A step that fails near the limit runs again: one hiccup (a GC pause, another process
            // taking the core) must not set the ceiling. A clear overload is not repeated.
            for (int attempt = 0; attempt < 2 && !ok; attempt++) {
                Spec spec = spec("search " + mode + " " + target.label + " " + Math.round(rate) + "/s", target, mode, rate, quick ? 0.5 : 1,
                        stepSeconds, 1);
                long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
                Result result = generator.run(spec, start);
                account(target, mode, result);
                runLog.append(Report.describe(result)).append('\n');
                ok = result.sustained(99, limitUs);
                long p99 = Report.at(result.latencyUs(), 99);
                String why = ok ? "" : !result.clean() ? describeUnclean(result) : "p99 " + Report.ms(p99) + " ms";
                steps.add(new Step(rate, ok, p99, Report.at(result.sendLagUs(), 99), why));
                boolean again = attempt == 0 && !ok
                        && (result.clean() ? p99 < (quick ? 2 : 4) * limitUs : result.all().unsent() <= result.all().scheduled() / 10);
                say(String.format(Locale.ROOT, "search %-6s %-8s %8.0f/s  p99 %8s ms  send lag p99 %7s ms  %s", mode, target.label, rate,
                        Report.ms(p99), Report.ms(Report.at(result.sendLagUs(), 99)), ok ? "ok" : "no (" + why + ")" + (again ? ", once more" : "")));
                if (!ok && !again) {
                    break;
                }
            }
            if (ok) {
                good = Math.max(good, rate);
            } else {
                bad = Math.min(bad, rate);
            }
            if (bad == Double.POSITIVE_INFINITY) {
                rate *= 2;
            } else if (good == 0) {
                rate /= 2;
                if (rate < 50) {
                    break;
                }
            } else {
                if ((bad - good) / good <= tolerance) {
                    break;
                }
                rate = (good + bad) / 2;
            }
            Thread.sleep(quick ? 100 : 300);
        }
        return new SearchResult(good, steps);
    }

    private static String describeUnclean(Result result) {
        LoadGenerator.Counts all = result.all();
        return String.format(Locale.ROOT, "%d unsent, %d errors, %d incomplete", all.unsent(), all.errors(), all.incomplete());
    }

    /**
     * Conservation and settlement after load: live counters first (nothing reserved, credited minus
     * debited equal to available plus reserved), then, with the node stopped, the journal read offline:
     * {@code verify} (every record checked, no open reservation, conservation per account) and
     * {@code usage} (settled requests equal to the completions the generator saw, none released,
     * the debits equal to the live balance movement, output tokens equal to events per answer).
     */
    private String checkLedger(TollgateInstance node, long expectedSettled, long expectedOutputTokens, String what)
            throws IOException, InterruptedException {
        StringBuilder out = new StringBuilder();
        TollgateInstance.Balance balance = node.balance();
        long movement = TollgateInstance.OPENING_CREDIT_MICROS - balance.availableMicros() - balance.reservedMicros();
        out.append(String.format(Locale.ROOT, "- live balance of account `%s`: credited %d, debited %d, available %d, reserved %d micro-USD%n",
                TollgateInstance.ACCOUNT, balance.creditedMicros(), balance.debitedMicros(), balance.availableMicros(), balance.reservedMicros()));
        check(balance.reservedMicros() == 0, what + ": " + balance.reservedMicros() + " micros still reserved after every response ended");
        check(balance.creditedMicros() == TollgateInstance.OPENING_CREDIT_MICROS, what + ": credited " + balance.creditedMicros()
                + " is not the opening credit " + TollgateInstance.OPENING_CREDIT_MICROS);
        check(balance.creditedMicros() - balance.debitedMicros() == balance.availableMicros() + balance.reservedMicros(),
                what + ": live conservation broken: credited - debited != available + reserved");
        check(movement == balance.debitedMicros(), what + ": balance movement " + movement + " != debited " + balance.debitedMicros());
        int status = node.stop();
        out.append("- Tollgate stopped with SIGTERM, exit status ").append(status).append('\n');
        if (journalParent != null) {
            deleteAfter.add(node.journal());
        }
        Exec.Output verify = node.journalCommand("verify");
        runLog.append("journal verify (").append(what).append("):\n").append(verify.text()).append('\n');
        boolean verified = verify.status() == 0 && verify.text().contains("verify: ok") && verify.text().contains("open reservations: 0")
                && verify.text().contains("conservation ok");
        check(verified, what + ": `tollgate journal verify` did not pass (status " + verify.status() + "):\n" + verify.text());
        out.append("- `tollgate journal verify`: ").append(verified ? "ok" : "FAILED").append(" (")
                .append(grep(verify.text(), "records:")).append("; ").append(grep(verify.text(), "open reservations:")).append("; ")
                .append(grep(verify.text(), "account " + TollgateInstance.ACCOUNT).replaceAll("^account \\S+ ", "")).append(")\n");
        Exec.Output usage = node.journalCommand("usage", "--group-by", "account", "--format", "csv");
        runLog.append("journal usage (").append(what).append("):\n").append(usage.text()).append('\n');
        Map<String, String> row = csvRow(usage.text(), "account", TollgateInstance.ACCOUNT);
        if (usage.status() != 0 || row == null) {
            check(false, what + ": `tollgate journal usage` gave no row for the account (status " + usage.status() + "):\n" + usage.text());
            return out.toString();
        }
        long settled = Long.parseLong(row.get("requests"));
        long released = Long.parseLong(row.get("released"));
        long debited = Long.parseLong(row.get("debited_micros"));
        long output = Long.parseLong(row.get("output"));
        long writtenOff = Long.parseLong(row.get("written_off_micros"));
        out.append(String.format(Locale.ROOT, "- journal: %d settled, %d released, %d output tokens, %d micro-USD debited, %d written off; "
                + "the generator saw %d responses complete%n", settled, released, output, debited, writtenOff, expectedSettled));
        check(settled == expectedSettled, what + ": the journal has " + settled + " settled requests, the generator saw " + expectedSettled
                + " responses complete");
        check(released == 0, what + ": " + released + " requests released (nothing should fail under this load)");
        check(debited == balance.debitedMicros(), what + ": journal debits " + debited + " != live debited " + balance.debitedMicros());
        check(debited == movement, what + ": journal debits " + debited + " != balance movement " + movement);
        check(output == expectedOutputTokens, what + ": " + output + " output tokens billed, expected " + expectedOutputTokens
                + " (the tokens of every answer)");
        check(writtenOff == 0, what + ": " + writtenOff + " micros written off");
        return out.toString();
    }

    private void check(boolean ok, String failure) {
        if (!ok) {
            failures.add(failure);
            say("CHECK FAILED: " + failure);
        }
    }

    private static String grep(String text, String prefix) {
        for (String line : text.split("\n")) {
            if (line.startsWith(prefix)) {
                return line.trim();
            }
        }
        return "(no '" + prefix + "' line)";
    }

    /** The row of a CSV (no quoted commas in the columns used) whose {@code column} is {@code value}, by header name. */
    static Map<String, String> csvRow(String csv, String column, String value) {
        String[] lines = csv.strip().split("\n");
        int header = -1;
        for (int i = 0; i < lines.length; i++) {
            if (Arrays.asList(lines[i].split(",")).contains(column)) {
                header = i;
                break;
            }
        }
        if (header < 0) {
            return null;
        }
        String[] names = lines[header].split(",");
        int at = Arrays.asList(names).indexOf(column);
        for (int i = header + 1; i < lines.length; i++) {
            String[] cells = lines[i].split(",", -1);
            if (cells.length == names.length && cells[at].equals(value)) {
                Map<String, String> row = new LinkedHashMap<>();
                for (int c = 0; c < names.length; c++) {
                    row.put(names[c], cells[c]);
                }
                return row;
            }
        }
        return null;
    }

    record ManyStreams(int wanted, long maxOpen, long rssIdleBytes, long rssOpenBytes, long rssPeakBytes, long rssAfterBytes,
                       int fdsIdle, int fdsOpen, int threadsOpen, Result result, String ledger, double streamSeconds) {
    }

    /**
     * A fresh Tollgate holds {@code streams} slow streams open at once: its resident memory idle (after
     * a short warm-up) and with every stream open, and every stream must complete and settle.
     */
    private ManyStreams manyStreams(int delayMs) throws Exception {
        TollgateInstance node = TollgateInstance.start("tollgate-streams", tollgateJar, tollgateJvm, work.resolve("tollgate-streams"), mockPort,
                providerKey, upstreamKeepalive, durability, journalParent);
        running.add(node);
        tollgate = node;
        say("many streams: Tollgate on 127.0.0.1:" + node.port() + " (pid " + node.pid() + ")");
        long warmCompleted = 0;
        for (Mode mode : List.of(Mode.JSON, Mode.STREAM)) {
            Spec warm = spec("streams warm-up " + mode, Target.TOLLGATE, mode, 500, 2, 0.001, 5);
            Result result = generator.run(warm, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50));
            warmCompleted += result.all().completed();
            account(Target.TOLLGATE, mode, result);
        }
        Thread.sleep(2000);
        long rssIdle = medianRss(node.pid(), 5);
        int fdsIdle = count(Path.of("/proc", Long.toString(node.pid()), "fd"));
        // Each stream is two sockets in Tollgate (the client's and the upstream one). Where the
        // open-file limit cannot be raised far enough, hold what fits and say so.
        long fdLimit = openFileLimit(node.pid());
        int wanted = streams;
        if (fdLimit > 0 && 2L * streams + fdsIdle + 64 > fdLimit) {
            wanted = (int) Math.max(1, (fdLimit - fdsIdle - 64) / 2);
            notes.add(String.format(Locale.ROOT, "Tollgate's open-file limit here is %d (the hard limit, which this user cannot raise), and "
                    + "each open stream takes two sockets in Tollgate: %,d streams were held open instead of %,d. The memory per stream "
                    + "measured with them is extrapolated to %,d in the goals table.", fdLimit, wanted, streams, streams));
        }
        List<InetAddress> sources = new ArrayList<>();
        for (int i = 2; i <= 9; i++) {
            sources.add(InetAddress.getByName("127.0.0." + i));
        }
        List<RequestTemplate> slow = RunCommand.templates(surface, true, streamsEvents, delayMs, "127.0.0.1:" + node.port(), node.key());
        // An OpenAI stream has events + 4 events and an Anthropic one events + 6, the first at once.
        double streamSeconds = (streamsEvents + 5) * delayMs / 1000.0;
        if (streamSeconds < slowOpenSeconds + 3) {
            notes.add(String.format(Locale.ROOT, "The slow streams last about %.0f s and are opened over %.0f s: the first may end before the "
                    + "last opens. Raise --streams-delay-ms.", streamSeconds, slowOpenSeconds));
        }
        Spec spec = new Spec("slow streams", new InetSocketAddress("127.0.0.1", node.port()), slow, wanted / slowOpenSeconds, 0,
                seconds(slowOpenSeconds), wanted + 64, 1 << 16, seconds(streamSeconds + 120), seconds(60), sources);
        AtomicReference<Result> outcome = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
        Thread runner = Thread.ofPlatform().name("slow-streams").start(() -> {
            try {
                outcome.set(generator.run(spec, start));
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        long maxOpen = 0;
        long rssAtMax = 0;
        long rssPeak = 0;
        int fdsAtMax = 0;
        int threadsAtMax = 0;
        while (runner.isAlive()) {
            long open = generator.openStreams();
            long rss = proc.rssKib(node.pid()) * 1024;
            rssPeak = Math.max(rssPeak, rss);
            // The memory that goes with the most streams open at once; at that count, the largest reading.
            if (open > maxOpen || (open == maxOpen && rss > rssAtMax)) {
                maxOpen = open;
                rssAtMax = rss;
                fdsAtMax = count(Path.of("/proc", Long.toString(node.pid()), "fd"));
                threadsAtMax = threads(node.pid());
            }
            runner.join(100);
        }
        if (failure.get() != null) {
            throw new IllegalStateException("the slow-stream run failed", failure.get());
        }
        Result result = outcome.get();
        account(Target.TOLLGATE, Mode.STREAM, result);
        runLog.append(Report.describe(result)).append('\n');
        long rssAfter = proc.rssKib(node.pid()) * 1024;
        long scheduled = result.all().scheduled();
        check(maxOpen >= scheduled, "only " + maxOpen + " of " + scheduled + " slow streams were open at the same time");
        check(result.clean() && result.all().completed() == scheduled, "slow streams: " + result.all().completed() + " of " + scheduled
                + " completed whole; " + result.problems());
        say(String.format(Locale.ROOT, "many streams: %d open at once; RSS idle %.0f MiB, with them open %.0f MiB, peak %.0f MiB, after %.0f MiB; "
                + "fds %d -> %d", maxOpen, rssIdle / 1048576.0, rssAtMax / 1048576.0, rssPeak / 1048576.0, rssAfter / 1048576.0, fdsIdle, fdsAtMax));
        String ledger = checkLedger(node, warmCompleted + result.all().completed(),
                (long) events * warmCompleted + (long) streamsEvents * result.all().completed(), "the slow-stream run");
        running.remove(node);
        tollgate = null;
        return new ManyStreams((int) scheduled, maxOpen, rssIdle, rssAtMax, rssPeak, rssAfter, fdsIdle, fdsAtMax, threadsAtMax, result, ledger,
                streamSeconds);
    }

    private static void deleteTree(Path root) {
        try (var paths = Files.walk(root)) {
            for (Path path : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            System.out.println("harness: could not delete " + root + ": " + e);
        }
    }

    /** The soft "Max open files" of a process, or -1 if unknown or unlimited. */
    static long openFileLimit(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "limits"))) {
                if (line.startsWith("Max open files")) {
                    String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                    return soft.equals("unlimited") ? -1 : Long.parseLong(soft);
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    private long medianRss(long pid, int samples) throws InterruptedException {
        long[] values = new long[samples];
        for (int i = 0; i < samples; i++) {
            values[i] = proc.rssKib(pid) * 1024;
            Thread.sleep(200);
        }
        Arrays.sort(values);
        return values[samples / 2];
    }

    private static int count(Path directory) {
        try (var entries = Files.list(directory)) {
            return (int) entries.count();
        } catch (IOException e) {
            return -1;
        }
    }

    private static int threads(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("Threads:")) {
                    return Integer.parseInt(line.substring("Threads:".length()).trim());
                }
            }
        } catch (IOException e) {
            return -1;
        }
        return -1;
    }

    private synchronized void closeAll() {
        List<AutoCloseable> toClose = new ArrayList<>(running);
        java.util.Collections.reverse(toClose);
        running.clear();
        for (AutoCloseable closeable : toClose) {
            try {
                closeable.close();
            } catch (Exception e) {
                System.out.println("harness: closing " + closeable + ": " + e);
            }
        }
    }

    private void say(String line) {
        String stamped = DateTimeFormatter.ISO_LOCAL_TIME.format(Instant.now().atZone(ZoneOffset.UTC)).substring(0, 8) + " " + line;
        System.out.println(stamped);
        System.out.flush();
        runLog.append(stamped).append('\n');
    }

    private static List<String> split(String text) {
        return text.isBlank() ? List.of() : List.of(text.trim().split("\\s+"));
    }

    private String machine() {
        String cpu = "unknown CPU";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        } catch (IOException e) {
            // Leave it unknown.
        }
        long memoryKib = 0;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    memoryKib = Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            // Leave it 0.
        }
        String javaVersion = System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version");
        String nginxVersion;
        try {
            nginxVersion = Exec.run(List.of(nginx.toString(), "-v"), Duration.ofSeconds(10)).text().trim().replace("nginx version: ", "");
        } catch (IOException | InterruptedException | RuntimeException e) {
            nginxVersion = "nginx (version unknown)";
        }
        return String.format(Locale.ROOT, "%d cores (%s), %.0f GiB, %s, %s", Runtime.getRuntime().availableProcessors(), cpu,
                memoryKib / 1048576.0, javaVersion, nginxVersion);
    }

    private static double loadAverage() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    // ---------------------------------------------------------------- report

    private String report(Instant began, String machine, double loadAverageAtStart, double measure, double warmup, double step, int slowDelayMs) {
        StringBuilder out = new StringBuilder();
        String date = DateTimeFormatter.ISO_INSTANT.format(began.truncatedTo(java.time.temporal.ChronoUnit.MINUTES));
        out.append("## Load harness results, ").append(date).append("\n\n");
        out.append("- machine: ").append(machine).append(String.format(Locale.ROOT, "; load average %.2f at the start%n", loadAverageAtStart));
        if (!commandLine.isBlank()) {
            out.append("- command: `").append(commandLine).append("`\n");
        }
        out.append(String.format(Locale.ROOT, "- %s requests, %d output tokens each (%s), streams %s; every process on the same %d cores; "
                        + "open-loop load, latency from the intended send time (corrected for coordinated omission); fixed-rate runs: "
                        + "%.0f s warm-up then %.0f s measured; client pool %d connections, upstream keep-alive %d per worker; "
                        + "Tollgate: `serve` with journal durability `%s`%s, %s%n",
                surface.equals("mixed") ? "OpenAI and Anthropic alternating" : surface, events, "max_tokens 64",
                streamDelayMs == 0 ? "with events back to back, each flushed alone by the mock" : "with " + streamDelayMs + " ms between events",
                Runtime.getRuntime().availableProcessors(), warmup, measure, connections, upstreamKeepalive, durability,
                journalParent == null ? "" : " and the journal under " + journalParent + " (diagnostic)",
                tollgateJavaOpts.isBlank() ? "default JVM options (as bin/tollgate)" : "JVM options `" + tollgateJavaOpts + "`"));
        out.append("- wall time of the run: ").append(Duration.between(began, Instant.now()).toSeconds()).append(" s\n\n");

        if (!fixed.isEmpty()) {
            out.append("### Same offered load\n\n");
            out.append(jsonRate == null && streamRate == null && search
                    ? "Each mode at half the lowest maximum rate the search found (so every path keeps up and added latency is not a queue's); "
                    + "added latency is the percentile minus the same percentile straight to the mock. CPU is what the process used in the "
                    + "measured window per 1,000 completed requests; nginx counts its master and workers, Tollgate its JVM; "
                    + "'other CPU' is what every other process on the machine used in the window.\n\n"
                    : "Added latency is the percentile minus the same percentile straight to the mock; CPU per 1,000 completed requests in "
                    + "the measured window; 'other CPU' is what every other process on the machine used in the window.\n\n");
            out.append("| mode | path | offered/s | achieved/s | p50 ms | p99 ms | p99.9 ms | added p50 | added p99 | added p99.9 "
                    + "| first event p99 | event gap p99 | proxy CPU s/1k req | proxy RSS MiB | mock CPU s/1k | generator CPU s/1k | other CPU s | errors |\n");
            out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
            for (Mode mode : Mode.values()) {
                Measured direct = fixed.get(key(mode, Target.DIRECT));
                for (Target target : Target.values()) {
                    Measured m = fixed.get(key(mode, target));
                    if (m == null) {
                        continue;
                    }
                    Result r = m.result();
                    double perThousand = r.measured().completed() / 1000.0;
                    out.append(String.format(Locale.ROOT, "| %s | %s | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f | %s |%n",
                            mode.name().toLowerCase(Locale.ROOT), target.label, r.spec().ratePerSecond(), r.achievedPerSecond(),
                            Report.ms(Report.at(r.latencyUs(), 50)), Report.ms(Report.at(r.latencyUs(), 99)), Report.ms(Report.at(r.latencyUs(), 99.9)),
                            added(direct, m, 50), added(direct, m, 99), added(direct, m, 99.9),
                            mode == Mode.STREAM ? Report.ms(Report.at(r.ttfbUs(), 99)) : "",
                            mode == Mode.STREAM ? Report.ms(Report.at(r.gapUs(), 99)) : "",
                            target == Target.DIRECT ? "" : String.format(Locale.ROOT, "%.3f", m.window("proxy").cpuNanos() / 1e9 / perThousand),
                            target == Target.DIRECT ? "" : String.format(Locale.ROOT, "%.0f", m.window("proxy").rssEndBytes() / 1048576.0),
                            String.format(Locale.ROOT, "%.3f", m.window("mock").cpuNanos() / 1e9 / perThousand),
                            String.format(Locale.ROOT, "%.3f", m.window("generator").cpuNanos() / 1e9 / perThousand),
                            m.otherCpuNanos() / 1e9,
                            r.clean() ? "0" : describeUnclean(r)));
                }
            }
            out.append("\n");
        }

        if (!searches.isEmpty()) {
            out.append(String.format(Locale.ROOT, "### Maximum rate with p99 under %.1f ms%n%n", p99LimitMs));
            out.append(String.format(Locale.ROOT, "Stepped up x2 from a low rate until a step failed, then bisected to within %.0f%%; each step %.1f s "
                    + "measured after %.1f s at the same rate. A step fails if p99 >= the limit or anything was unsent, an error or incomplete.%n%n",
                    100 * (quick ? QUICK_SEARCH_TOLERANCE : SEARCH_TOLERANCE), step, quick ? 0.5 : 1.0));
            out.append("| mode | path | max rate/s | ratio to direct | ratio to nginx | first failing step |\n|---|---|---:|---:|---:|---|\n");
            for (Mode mode : Mode.values()) {
                SearchResult direct = searches.get(key(mode, Target.DIRECT));
                SearchResult viaNginx = searches.get(key(mode, Target.NGINX));
                for (Target target : Target.values()) {
                    SearchResult s = searches.get(key(mode, target));
                    if (s == null) {
                        continue;
                    }
                    Step failing = s.steps().stream().filter(x -> !x.sustained()).min((a, b) -> Double.compare(a.rate(), b.rate())).orElse(null);
                    out.append(String.format(Locale.ROOT, "| %s | %s | %.0f | %s | %s | %s |%n", mode.name().toLowerCase(Locale.ROOT), target.label,
                            s.maxRate(), ratio(s, direct), target == Target.DIRECT ? "" : ratio(s, viaNginx),
                            failing == null ? "(none failed)" : String.format(Locale.ROOT, "%.0f/s: %s", failing.rate(), failing.why())));
                }
            }
            out.append("\n");
        }

        out.append("### Goals of issue 4\n\n| goal | measured | met |\n|---|---|---|\n");
        for (Mode mode : Mode.values()) {
            SearchResult t = searches.get(key(mode, Target.TOLLGATE));
            SearchResult n = searches.get(key(mode, Target.NGINX));
            if (t != null && n != null && n.maxRate() > 0) {
                double ratio = t.maxRate() / n.maxRate();
                out.append(String.format(Locale.ROOT, "| %s: Tollgate sustains >= 0.9x nginx's rate (p99 < %.0f ms) | %.2fx (%.0f vs %.0f/s) | %s |%n",
                        mode.name().toLowerCase(Locale.ROOT), p99LimitMs, ratio, t.maxRate(), n.maxRate(), ratio >= 0.9 ? "yes" : "**no**"));
            }
        }
        for (Mode mode : Mode.values()) {
            Measured d = fixed.get(key(mode, Target.DIRECT));
            Measured n = fixed.get(key(mode, Target.NGINX));
            Measured t = fixed.get(key(mode, Target.TOLLGATE));
            if (d != null && n != null && t != null) {
                long nginxAdded = Report.at(n.result().latencyUs(), 99) - Report.at(d.result().latencyUs(), 99);
                long tollgateAdded = Report.at(t.result().latencyUs(), 99) - Report.at(d.result().latencyUs(), 99);
                out.append(String.format(Locale.ROOT, "| %s at %.0f/s: Tollgate's added p99 <= nginx's added p99 + 0.5 ms | Tollgate %s ms, nginx %s ms | %s |%n",
                        mode.name().toLowerCase(Locale.ROOT), t.result().spec().ratePerSecond(), Report.deltaMs(tollgateAdded),
                        Report.deltaMs(nginxAdded), tollgateAdded <= nginxAdded + 500 ? "yes" : "**no**"));
            }
        }
        if (manyStreams != null && manyStreams.maxOpen() > 0) {
            ManyStreams m = manyStreams;
            boolean extrapolated = m.maxOpen() < streams;
            long atGoal = extrapolated ? m.rssIdleBytes() + (m.rssOpenBytes() - m.rssIdleBytes()) * streams / m.maxOpen() : m.rssOpenBytes();
            out.append(String.format(Locale.ROOT, "| %,d open streams: Tollgate resident memory < 1 GB | %.0f MiB%s | %s |%n", streams,
                    atGoal / 1048576.0, extrapolated ? String.format(Locale.ROOT, " (extrapolated from %,d open: %.0f MiB)", m.maxOpen(),
                            m.rssOpenBytes() / 1048576.0) : "", atGoal < 1_000_000_000L ? "yes" : "**no**"));
        }
        out.append("\n");

        if (manyStreams != null) {
            ManyStreams s = manyStreams;
            out.append(String.format(Locale.ROOT, "### %,d concurrent slow streams through Tollgate%n%n", s.wanted()));
            out.append(String.format(Locale.ROOT, "Opened over %.0f s, %d events each with %d ms between them (about %.0f s per stream), "
                            + "from 8 loopback source addresses; memory is read from /proc while the most streams were open.%n%n",
                    slowOpenSeconds, streamsEvents, slowDelayMs, s.streamSeconds()));
            out.append("| open at once | RSS idle MiB | RSS with them open MiB | per stream KiB | RSS peak MiB | RSS after MiB | fds idle / open | threads | completed whole | first event p99 ms | event gap p99 ms |\n");
            out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            out.append(String.format(Locale.ROOT, "| %d | %.0f | %.0f | %.1f | %.0f | %.0f | %d / %d | %d | %d of %d | %s | %s |%n%n", s.maxOpen(),
                    s.rssIdleBytes() / 1048576.0, s.rssOpenBytes() / 1048576.0, (s.rssOpenBytes() - s.rssIdleBytes()) / 1024.0 / Math.max(1, s.maxOpen()),
                    s.rssPeakBytes() / 1048576.0, s.rssAfterBytes() / 1048576.0, s.fdsIdle(), s.fdsOpen(), s.threadsOpen(),
                    s.result().all().completed(), s.wanted(), Report.ms(Report.at(s.result().ttfbUs(), 99)),
                    Report.ms(Report.at(s.result().gapUs(), 99))));
        }

        out.append("### Correctness under load\n\n");
        if (ledgerMain != null) {
            out.append("Tollgate of the comparison runs (every fixed-rate, warm-up and search run through it):\n\n").append(ledgerMain).append('\n');
        }
        if (manyStreams != null) {
            out.append("Tollgate of the slow-stream run:\n\n").append(manyStreams.ledger()).append('\n');
        }
        out.append(failures.isEmpty() ? "All checks passed.\n\n" : "**" + failures.size() + " check(s) FAILED:**\n\n");
        for (String failure : failures) {
            out.append("- ").append(failure.replace("\n", "\n  ")).append('\n');
        }
        if (!failures.isEmpty()) {
            out.append('\n');
        }
        if (jfrSummary != null) {
            out.append("### Profile: Tollgate during the fixed-rate streaming run (JFR, settings=profile)\n\n").append(jfrSummary).append('\n');
        }
        if (!notes.isEmpty()) {
            out.append("### Notes\n\n");
            for (String note : notes) {
                out.append("- ").append(note).append('\n');
            }
            out.append('\n');
        }
        return out.toString();
    }

    private static String added(Measured direct, Measured measured, double percentile) {
        if (direct == null) {
            return "";
        }
        return Report.deltaMs(Report.at(measured.result().latencyUs(), percentile) - Report.at(direct.result().latencyUs(), percentile));
    }

    private static String ratio(SearchResult s, SearchResult base) {
        return base == null || base.maxRate() <= 0 ? "" : String.format(Locale.ROOT, "%.2f", s.maxRate() / base.maxRate());
    }
}
