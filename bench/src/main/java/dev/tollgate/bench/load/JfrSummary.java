package dev.tollgate.bench.load;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedMethod;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;

/**
 * Where a process's time went, from a JDK Flight Recorder recording: CPU samples by component (the
 * share of samples with at least one frame of that component anywhere on the stack: inclusive
 * time), by the innermost Tollgate frame, by top frame (self time) and by thread; allocation by
 * frame; and garbage-collection pauses.
 *
 * <p>It uses {@code jdk.CPUTimeSample} (JDK 25 on Linux: a sample per period of a thread's CPU
 * time, in Java code or in a system call) when the recording has it, else {@code jdk.ExecutionSample}
 * (threads running Java code only, which misses a proxy's time in socket reads and writes).
 */
final class JfrSummary {

    /** Components by class-name prefix, most specific first. */
    private static final Map<String, String> COMPONENTS = new LinkedHashMap<>();

    static {
        COMPONENTS.put("dev.tollgate.metering.", "Tollgate metering (dev.tollgate.metering)");
        COMPONENTS.put("dev.tollgate.journal.", "Tollgate journal (dev.tollgate.journal)");
        COMPONENTS.put("dev.tollgate.proxy.", "Tollgate proxy pipeline (dev.tollgate.proxy)");
        COMPONENTS.put("dev.tollgate.config.", "Tollgate config (dev.tollgate.config)");
        COMPONENTS.put("com.knuddels.jtokkit.", "jtokkit tokenizer");
        COMPONENTS.put("com.fasterxml.jackson.", "Jackson JSON");
        COMPONENTS.put("net.openhft.", "Chronicle");
        COMPONENTS.put("org.agrona.", "Agrona");
        COMPONENTS.put("io.netty.handler.codec.", "Netty HTTP codec");
        COMPONENTS.put("io.netty.channel.", "Netty channel/transport");
        COMPONENTS.put("io.netty.buffer.", "Netty buffers");
        COMPONENTS.put("java.util.regex.", "java.util.regex");
        COMPONENTS.put("java.security.", "java.security (hashing)");
        COMPONENTS.put("sun.security.", "java.security (hashing)");
    }

    private JfrSummary() {
    }

    static String summarize(Path recording, int top) throws IOException {
        return summarize(recording, top, 0);
    }

    /** With {@code requests} > 0 (requests completed during the recording), allocation per request too. */
    static String summarize(Path recording, int top, long requests) throws IOException {
        List<RecordedEvent> all = RecordingFile.readAllEvents(recording);
        // CPU-time samples (JDK 25, Linux) see a thread whenever it burns CPU, in Java code or in a
        // system call; execution samples only see threads running Java code. Prefer the former.
        boolean cpuTime = all.stream().anyMatch(e -> e.getEventType().getName().equals("jdk.CPUTimeSample"));
        String sampleType = cpuTime ? "jdk.CPUTimeSample" : "jdk.ExecutionSample";
        String threadField = cpuTime ? "eventThread" : "sampledThread";
        Map<String, Long> selfByMethod = new HashMap<>();
        Map<String, Long> byComponent = new HashMap<>();
        Map<String, Long> byThread = new HashMap<>();
        Map<String, Long> byTollgateFrame = new HashMap<>();
        Map<String, Long> allocationByMethod = new HashMap<>();
        Map<String, Long> allocationByTollgateFrame = new HashMap<>();
        long samples = 0;
        long allocationSamples = 0;
        Map<Long, long[]> allocatedByThread = new HashMap<>();
        long gcCount = 0;
        Duration gcPause = Duration.ZERO;
        Duration longestGcPause = Duration.ZERO;
        java.time.Instant first = null;
        java.time.Instant last = null;
        for (RecordedEvent event : all) {
            String type = event.getEventType().getName();
            if (first == null || event.getStartTime().isBefore(first)) {
                first = event.getStartTime();
            }
            if (last == null || event.getEndTime().isAfter(last)) {
                last = event.getEndTime();
            }
            if (type.equals(sampleType)) {
                samples++;
                RecordedStackTrace stack = event.getStackTrace();
                if (stack != null && !stack.getFrames().isEmpty()) {
                    selfByMethod.merge(name(stack.getFrames().get(0)), 1L, Long::sum);
                    Set<String> components = new HashSet<>();
                    for (RecordedFrame frame : stack.getFrames()) {
                        String component = component(frame);
                        if (component != null) {
                            components.add(component);
                        }
                    }
                    for (String component : components) {
                        byComponent.merge(component, 1L, Long::sum);
                    }
                    byTollgateFrame.merge(firstTollgateFrame(stack), 1L, Long::sum);
                }
                RecordedThread thread = event.getThread(threadField);
                byThread.merge(threadGroup(thread == null ? null : thread.getJavaName()), 1L, Long::sum);
                continue;
            }
            switch (type) {
                case "jdk.ObjectAllocationSample" -> {
                    // Counted, not weighted: a sample's weight is everything its thread allocated since its
                    // previous sample, which pins a few large numbers on whatever happened to be sampled.
                    allocationSamples++;
                    RecordedStackTrace stack = event.getStackTrace();
                    if (stack != null && !stack.getFrames().isEmpty()) {
                        allocationByMethod.merge(firstNonJdkFrame(stack), 1L, Long::sum);
                        allocationByTollgateFrame.merge(firstTollgateFrame(stack), 1L, Long::sum);
                    }
                }
                case "jdk.ThreadAllocationStatistics" -> {
                    // Each thread's running total of bytes allocated: exact, unlike the samples' weights.
                    RecordedThread thread = event.getThread("thread");
                    if (thread != null) {
                        long allocated = event.getLong("allocated");
                        long[] range = allocatedByThread.computeIfAbsent(thread.getJavaThreadId(), id -> new long[] {allocated, allocated});
                        range[0] = Math.min(range[0], allocated);
                        range[1] = Math.max(range[1], allocated);
                    }
                }
                case "jdk.GarbageCollection" -> {
                    gcCount++;
                    Duration pause = event.getDuration("sumOfPauses");
                    gcPause = gcPause.plus(pause);
                    if (pause.compareTo(longestGcPause) > 0) {
                        longestGcPause = pause;
                    }
                }
                default -> { }
            }
        }
        double seconds = first == null ? 0 : Duration.between(first, last).toNanos() / 1e9;
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "Recording `%s`: %.1f s, %d %s samples (%s).%n%n", recording.getFileName(), seconds, samples,
                sampleType, cpuTime ? "CPU time, every 5 ms of a thread's CPU, system calls included"
                        : "threads running Java code only"));
        out.append("By component (inclusive: a sample counts once for every component on its stack):\n\n");
        out.append(table(byComponent, samples, top, "component"));
        out.append("\nBy the innermost Tollgate frame (the Tollgate code responsible, with what it calls):\n\n");
        out.append(table(byTollgateFrame, samples, top, "method"));
        out.append("\nTop frames (self: the method running when sampled):\n\n");
        out.append(table(selfByMethod, samples, top, "method"));
        out.append("\nBy thread:\n\n");
        out.append(table(byThread, samples, Math.min(top, 6), "thread"));
        long allocated = allocatedByThread.values().stream().mapToLong(range -> range[1] - range[0]).sum();
        out.append(String.format(Locale.ROOT, "%nAllocation: %.0f MB/s (%.2f GB in %.1f s, from the threads' allocation counters%s). "
                        + "Where, as shares of %d allocation samples, by the innermost Tollgate frame:%n%n",
                seconds > 0 ? allocated / 1e6 / seconds : 0, allocated / 1e9, seconds,
                requests > 0 ? String.format(Locale.ROOT, "; %.1f KB per request over %,d requests", allocated / 1e3 / requests, requests) : "",
                allocationSamples));
        out.append(table(allocationByTollgateFrame, allocationSamples, Math.min(top, 10), "method"));
        out.append("\nBy the first frame outside the JDK:\n\n");
        out.append(table(allocationByMethod, allocationSamples, Math.min(top, 8), "method"));
        out.append(String.format(Locale.ROOT, "%nGarbage collection: %d collections, %d ms of pauses in all, the longest %.1f ms.%n",
                gcCount, gcPause.toMillis(), longestGcPause.toNanos() / 1e6));
        return out.toString();
    }

    /** The frame nearest the top of the stack that is Tollgate's own code, or a marker if there is none. */
    private static String firstTollgateFrame(RecordedStackTrace stack) {
        for (RecordedFrame frame : stack.getFrames()) {
            RecordedMethod method = frame.getMethod();
            if (method != null && method.getType() != null && method.getType().getName().startsWith("dev.tollgate.")) {
                return name(frame);
            }
        }
        return "(no Tollgate frame: Netty, JDK or JVM work)";
    }

    private static String table(Map<String, Long> counts, long total, int top, String what) {
        List<Map.Entry<String, Long>> entries = new ArrayList<>(counts.entrySet());
        entries.sort(Map.Entry.<String, Long>comparingByValue().reversed());
        StringBuilder out = new StringBuilder("| share | " + what + " |\n|---:|---|\n");
        for (Map.Entry<String, Long> entry : entries.subList(0, Math.min(top, entries.size()))) {
            out.append(String.format(Locale.ROOT, "| %.1f%% | `%s` |%n", total == 0 ? 0 : 100.0 * entry.getValue() / total, entry.getKey()));
        }
        return out.toString();
    }

    private static String name(RecordedFrame frame) {
        RecordedMethod method = frame.getMethod();
        if (method == null) {
            return "(unknown)";
        }
        String type = method.getType() == null ? "?" : method.getType().getName();
        return shorten(type) + "." + method.getName();
    }

    /** Drops the package of JDK and library classes' names, keeps Tollgate's visible. */
    private static String shorten(String type) {
        if (type.startsWith("dev.tollgate.")) {
            return type.substring("dev.tollgate.".length());
        }
        return type;
    }

    private static String component(RecordedFrame frame) {
        RecordedMethod method = frame.getMethod();
        if (method == null || method.getType() == null) {
            return null;
        }
        String type = method.getType().getName();
        for (Map.Entry<String, String> entry : COMPONENTS.entrySet()) {
            if (type.startsWith(entry.getKey())) {
                return entry.getValue();
            }
        }
        return null;
    }

    private static String firstNonJdkFrame(RecordedStackTrace stack) {
        for (RecordedFrame frame : stack.getFrames()) {
            RecordedMethod method = frame.getMethod();
            if (method != null && method.getType() != null) {
                String type = method.getType().getName();
                if (!type.startsWith("java.") && !type.startsWith("jdk.") && !type.startsWith("sun.")) {
                    return name(frame);
                }
            }
        }
        return name(stack.getFrames().get(0));
    }

    /** {@code tollgate-io-3-1} and {@code tollgate-io-3-2} are one group. */
    private static String threadGroup(String name) {
        if (name == null) {
            return "(unknown)";
        }
        return name.replaceAll("[-#]?\\d+$", "").replaceAll("[-#]?\\d+$", "");
    }
}
