package dev.tollgate.proxy.lanes;

import dev.tollgate.config.LaneConfig;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One lane's share of the node: at most {@code maxConcurrent} requests hold one of its slots at a time, and up to
 * {@code queueDepth} more wait for one in arrival order. Every event loop shares it, so its counts are atomics and
 * its queue a lock-free one; nothing here blocks.
 *
 * <p>A slot that frees goes straight to the request at the head of the queue (the count does not drop and rise again,
 * so a new arrival cannot overtake the queue). Both sides check again after their own write: an arrival re-tries for a
 * slot after joining the queue, and a slot given back re-checks the queue after counting itself free, so a slot can
 * never be free while a request waits for it.
 */
public final class Lane {
    /** What {@link #enter} did with a request. */
    public enum Entry {
        /** It holds a slot now. */
        ADMITTED,
        /** It waits in the queue; {@link Waiter#granted} is called when a slot is its own. */
        QUEUED,
        /** Every slot is taken and the queue is full: refused, holding nothing. */
        FULL
    }

    /**
     * A request waiting for a slot. It leaves the queue once: granted a slot, or gone (timed out, its client left), and
     * whichever comes first wins; a slot is never granted to a request that left.
     */
    public abstract static class Waiter {
        private static final int WAITING = 0;
        private static final int GRANTED = 1;
        private static final int GONE = 2;
        private final AtomicInteger state = new AtomicInteger(WAITING);

        /** Called once, on whichever thread gave the slot up: the waiter holds a slot of the lane now and must hand its work to its own thread. */
        protected abstract void granted();

        boolean grant() {
            return state.compareAndSet(WAITING, GRANTED);
        }

        boolean leave() {
            return state.compareAndSet(WAITING, GONE);
        }
    }

    private final LaneConfig config;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger queued = new AtomicInteger();
    private final ConcurrentLinkedQueue<Waiter> queue = new ConcurrentLinkedQueue<>();
    private final AtomicLong admitted = new AtomicLong();
    private final AtomicLong waited = new AtomicLong();
    private final AtomicLong refusedFull = new AtomicLong();
    private final AtomicLong refusedTimedOut = new AtomicLong();
    private final AtomicLong leftWhileQueued = new AtomicLong();
    /** A running mean of how long a slot is held, for retry-after; updated without a lock, so an update may be lost: it is an estimate. */
    private final AtomicLong meanHoldNanos = new AtomicLong();
    /** Its rank among the distinct priorities of the node's lanes, 0 first: the index of its resumptions on an event loop. */
    private final int priorityRank;
    private final UpstreamBudget upstream;

    Lane(LaneConfig config, int priorityRank) {
        this.config = config;
        this.priorityRank = priorityRank;
        this.upstream = new UpstreamBudget(config.upstreamConnections());
    }

    /** The lane's upstream connections on the whole node. */
    public UpstreamBudget upstream() {
        return upstream;
    }

    public LaneConfig config() {
        return config;
    }

    public String name() {
        return config.name();
    }

    public int priceMultiplierBps() {
        return config.priceMultiplierBps();
    }

    int priorityRank() {
        return priorityRank;
    }

    /**
     * Takes a slot for {@code waiter}'s request, or queues it, or refuses it. On {@link Entry#QUEUED} its slot may already
     * be on its way: {@link Waiter#granted} can run before this returns, on this thread.
     */
    public Entry enter(Waiter waiter) {
        if (tryAcquire()) {
            admitted.incrementAndGet();
            return Entry.ADMITTED;
        }
        if (queued.incrementAndGet() > config.queueDepth()) {
            queued.decrementAndGet();
            refusedFull.incrementAndGet();
            return Entry.FULL;
        }
        waited.incrementAndGet();
        queue.offer(waiter);
        // A slot given back between the try above and the offer saw no one waiting: take it for the head of the queue.
        if (tryAcquire()) {
            handOn();
        }
        return Entry.QUEUED;
    }

    /** True when {@code waiter} was still waiting and now is not: the caller answers it (timed out). */
    public boolean timedOut(Waiter waiter) {
        if (!waiter.leave()) {
            return false;
        }
        queued.decrementAndGet();
        queue.remove(waiter); // linear in the queue, but a waiter times out once and the queue holds at most queueDepth
        refusedTimedOut.incrementAndGet();
        return true;
    }

    /** True when {@code waiter} was still waiting and now is not: its client left. */
    public boolean abandoned(Waiter waiter) {
        if (!waiter.leave()) {
            return false;
        }
        queued.decrementAndGet();
        queue.remove(waiter);
        leftWhileQueued.incrementAndGet();
        return true;
    }

    /** Gives back a slot held for {@code heldNanos}: to the head of the queue if any request waits, else to the lane. */
    public void release(long heldNanos) {
        long mean = meanHoldNanos.get();
        meanHoldNanos.lazySet(mean == 0 ? heldNanos : mean + (heldNanos - mean) / 8);
        handOn();
    }

    /** The caller holds a slot and gives it up. */
    private void handOn() {
        while (true) {
            Waiter next;
            while ((next = queue.poll()) != null) {
                if (next.grant()) {
                    queued.decrementAndGet();
                    next.granted();
                    return;
                }
            }
            inFlight.decrementAndGet();
            // An arrival may have joined the queue after the poll above and failed to take a slot before the decrement.
            if (queue.isEmpty() || !tryAcquire()) {
                return;
            }
        }
    }

    private boolean tryAcquire() {
        int max = config.maxConcurrent();
        int now;
        do {
            now = inFlight.get();
            if (now >= max) {
                return false;
            }
        } while (!inFlight.compareAndSet(now, now + 1));
        return true;
    }

    /**
     * When to try again, in whole seconds: the queue ahead drained at the lane's mean slot time, at least 1 and at most
     * the queue timeout (by then every request now queued has been served or refused).
     */
    public long retryAfterSeconds() {
        long maxSeconds = Math.max(1, (config.queueTimeoutMs() + 999) / 1000);
        long waitNanos = meanHoldNanos.get() * (queued.get() + 1L) / config.maxConcurrent();
        return Math.clamp((waitNanos + TimeUnit.SECONDS.toNanos(1) - 1) / TimeUnit.SECONDS.toNanos(1), 1, maxSeconds);
    }

    /** Requests holding a slot now. */
    public int inFlight() {
        return inFlight.get();
    }

    /** Requests waiting for a slot now. */
    public int queued() {
        return queued.get();
    }

    /** Requests that took a slot on arrival, since start. */
    public long admittedOnArrival() {
        return admitted.get();
    }

    /** Requests that waited in the queue (whatever became of them), since start. */
    public long waitedInQueue() {
        return waited.get();
    }

    public long refusedFull() {
        return refusedFull.get();
    }

    public long refusedTimedOut() {
        return refusedTimedOut.get();
    }

    public long leftWhileQueued() {
        return leftWhileQueued.get();
    }
}
