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
 * The one thread that appends the request path's records to the journal. Event loops hand it
 * records through a lock-free queue and go on serving; it writes them to the memory-mapped file in
 * the order each producer submitted them, and tells each producer when its record is in the
 * journal. So an event loop never waits on the file: when the kernel is writing a page of the
 * mapping back to disk (which can stall a write into that page for tens of milliseconds), only
 * this thread waits, and the acknowledgements come later. It is also the journal's only appender
 * on the request path, so event loops do not contend on Chronicle's write lock.
 *
 * <p>With {@link Durability#PER_DEBIT} it forces each batch to disk once, before acknowledging any
 * debit in it (group commit).
 */
public final class JournalWriter implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JournalWriter.class);
    /** Records waiting at most; a producer that finds the queue full waits for room (the journal is the bottleneck then). */
    static final int QUEUE_CAPACITY = 65_536;
    /** Records written before the acknowledgements of a batch are sent. */
    private static final int BATCH_LIMIT = 256;
    private static final int SPINS_BEFORE_PARKING = 200;

    /** Told once a record is in the journal ({@code failure} null), or why it could not be written. */
    @FunctionalInterface
    public interface Appended {
        /** Runs on the writer thread: keep it short, and hand work back to the caller's own thread. */
        void appended(RuntimeException failure);
    }

    private record Entry(JournalEvent event, Appended whenAppended) {
    }

    private final Journal journal;
    private final ManyToOneConcurrentArrayQueue<Entry> queue = new ManyToOneConcurrentArrayQueue<>(QUEUE_CAPACITY);
    private final AtomicLong submitted = new AtomicLong();
    private final AtomicLong written = new AtomicLong();
    private final Thread thread;
    private final List<Entry> batch = new ArrayList<>(BATCH_LIMIT);
    private volatile boolean running = true;
    private volatile boolean parked;

    public JournalWriter(Journal journal) {
        this.journal = journal;
        this.thread = Thread.ofPlatform().daemon().name("tollgate-journal-writer").start(this::run);
    }

    /** Queues a record; {@code whenAppended} (may be null) is told when it is in the journal. */
    public void submit(JournalEvent event, Appended whenAppended) {
        Entry entry = new Entry(event, whenAppended);
        submitted.incrementAndGet();
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
            LockSupport.unpark(thread);
        }
    }

    /** Appends a record and waits until it is in the journal; for callers off the event loops. */
    public void append(JournalEvent event) {
        java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();
        submit(event, failure -> {
            if (failure == null) {
                done.complete(null);
            } else {
                done.completeExceptionally(failure);
            }
        });
        try {
            done.join();
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof RuntimeException runtime ? runtime : e;
        }
    }

    /** Waits until every record submitted before this call is in the journal. */
    public void awaitWritten() {
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

    private void run() {
        int idleSpins = 0;
        while (running || !queue.isEmpty()) {
            batch.clear();
            queue.drainTo(batch, BATCH_LIMIT);
            if (batch.isEmpty()) {
                if (++idleSpins < SPINS_BEFORE_PARKING) {
                    Thread.onSpinWait();
                } else {
                    parked = true;
                    if (queue.isEmpty() && running) {
                        LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(1));
                    }
                    parked = false;
                    idleSpins = 0;
                }
                continue;
            }
            idleSpins = 0;
            writeBatch();
        }
    }

    private void writeBatch() {
        RuntimeException[] failures = new RuntimeException[batch.size()];
        boolean debits = false;
        for (int i = 0; i < batch.size(); i++) {
            JournalEvent event = batch.get(i).event();
            try {
                journal.appendWithoutSync(event);
                debits |= Journal.isDebitOrCredit(event);
            } catch (RuntimeException e) {
                LOG.error("cannot journal a {} record", event.type(), e);
                failures[i] = e;
            }
        }
        if (debits && journal.durability() == Durability.PER_DEBIT) {
            try {
                journal.syncCurrentThread();
            } catch (RuntimeException e) {
                LOG.error("cannot force the journal to disk", e);
                java.util.Arrays.fill(failures, e);
            }
        }
        for (int i = 0; i < batch.size(); i++) {
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
        LockSupport.unpark(thread);
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
