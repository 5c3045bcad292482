package dev.tollgate.journal;

import dev.tollgate.config.Durability;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiPredicate;
import java.util.function.LongSupplier;
import java.util.stream.Stream;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.SyncMode;
import net.openhft.chronicle.queue.ChronicleQueue;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.TailerDirection;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Chronicle Queue that records every change of money. Any thread may append (each gets its own
 * appender; Chronicle's write lock is held for the copy of one record, so two event loops appending at
 * once wait on each other only that long, unless the holder stalls on a page of the mapping); an
 * append lands in the memory-mapped file before it returns and never waits on a reader. Records are {@link JournalCodec} layouts, one per
 * Chronicle document, validated on the way in and on the way out.
 */
public final class Journal implements AutoCloseable {
    private final java.util.concurrent.atomic.AtomicInteger injectedFailures = new java.util.concurrent.atomic.AtomicInteger();
    private static final Logger LOG = LoggerFactory.getLogger(Journal.class);
    private static final ThreadLocal<ByteBuffer> SCRATCH = ThreadLocal.withInitial(() -> ByteBuffer.allocate(JournalCodec.MAX_RECORD_LENGTH));

    private final Path directory;
    private final ChronicleQueue queue;
    private final Durability durability;
    private final boolean readOnly;
    private final Map<Thread, ExcerptAppender> appenders = new ConcurrentHashMap<>();
    private final List<ExcerptTailer> tailers = new CopyOnWriteArrayList<>();
    private final Thread syncThread;
    private volatile boolean closed;
    /** The newest cycle whose file's directory entry was forced to disk; see {@link #forceDirectoryForCycle}. */
    private volatile int directoryForcedForCycle = Integer.MIN_VALUE;
    private final AtomicLong directoryForces = new AtomicLong();
    /** The two newest cycle files, listed when the newest cycle was this one: listed again only once a new cycle's file exists. */
    private List<Path> newestCycleFiles = List.of();
    private int newestCycleFilesListedIn = Integer.MIN_VALUE;

    private Journal(Path directory, Durability durability, int syncIntervalMs, boolean readOnly, LongSupplier cycleClockMs) {
        this.directory = directory;
        this.durability = durability;
        this.readOnly = readOnly;
        // The roll clock must never go back: a clock stepped back across midnight (an NTP correction)
        // would send the appender to the previous day's file, which is closed, and every append would
        // throw until the clock passed midnight again. So it is the newest time seen, starting from the
        // newest cycle on disk (the clock may also be behind it after a restart).
        LongSupplier clock = cycleClockMs != null ? cycleClockMs : System::currentTimeMillis;
        AtomicLong newestMs = new AtomicLong(Long.MIN_VALUE);
        this.queue = SingleChronicleQueueBuilder.binary(directory)
                .rollCycle(RollCycles.FAST_DAILY)
                .syncMode(SyncMode.SYNC)
                .readOnly(readOnly)
                .timeProvider(() -> newestMs.accumulateAndGet(clock.getAsLong(), Math::max))
                .build();
        int newestCycle = ((SingleChronicleQueue) queue).lastCycle();
        if (newestCycle != Integer.MIN_VALUE && newestCycle >= 0) {
            newestMs.accumulateAndGet((long) newestCycle * RollCycles.FAST_DAILY.lengthInMillis(), Math::max);
        }
        if (durability == Durability.PERIODIC && !readOnly) {
            syncThread = Thread.ofPlatform().daemon().name("tollgate-journal-sync").start(() -> syncEvery(syncIntervalMs));
        } else {
            syncThread = null;
        }
    }

    /** Opens (creating if needed) a journal for appending and reading. */
    public static Journal open(Path directory, Durability durability, int syncIntervalMs) {
        return open(directory, durability, syncIntervalMs, null);
    }

    /**
     * Opens a journal whose daily cycles roll by {@code cycleClockMs} instead of the system clock
     * (null: the system clock). Tests use it to write a history that spans days, and months, in
     * milliseconds: the clock that stamps the records should then be the same one.
     */
    public static Journal open(Path directory, Durability durability, int syncIntervalMs, LongSupplier cycleClockMs) {
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create the journal directory " + directory + ": " + e.getMessage(), e);
        }
        return new Journal(directory, durability, syncIntervalMs, false, cycleClockMs);
    }

    /** Opens an existing journal to read it, as the offline commands do; nothing can be appended. */
    public static Journal openReadOnly(Path directory) {
        if (!Files.isDirectory(directory)) {
            throw new IllegalArgumentException("no journal at " + directory);
        }
        return new Journal(directory, Durability.PAGE_CACHE, 0, true, null);
    }

    public Path directory() {
        return directory;
    }

    public Durability durability() {
        return durability;
    }

    /**
     * Appends one record and returns its index. With {@link Durability#PER_DEBIT}, a debit, credit or
     * adjustment is forced to disk before this returns.
     */
    public long append(JournalEvent event) {
        return append(event, durability == Durability.PER_DEBIT);
    }

    /**
     * Appends without forcing a debit to disk even under {@link Durability#PER_DEBIT}: for the
     * {@link JournalWriter}, which forces a whole batch at once before it acknowledges any of it.
     */
    long appendWithoutSync(JournalEvent event) {
        return append(event, false);
    }

    /**
     * For fault tests: the next {@code count} appends fail as an append to a full disk does (Chronicle meets ENOSPC
     * as an {@link InternalError} from mapped memory), without a disk to fill.
     */
    public void failNextAppends(int count) {
        injectedFailures.set(count);
    }

    private long append(JournalEvent event, boolean syncDebit) {
        if (readOnly) {
            throw new IllegalStateException("the journal at " + directory + " is open read-only");
        }
        if (injectedFailures.get() > 0 && injectedFailures.getAndDecrement() > 0) {
            throw new InternalError("a fault in a recent unsafe memory access operation (injected: no space left on device)");
        }
        ByteBuffer record = SCRATCH.get();
        int length = JournalCodec.encode(event, record);
        ExcerptAppender appender = appenders.computeIfAbsent(Thread.currentThread(), thread -> queue.createAppender());
        long index;
        try (DocumentContext document = appender.writingDocument()) {
            Bytes<?> bytes = document.wire().bytes();
            bytes.write(record.array(), 0, length);
            document.index(); // fixes the index while the document is open
        }
        index = appender.lastIndexAppended();
        if (syncDebit && isDebitOrCredit(event)) {
            appender.sync();
            forceDirectoryForCycle(appender.cycle());
        }
        return index;
    }

    static boolean isDebitOrCredit(JournalEvent event) {
        event = event.change();
        return event instanceof JournalEvent.Settled || event instanceof JournalEvent.CreditAdded || event instanceof JournalEvent.Adjusted;
    }

    /** Forces everything this thread appended so far to disk. */
    public void syncCurrentThread() {
        ExcerptAppender appender = appenders.get(Thread.currentThread());
        if (appender != null) {
            appender.sync();
            forceDirectoryForCycle(appender.cycle());
        }
    }

    /**
     * Forces the journal directory to disk once per new cycle: a roll creates a new file, and until its
     * directory entry is on disk a power cut can lose the whole file, records forced into it included
     * (fsync of a file does not persist the name that points to it).
     */
    private void forceDirectoryForCycle(int cycle) {
        if (cycle <= directoryForcedForCycle) {
            return;
        }
        synchronized (directoryForces) {
            if (cycle <= directoryForcedForCycle) {
                return;
            }
            try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
                channel.force(true);
            } catch (IOException e) {
                throw new IllegalStateException("cannot force the journal directory " + directory + " to disk: " + e.getMessage(), e);
            }
            directoryForces.incrementAndGet();
            directoryForcedForCycle = cycle;
        }
    }

    /** How many times the journal directory was forced to disk (once per new cycle, when the durability forces anything). */
    long directoryForces() {
        return directoryForces.get();
    }

    /** Index of the first record, or -1 when the journal is empty. */
    public long firstIndex() {
        long index = queue.firstIndex();
        return index == Long.MAX_VALUE ? -1 : index;
    }

    /** Index of the last record, or -1 when the journal is empty. */
    public long lastIndex() {
        long index = queue.lastIndex();
        return index < 0 ? -1 : index;
    }

    /** Receives records in order, with their index. */
    @FunctionalInterface
    public interface Visitor {
        void visit(long index, JournalEvent event);
    }

    /**
     * Reads the records after {@code afterIndex} (-1: from the first) to the current end, and returns
     * how many it read. A record that fails validation stops the read with a {@link JournalFormatException};
     * an {@code afterIndex} that is not in the journal, though later records are, with a {@link JournalGapException}.
     */
    public long readAfter(long afterIndex, Visitor visitor) {
        ExcerptTailer tailer = queue.createTailer();
        try {
            return read(tailer, afterIndex, Long.MAX_VALUE, visitor);
        } finally {
            tailer.close();
        }
    }

    /** A reader that keeps its position between calls (for the reconciler); {@code name} persists it in the queue. */
    public Cursor cursor(String name) {
        ExcerptTailer tailer = name == null ? queue.createTailer() : queue.createTailer(name);
        tailers.add(tailer);
        return new Cursor(tailer);
    }

    /** A position in the journal that reads forward in batches. Single-threaded. */
    public final class Cursor implements AutoCloseable {
        private final ExcerptTailer tailer;

        private Cursor(ExcerptTailer tailer) {
            this.tailer = tailer;
        }

        /**
         * Moves so that the next record read is the first after {@code index} (-1: the very first).
         *
         * @throws JournalGapException when no record has that index although the journal goes on past it
         */
        public void seekAfter(long index) {
            if (index < 0 || !tailer.moveToIndex(index)) {
                requireNoGapAt(index);
                toFirstRecord(tailer);
            }
            if (index >= 0 && tailer.index() == index) {
                try (DocumentContext skipped = tailer.readingDocument()) {
                    // moveToIndex positions on the record itself; read past it
                }
            }
        }

        /** Reads at most {@code limit} records and returns how many it read (0 when caught up). */
        public long read(long limit, Visitor visitor) {
            return Journal.this.read(tailer, Long.MIN_VALUE, limit, visitor);
        }

        @Override
        public void close() {
            tailers.remove(tailer);
            tailer.close();
        }
    }

    /** The newest records first, for request logs; stops when {@code visitor} returns false. */
    public void readBackward(BiPredicate<Long, JournalEvent> visitor) {
        readBackward(Long.MAX_VALUE, visitor);
    }

    /**
     * The records before {@code beforeIndex}, newest first (from the end when it is
     * {@code Long.MAX_VALUE}), so a paginated request log resumes where its last page stopped without
     * reading the newer records again. Reads nothing when {@code beforeIndex} is not in the journal
     * (archived, or never written). Stops when {@code visitor} returns false.
     */
    public void readBackward(long beforeIndex, BiPredicate<Long, JournalEvent> visitor) {
        ExcerptTailer tailer = queue.createTailer().direction(TailerDirection.BACKWARD);
        try {
            if (beforeIndex == Long.MAX_VALUE) {
                tailer.toEnd();
            } else if (beforeIndex < 0 || !tailer.moveToIndex(beforeIndex)) {
                return;
            } else {
                try (DocumentContext skipped = tailer.readingDocument()) {
                    // positioned on beforeIndex itself: read past it, backward
                }
            }
            ByteBuffer record = ByteBuffer.allocate(JournalCodec.MAX_RECORD_LENGTH);
            while (true) {
                try (DocumentContext document = tailer.readingDocument()) {
                    if (!document.isPresent()) {
                        return;
                    }
                    long index = document.index();
                    if (!visitor.test(index, decode(document, record, index))) {
                        return;
                    }
                }
            }
        } finally {
            tailer.close();
        }
    }

    /**
     * A record index that is not in the journal, though the journal goes on past it: its cycle file was
     * archived or deleted, and the records after it in that cycle (and in any other missing one) with
     * it. Starting over from the first record there is, as this did, would deliver the records after
     * the gap as if they followed {@code index}, and a replay would silently lack the ones in it.
     * An index past the last record is no gap: nothing follows it yet.
     */
    private void requireNoGapAt(long index) {
        if (index < 0) {
            return;
        }
        long last = lastIndex();
        if (index <= last) {
            throw new JournalGapException("no record at index " + Long.toHexString(index) + " in " + directory + ", which goes on to index "
                    + Long.toHexString(last) + " (first " + Long.toHexString(firstIndex()) + "): the cycle file holding it (UTC day "
                    + java.time.LocalDate.ofEpochDay(cycleOf(index)) + ") was archived or deleted, so the records after it are not all here");
        }
    }

    /**
     * Moves to the first record there is. A read-only queue keeps the directory listing it was opened with
     * and cannot refresh it, so once the oldest cycle file is archived or deleted {@code toStart} finds no
     * record at all (the tailer has no index); the oldest file present is where the records start. If even
     * that cannot be reached, this fails loudly rather than read an empty journal.
     */
    private void toFirstRecord(ExcerptTailer tailer) {
        tailer.toStart();
        if (!readOnly) {
            return;
        }
        List<Path> files = cycleFiles();
        if (files.isEmpty()) {
            return;
        }
        int oldestCycle;
        try {
            String name = files.get(0).getFileName().toString();
            oldestCycle = Math.toIntExact(java.time.LocalDate.parse(name.substring(0, 8), java.time.format.DateTimeFormatter.BASIC_ISO_DATE).toEpochDay());
        } catch (RuntimeException notADailyName) {
            return; // not a daily cycle file: leave the tailer where the queue put it
        }
        long index = tailer.index();
        if (index > 0 && cycleOf(index) >= oldestCycle) {
            return;
        }
        if (!tailer.moveToIndex(queue.rollCycle().toIndex(oldestCycle, 0))) {
            throw new JournalGapException("cannot find the first record of " + files.get(0) + ", the oldest cycle file in " + directory
                    + ": reopen the journal (a read-only view does not see cycle files deleted or archived after it opened)");
        }
    }

    private long read(ExcerptTailer tailer, long afterIndex, long limit, Visitor visitor) {
        long skipThrough = Long.MIN_VALUE;
        if (afterIndex != Long.MIN_VALUE) {
            if (afterIndex >= 0 && tailer.moveToIndex(afterIndex)) {
                try (DocumentContext skipped = tailer.readingDocument()) {
                    // positioned on afterIndex itself: read past it
                }
            } else {
                requireNoGapAt(afterIndex);
                // Past the last record (or -1): read from the start but deliver only what comes after
                // it (moveToIndex fails for an index past the end too, and reading from the start
                // then returned the whole journal).
                toFirstRecord(tailer);
                skipThrough = afterIndex;
            }
        }
        ByteBuffer record = SCRATCH.get();
        long count = 0;
        while (count < limit) {
            try (DocumentContext document = tailer.readingDocument()) {
                if (!document.isPresent()) {
                    break;
                }
                long index = document.index();
                if (index <= skipThrough) {
                    continue; // not decoded: only its index matters
                }
                visitor.visit(index, decode(document, record, index));
                count++;
            }
        }
        return count;
    }

    private static JournalEvent decode(DocumentContext document, ByteBuffer record, long index) {
        Bytes<?> bytes = document.wire().bytes();
        int length = (int) bytes.readRemaining();
        if (length > record.capacity()) {
            throw new JournalFormatException("record at index " + Long.toHexString(index) + " is " + length + " bytes, more than any valid record");
        }
        record.clear();
        bytes.read(record.array(), 0, length);
        try {
            return JournalCodec.decode(record, length);
        } catch (JournalFormatException e) {
            throw new JournalFormatException("record at index " + Long.toHexString(index) + ": " + e.getMessage());
        }
    }

    /**
     * How many records follow {@code index} (-1: all of them), for a reader's lag. Exact across cycles;
     * {@code index} must be in the journal (or -1).
     */
    public long recordsAfter(long index) {
        long last = lastIndex();
        if (last < 0 || index >= last) {
            return 0;
        }
        SingleChronicleQueue single = (SingleChronicleQueue) queue;
        if (index < 0) {
            return single.countExcerpts(firstIndex(), last) + 1;
        }
        return single.countExcerpts(index, last);
    }

    /** The files of the journal's cycles, oldest first. */
    public List<Path> cycleFiles() {
        try (Stream<Path> files = Files.list(directory)) {
            return files.filter(path -> path.getFileName().toString().endsWith(".cq4")).sorted().toList();
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + directory, e);
        }
    }

    /** The cycle (roll period) a record index belongs to. */
    public int cycleOf(long index) {
        return queue.rollCycle().toCycle(index);
    }

    private void syncEvery(int intervalMs) {
        while (!closed) {
            try {
                TimeUnit.MILLISECONDS.sleep(intervalMs);
                forceNewestCycles();
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                if (closed) {
                    // close() interrupts this thread, which aborts a force in progress with
                    // ClosedByInterruptException; close() forces the journal itself right after.
                    return;
                }
                LOG.error("journal sync failed; will retry", e);
            }
        }
    }

    /**
     * Forces the two newest cycle files to disk (writes only ever go to the current cycle, and to the
     * previous one around a roll). On Linux fsync writes back pages dirtied through the mapping too.
     */
    /** The files the last {@link #forceNewestCycles} forced. */
    synchronized List<Path> forcedCycleFiles() {
        return newestCycleFiles;
    }

    synchronized void forceNewestCycles() {
        int cycle = ((SingleChronicleQueue) queue).lastCycle(); // from Chronicle's directory metadata, no listing
        if (cycle != newestCycleFilesListedIn || newestCycleFiles.isEmpty()) {
            List<Path> files = cycleFiles();
            newestCycleFiles = files.subList(Math.max(0, files.size() - 2), files.size());
            newestCycleFilesListedIn = cycle;
        }
        for (Path file : newestCycleFiles) {
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                channel.force(false);
            } catch (IOException e) {
                newestCycleFilesListedIn = Integer.MIN_VALUE; // listed again next time
                throw new IllegalStateException("cannot sync " + file + ": " + e.getMessage(), e);
            }
        }
        if (!newestCycleFiles.isEmpty()) {
            forceDirectoryForCycle(cycle);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (syncThread != null) {
            syncThread.interrupt();
            try {
                syncThread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (!readOnly && durability != Durability.PAGE_CACHE) {
            forceNewestCycles();
        }
        appenders.values().forEach(ExcerptAppender::close);
        tailers.forEach(ExcerptTailer::close);
        queue.close();
    }
}
