package dev.tollgate.proxy.accesslog;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.tollgate.config.AccessLogConfig;
import dev.tollgate.metering.Usage;
import java.io.BufferedWriter;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.CharArrayWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The access log: one JSON object per line and per request, appended by one daemon thread. The event loops only
 * {@link #record} an {@link AccessEntry} into a bounded lock-free queue and go on; when the queue is full the line is
 * dropped and counted rather than make a request wait for a disk. The writer formats, writes through a buffer and
 * flushes whenever it has emptied the queue, so a quiet node's lines are on disk (in the page cache) at once and a busy
 * one's in batches. Dropped lines are reported by a line of their own ({@code {"time":..., "dropped_lines": n}}), a
 * warning and {@link #droppedLines()} (the metric {@code tollgate_access_log_dropped_total}).
 *
 * <p>{@link #DISABLED} has no queue and no thread; callers check {@link #enabled()} before building an entry.
 */
public final class AccessLog implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AccessLog.class);
    /** Lines waiting for the writer; a burst beyond this (a stalled disk) is dropped and counted. */
    public static final int DEFAULT_QUEUE_CAPACITY = 16_384;
    /** The writer's nap when it finds nothing to do; producers wake it sooner (see {@link #record}). */
    private static final long IDLE_PARK_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final long CLOSE_WAIT_MS = 10_000;
    private static final DateTimeFormatter RFC_3339_MS = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    private static final JsonFactory JSON = new JsonFactory();

    public static final AccessLog DISABLED = new AccessLog();

    private final ManyToOneConcurrentArrayQueue<AccessEntry> queue;
    private final Writer out;
    private final boolean closeOut;
    private final String destination;
    /** The writer's own: the line being formatted, so that a line that fails half-way never reaches the file. */
    private final CharArrayWriter line;
    private final Thread writer;
    private final AtomicLong dropped = new AtomicLong();
    /** Set by the writer just before it parks, so that a producer unparks it only then (an unpark is a system call). */
    private volatile boolean writerParked;
    private volatile boolean closing;
    /** The writer's own: how many dropped lines its report lines have told of so far. */
    private long droppedReported;
    private long lastWriteFailureLogNanos = System.nanoTime() - TimeUnit.MINUTES.toNanos(1);

    private AccessLog() {
        queue = null;
        out = null;
        closeOut = false;
        destination = "nowhere";
        line = null;
        writer = null;
    }

    private AccessLog(Writer out, boolean closeOut, String destination, int queueCapacity) {
        this.queue = new ManyToOneConcurrentArrayQueue<>(queueCapacity);
        this.out = out;
        this.closeOut = closeOut;
        this.destination = destination;
        this.line = new CharArrayWriter(512);
        this.writer = Thread.ofPlatform().name("tollgate-access-log").daemon().unstarted(this::writeUntilClosed);
        writer.start();
    }

    /**
     * The access log {@code config} asks for: {@link #DISABLED}, or one appending to its file (its directory made if
     * missing) or to standard output.
     *
     * @throws IllegalStateException when the file cannot be opened: a node that was asked for an access log does not
     *                               start without one
     */
    public static AccessLog open(AccessLogConfig config) {
        if (!config.enabled()) {
            return DISABLED;
        }
        if (config.toStandardOutput()) {
            // FileDescriptor.out, not System.out: the PrintStream would swallow write errors.
            return new AccessLog(new BufferedWriter(new OutputStreamWriter(new FileOutputStream(java.io.FileDescriptor.out), StandardCharsets.UTF_8)),
                    false, config.destination(), DEFAULT_QUEUE_CAPACITY);
        }
        Path file = config.file();
        try {
            if (file.getParent() != null) {
                Files.createDirectories(file.getParent());
            }
            Writer writer = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
                    StandardOpenOption.WRITE);
            return new AccessLog(writer, true, config.destination(), DEFAULT_QUEUE_CAPACITY);
        } catch (IOException e) {
            throw new IllegalStateException("cannot open the access log (accessLog.path) " + file + ": " + describe(e, file), e);
        }
    }

    /** An access log writing to {@code out} (closed with it), holding at most {@code queueCapacity} lines in waiting. */
    public static AccessLog writingTo(Writer out, int queueCapacity) {
        return new AccessLog(out, true, "a writer", queueCapacity);
    }

    private static String describe(IOException e, Path file) {
        if (e instanceof FileSystemException nio) {
            // NIO's message is mostly the path again; its type says what went wrong (AccessDeniedException, FileSystemException: Read-only file system...).
            return nio.getClass().getSimpleName() + (nio.getFile() == null || file.toString().equals(nio.getFile()) ? "" : " " + nio.getFile())
                    + (nio.getReason() == null ? "" : ": " + nio.getReason());
        }
        return e.toString();
    }

    public boolean enabled() {
        return queue != null;
    }

    /** Where the lines go, for messages. */
    public String destination() {
        return destination;
    }

    /**
     * Hands {@code entry} to the writer without waiting: called on the event loops. A full queue (or a closed log)
     * drops it, counted.
     */
    public void record(AccessEntry entry) {
        if (queue == null) {
            return;
        }
        if (closing || !queue.offer(entry)) {
            dropped.incrementAndGet();
            return;
        }
        if (writerParked) {
            LockSupport.unpark(writer);
        }
    }

    /** Lines lost since start: the queue was full, the log was closed, or the write failed. */
    public long droppedLines() {
        return dropped.get();
    }

    /** Writes what is queued, flushes and closes the file; lines recorded from now on are dropped. */
    @Override
    public void close() {
        if (queue == null || closing) {
            return;
        }
        closing = true;
        LockSupport.unpark(writer);
        try {
            writer.join(CLOSE_WAIT_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (writer.isAlive()) {
            LOG.warn("the access log writer did not finish within {} ms; lines still queued are lost", CLOSE_WAIT_MS);
        }
    }

    // ---------------------------------------------------------------- the writer thread

    private void writeUntilClosed() {
        boolean unflushed = false;
        while (true) {
            // closing is read before draining: whatever was offered before close() began is drained below.
            boolean last = closing;
            int written = queue.drain(this::write);
            if (written > 0) {
                unflushed = true;
                continue;
            }
            if (dropped.get() > droppedReported) {
                reportDropped();
                unflushed = true;
            }
            if (unflushed) {
                flush();
                unflushed = false;
            }
            if (last) {
                break;
            }
            writerParked = true;
            if (queue.isEmpty() && !closing) {
                LockSupport.parkNanos(this, IDLE_PARK_NANOS);
            }
            writerParked = false;
        }
        try {
            if (closeOut) {
                out.close();
            }
        } catch (IOException e) {
            LOG.warn("closing the access log {} failed: {}", destination, e.toString());
        }
    }

    private void write(AccessEntry entry) {
        try {
            line.reset();
            try (JsonGenerator json = JSON.createGenerator(line)) {
                json.writeStartObject();
                json.writeStringField("time", RFC_3339_MS.format(Instant.ofEpochMilli(entry.endEpochMs())));
                json.writeStringField("request_id", entry.requestId());
                json.writeStringField("key_id", entry.keyId());
                json.writeStringField("key_label", entry.keyLabel());
                json.writeStringField("account", entry.accountId());
                json.writeStringField("provider", entry.provider());
                json.writeStringField("model", entry.model());
                json.writeStringField("endpoint", entry.endpoint());
                if (entry.httpStatus() > 0) {
                    json.writeNumberField("status", entry.httpStatus());
                } else {
                    json.writeNullField("status");
                }
                json.writeStringField("outcome", entry.outcome());
                json.writeStringField("reason", entry.reason());
                Usage usage = entry.usage();
                if (usage != null) {
                    json.writeNumberField("input_tokens", usage.inputTokens());
                    json.writeNumberField("cache_read_tokens", usage.cacheReadTokens());
                    json.writeNumberField("cache_write_tokens", usage.cacheWriteTokens());
                    json.writeNumberField("output_tokens", usage.outputTokens());
                    json.writeNumberField("reasoning_tokens", usage.reasoningTokens());
                    json.writeNumberField("cost_micros", entry.costMicros());
                    json.writeNumberField("debited_micros", entry.debitedMicros());
                    json.writeNumberField("written_off_micros", entry.writtenOffMicros());
                } else {
                    for (String field : UNMETERED_FIELDS) {
                        json.writeNullField(field);
                    }
                }
                json.writeNumberField("latency_ms", entry.latencyMs());
                json.writeStringField("upstream_request_id", entry.upstreamRequestId());
                json.writeStringField("requested_model", entry.requestedModel());
                json.writeStringField("attempts_before", entry.attemptsBefore() == null || entry.attemptsBefore().isEmpty() ? null : entry.attemptsBefore());
                json.writeStringField("lane", entry.lane());
                if (entry.directCostMicros() != dev.tollgate.journal.JournalEvent.RequestFacts.PREPAID) {
                    json.writeStringField("billed_by", "provider");
                    json.writeNumberField("direct_cost_micros", entry.directCostMicros());
                } else {
                    json.writeStringField("billed_by", entry.usage() == null ? null : "tollgate");
                    json.writeNullField("direct_cost_micros");
                }
                json.writeEndObject();
            }
            line.write('\n');
            line.writeTo(out);
        } catch (IOException | RuntimeException e) {
            dropped.incrementAndGet();
            failed(e);
        }
    }

    /** Every field a metered line has beyond the common ones, written as null on the others so that every line has the same fields. */
    private static final String[] UNMETERED_FIELDS = {"input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
            "reasoning_tokens", "cost_micros", "debited_micros", "written_off_micros"};

    private void reportDropped() {
        long total = dropped.get();
        long since = total - droppedReported;
        droppedReported = total;
        LOG.warn("{} access log line(s) dropped ({} since start): the queue to {} was full or its writes failed", since, total, destination);
        try {
            line.reset();
            try (JsonGenerator json = JSON.createGenerator(line)) {
                json.writeStartObject();
                json.writeStringField("time", RFC_3339_MS.format(Instant.now()));
                json.writeNumberField("dropped_lines", since);
                json.writeEndObject();
            }
            line.write('\n');
            line.writeTo(out);
        } catch (IOException | RuntimeException e) {
            failed(e); // the count still has them; the metric tells
        }
    }

    private void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            failed(e); // the buffer keeps what it could not write and tries again on the next flush
        }
    }

    private void failed(Exception e) {
        long now = System.nanoTime();
        if (now - lastWriteFailureLogNanos >= TimeUnit.MINUTES.toNanos(1)) {
            lastWriteFailureLogNanos = now;
            LOG.error("cannot write the access log {} (logged once a minute at most): {}", destination, e.toString());
        }
    }
}
