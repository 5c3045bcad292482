package dev.tollgate.journal;

import dev.tollgate.config.Durability;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the request path's records go into the journal, in the order each producer submitted
 * them, each producer told when its record is in. Two ways, chosen by the durability setting:
 *
 * <ul>
 *   <li>{@link Durability#PAGE_CACHE} and {@link Durability#PERIODIC}: on the caller's own thread
 *   (the event loop), at once. An append is a copy into the memory-mapped file (about 0.4 us), so
 *   handing it to another thread costs more than it saves: on 2 cores at 10,000 requests/s the
 *   hand-off (waking the writer, then the event loop) took 77 us of CPU per request against 59
 *   inline, and doubled p99 (bench/README.md). The price is that a rare slow write into the mapping
 *   (the kernel faulting a page back in for writing) holds up that event loop.</li>
 *   <li>{@link Durability#PER_DEBIT}: on one writer thread. Each debit must be forced to disk
 *   before it is acknowledged (about 90 us on this class of disk), which an event loop must not wait
 *   for; the writer forces each batch once, before acknowledging any debit in it (group commit).
 *   Event loops hand it records through a lock-free queue and go on serving.</li>
 * </ul>
 */
public final class JournalWriter implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JournalWriter.class);
    /** Records waiting at most; a producer that finds the queue full waits for room (the journal is the bottleneck then). */
    static final int QUEUE_CAPACITY = 65_536;
    /** Records written before the acknowledgements of a batch are sent. */
    private static final int BATCH_LIMIT = 256;
    /** A safety net only: a producer always wakes a parked writer. */
    private static final long PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    private final long parkNanos;

    /** Told once a record is in the journal ({@code failure} null), or why it could not be written. */
    @FunctionalInterface
    public interface Appended {
        /**
         * Runs on the writer thread, or on the submitting thread before {@code submit} returns: keep it
         * short, and hand work back to the caller's own thread.
         */
        void appended(RuntimeException failure);
    }

    private record Entry(JournalEvent event, Appended whenAppended) {
    }

    /**
     * Told how long appends and forced syncs took, in nanoseconds, on the thread that did them (an event loop or
     * the writer thread): keep it to a histogram observation. Failed appends are not timed.
     */
    public interface Timings {
        Timings NONE = new Timings() {
            @Override
            public void appended(long nanos) {
            }

            @Override
            public void synced(long nanos) {
            }
        };

        /** One record copied into the journal (not forced to disk). */
        void appended(long nanos);

        /** One batch forced to disk ({@code PER_DEBIT} durability only). */
        void synced(long nanos);
    }

    private final Journal journal;
    private final JournalHealth health;
    private final ManyToOneConcurrentArrayQueue<Entry> queue = new ManyToOneConcurrentArrayQueue<>(QUEUE_CAPACITY);
    private final AtomicLong submitted = new AtomicLong();
    private final AtomicLong written = new AtomicLong();
    /** The writer thread; null when records are appended on the caller's thread. */
    private final Thread thread;
    private final List<Entry> batch = new ArrayList<>(BATCH_LIMIT);
    /** How many of the batch's records have been told their outcome: those the writer's death must not tell again. */
    private int batchTold;
    private volatile boolean running = true;
    private volatile boolean parked;
    /** Set on the threads of a loop that wake the writer once per turn (see {@link #wakeOncePerTurnOf}). */
    private final ThreadLocal<TurnWakeup> turnWakeup = new ThreadLocal<>();
    private volatile Timings timings = Timings.NONE;

    /** On the caller's thread unless every debit is forced to disk (see above). */
    public JournalWriter(Journal journal) {
        this(journal, journal.durability() == Durability.PER_DEBIT);
    }

    /** {@code ownThread}: append on a writer thread of its own rather than on the caller's thread. */
    JournalWriter(Journal journal, boolean ownThread) {
        this(journal, ownThread, PARK_NANOS);
    }

    /** {@code parkNanos}: how long a parked writer waits unwoken; tests make it long, so that a lost wake-up shows. */
    JournalWriter(Journal journal, boolean ownThread, long parkNanos) {
        this.journal = journal;
        this.health = new JournalHealth(journal.directory());
        this.parkNanos = parkNanos;
        this.thread = ownThread ? Thread.ofPlatform().daemon().name("tollgate-journal-writer").start(this::runUntilClosed) : null;
    }

    /** Whether records are appended on a writer thread of its own. */
    /** Whether the journal can take records now: asked before money is reserved. */
    public JournalHealth health() {
        return health;
    }

    /** True while the writer thread sleeps for want of records (for tests that need it asleep). */
    boolean parked() {
        return parked;
    }

    public boolean ownThread() {
        return thread != null;
    }

    /** Where append and sync times go from now on (the node's metrics); two clock reads per record. */
    public void timings(Timings timings) {
        this.timings = java.util.Objects.requireNonNull(timings);
    }

    /** Queues a record; {@code whenAppended} (may be null) is told when it is in the journal. */
    public void submit(JournalEvent event, Appended whenAppended) {
        if (thread == null) {
            appendHere(event, whenAppended);
            return;
        }
        // Counted before the flag is read: the writer stops only once every record counted here is accounted for,
        // so one offered just as the writer stops is still written, or refused, never left in the queue.
        submitted.incrementAndGet();
        if (!running) {
            submitted.decrementAndGet();
            throw new IllegalStateException("the journal writer is closed");
        }
        Entry entry = new Entry(event, whenAppended);
        int attempts = 0;
        while (!queue.offer(entry)) {
            if (!running) {
                submitted.decrementAndGet();
                throw new IllegalStateException("the journal writer is closed");
            }
            // Full: the disk is the bottleneck, so the producer waits (backpressure) rather than drop a record.
            if (++attempts % 100 == 0) {
                Thread.yield();
            } else {
                Thread.onSpinWait();
            }
        }
        if (parked) {
            TurnWakeup perTurn = turnWakeup.get();
            if (perTurn != null) {
                perTurn.request();
            } else {
                LockSupport.unpark(thread);
            }
        }
    }

    private void appendHere(JournalEvent event, Appended whenAppended) {
        if (!running) {
            throw new IllegalStateException("the journal writer is closed");
        }
        RuntimeException failure = null;
        try {
            long start = System.nanoTime();
            journal.appendWithoutSync(event);
            timings.appended(System.nanoTime() - start);
            health.appendSucceeded();
        } catch (RuntimeException | InternalError e) {
            // InternalError: a fault in mapped memory, which is how a full disk meets a Chronicle append.
            LOG.error("cannot journal a {} record", event.type(), e);
            health.appendFailed();
            failure = e instanceof RuntimeException runtime ? runtime : new IllegalStateException(e.toString(), e);
        }
        if (whenAppended != null) {
            try {
                whenAppended.appended(failure);
            } catch (RuntimeException e) {
                // The record is in the journal either way; a failing acknowledgement must not undo that.
                LOG.error("a journal acknowledgement failed", e);
            }
        }
    }

    /**
     * Called on a loop's thread (a Netty event loop): records this thread submits from now on wake
     * a parked writer once, at the end of the loop's current turn, instead of once each. Waking a
     * thread is a system call and a context switch; an event loop that reads many requests in one
     * turn then pays for one. {@code loop} must run its tasks on this same thread after the turn's
     * work, as an event loop does.
     */
    public void wakeOncePerTurnOf(java.util.concurrent.Executor loop) {
        if (thread != null) {
            turnWakeup.set(new TurnWakeup(loop));
        }
    }

    private final class TurnWakeup implements Runnable {
        private final java.util.concurrent.Executor loop;
        private boolean requested;

        TurnWakeup(java.util.concurrent.Executor loop) {
            this.loop = loop;
        }

        void request() {
            if (!requested) {
                try {
                    loop.execute(this);
                } catch (RuntimeException e) {
                    LockSupport.unpark(thread); // the loop is shutting down: wake the writer now
                    return;
                }
                requested = true;
            }
        }

        @Override
        public void run() {
            requested = false;
            if (parked) {
                LockSupport.unpark(thread);
            }
        }
    }

    /**
     * Wakes a parked writer now, rather than at the end of this loop's turn: for a caller about to
     * block until its record is written (a turn that waits for the writer would never end).
     */
    public void wakeNow() {
        if (thread != null && parked) {
            LockSupport.unpark(thread);
        }
    }

    /** Appends a record and waits until it is in the journal. */
    public void append(JournalEvent event) {
        Acknowledgement journaled = new Acknowledgement();
        submit(event, journaled);
        journaled.await(this);
    }

    /**
     * The one way to wait for the journal: pass it as the callback of a submit, then {@link #await}. For callers
     * that may block (the command line, tests, start-up); an event loop passes its own callback instead.
     */
    public static final class Acknowledgement implements Appended {
        private final java.util.concurrent.CompletableFuture<RuntimeException> journaled = new java.util.concurrent.CompletableFuture<>();

        @Override
        public void appended(RuntimeException failure) {
            journaled.complete(failure);
        }

        /** Wakes {@code writer} so it does not wait for its next turn, waits for the record, and throws why it could not be written. */
        public void await(JournalWriter writer) {
            writer.wakeNow();
            RuntimeException failure = journaled.join();
            if (failure != null) {
                throw failure;
            }
        }
    }

    /** Waits until every record submitted before this call is in the journal. */
    public void awaitWritten() {
        if (thread == null) {
            return; // each record was written before its submit returned
        }
        long target = submitted.get();
        while (written.get() < target) {
            if (!thread.isAlive()) {
                throw new IllegalStateException("the journal writer stopped with records still queued");
            }
            LockSupport.parkNanos(50_000);
        }
    }

    /** Records submitted but not yet in the journal. */
    public long queued() {
        return submitted.get() - written.get();
    }

    /**
     * The writer thread. If it ever dies of something unexpected, it stops taking records and tells every record
     * still queued that it was not written, so no producer waits for ever and none is lost in silence.
     */
    private void runUntilClosed() {
        try {
            run();
        } catch (Throwable unexpected) {
            running = false;
            LOG.error("the journal writer thread failed; records are refused from now on", unexpected);
            IllegalStateException failure = new IllegalStateException("the journal writer stopped: " + unexpected, unexpected);
            // The batch's records up to batchTold were told already (one of them is where this failed); not again.
            tellNotWritten(batch.subList(Math.min(batchTold, batch.size()), batch.size()), failure);
            written.addAndGet(batch.size());
            List<Entry> left = new ArrayList<>();
            while (written.get() < submitted.get()) {
                left.clear();
                queue.drainTo(left, Integer.MAX_VALUE);
                if (left.isEmpty()) {
                    LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(1)); // a producer between its count and its offer
                    continue;
                }
                tellNotWritten(left, failure);
                written.addAndGet(left.size());
            }
            throw unexpected;
        }
    }

    private static void tellNotWritten(List<Entry> entries, RuntimeException failure) {
        for (Entry entry : entries) {
            if (entry.whenAppended() != null) {
                try {
                    entry.whenAppended().appended(failure);
                } catch (RuntimeException e) {
                    LOG.error("a journal acknowledgement failed", e);
                }
            }
        }
    }

    private void run() {
        while (running || written.get() < submitted.get()) {
            batch.clear();
            queue.drainTo(batch, BATCH_LIMIT);
            if (batch.isEmpty()) {
                // No spinning: on a machine of two cores a spinning writer takes the core an event loop needs.
                // The flag is written before the queue is read again, and producers write the queue before
                // reading the flag, so a record offered meanwhile is either seen here or wakes the thread.
                parked = true;
                if (queue.isEmpty()) {
                    // Closing: only a producer between its count and its offer is left; it will not wake us.
                    LockSupport.parkNanos(this, running ? parkNanos : TimeUnit.MILLISECONDS.toNanos(1));
                }
                parked = false;
                continue;
            }
            writeBatch();
        }
    }

    private void writeBatch() {
        batchTold = 0;
        RuntimeException[] failures = new RuntimeException[batch.size()];
        boolean debits = false;
        for (int i = 0; i < batch.size(); i++) {
            JournalEvent event = batch.get(i).event();
            try {
                long start = System.nanoTime();
                journal.appendWithoutSync(event);
                timings.appended(System.nanoTime() - start);
                health.appendSucceeded();
                debits |= Journal.isDebitOrCredit(event);
            } catch (RuntimeException | InternalError e) {
                LOG.error("cannot journal a {} record", event.type(), e);
                health.appendFailed();
                failures[i] = e instanceof RuntimeException runtime ? runtime : new IllegalStateException(e.toString(), e);
            }
        }
        if (debits && journal.durability() == Durability.PER_DEBIT) {
            try {
                long start = System.nanoTime();
                journal.syncCurrentThread();
                timings.synced(System.nanoTime() - start);
            } catch (RuntimeException e) {
                LOG.error("cannot force the journal to disk", e);
                java.util.Arrays.fill(failures, e);
            }
        }
        for (int i = 0; i < batch.size(); i++) {
            batchTold = i + 1;
            Appended callback = batch.get(i).whenAppended();
            if (callback != null) {
                try {
                    callback.appended(failures[i]);
                } catch (RuntimeException e) {
                    LOG.error("a journal acknowledgement failed", e);
                }
            }
        }
        written.addAndGet(batch.size());
    }

    /** Writes what is queued, then stops. */
    @Override
    public void close() {
        running = false;
        if (thread == null) {
            return;
        }
        LockSupport.unpark(thread);
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
