package dev.tollgate.proxy.lanes;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many upstream connections one lane holds open on the whole node (connecting, in use and idle, every provider and
 * every event loop together), against its {@code upstreamConnections}. Counted with an atomic rather than split across
 * the event loops, so a lane whose connections are as many as its slots never waits for one however its requests
 * spread over the loops. An event loop that needs a connection while the budget is spent registers a wake-up here and
 * is woken when a connection of the lane closes anywhere.
 */
public final class UpstreamBudget {
    private final int max;
    private final AtomicInteger open = new AtomicInteger();
    private final ConcurrentLinkedQueue<Runnable> wanting = new ConcurrentLinkedQueue<>();

    UpstreamBudget(int max) {
        this.max = max;
    }

    public int max() {
        return max;
    }

    /** Connections of the lane open now. */
    public int open() {
        return open.get();
    }

    /** Counts one more connection, or false when the lane holds its maximum. */
    public boolean tryTake() {
        int now;
        do {
            now = open.get();
            if (now >= max) {
                return false;
            }
        } while (!open.compareAndSet(now, now + 1));
        return true;
    }

    /** One connection of the lane closed: a loop waiting for one is woken to try again. */
    public void give() {
        open.decrementAndGet();
        wakeOne();
    }

    /**
     * From a loop that waits for a connection: {@code wake} runs (from any thread) once a connection of the lane closes.
     * Register, then try {@link #tryTake} again: a connection that closed in between woke no one.
     */
    public void want(Runnable wake) {
        wanting.offer(wake);
    }

    /** Whether a loop waits for a connection of the lane: an idle one should then be closed, not kept. */
    public boolean wanted() {
        return !wanting.isEmpty();
    }

    /** Passes a wake-up on: to the next waiting loop, if any (one woken with nothing left to wait for calls this). */
    public void wakeOne() {
        Runnable wake = wanting.poll();
        if (wake != null) {
            wake.run();
        }
    }
}
