package dev.tollgate.proxy.lanes;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The queued requests of one event loop that were granted a slot and wait to run there again. A slot is freed on
 * whichever loop its request ended on, so the grant is handed to the waiting request's own loop through here.
 *
 * <p>This is where a lane's {@code priority} acts: one drain task runs the pending resumptions lowest priority number
 * first, at most {@link #PER_TURN} of them, and if more remain it goes to the back of the loop's task queue, behind the
 * I/O and the tasks that came meanwhile. So a burst of slots freed in one lane resumes in short runs between other
 * work, and when two lanes' resumptions are pending together the lower number's go first. It does not pre-empt
 * anything already running: a request that holds a slot is not slowed for another lane's.
 */
public final class Resumptions {
    /** Resumptions run by one drain task before it yields the loop: each runs an admission (parse, reserve, journal). */
    static final int PER_TURN = 8;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Resumptions.class);

    private final Executor loop;
    private final ConcurrentLinkedQueue<Runnable>[] byRank;
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private final Runnable drain = this::drain;

    /** @param ranks how many distinct priorities the lanes have; a resumption's rank is its lane's ({@link Lane#priorityRank}) */
    @SuppressWarnings("unchecked")
    public Resumptions(Executor loop, int ranks) {
        this.loop = loop;
        this.byRank = new ConcurrentLinkedQueue[Math.max(1, ranks)];
        for (int i = 0; i < byRank.length; i++) {
            byRank[i] = new ConcurrentLinkedQueue<>();
        }
    }

    /** From any thread: runs {@code resume} on this loop, in its rank's order. */
    public void submit(int rank, Runnable resume) {
        byRank[rank].offer(resume);
        if (drainScheduled.compareAndSet(false, true)) {
            loop.execute(drain);
        }
    }

    private void drain() {
        drainScheduled.set(false); // first: a submit from now on schedules another drain rather than be missed
        int budget = PER_TURN;
        for (ConcurrentLinkedQueue<Runnable> rank : byRank) {
            Runnable resume;
            while (budget > 0 && (resume = rank.poll()) != null) {
                budget--;
                try {
                    resume.run();
                } catch (RuntimeException e) {
                    LOG.error("a lane resumption failed", e); // each ends its own exchange; the others must still run
                }
            }
        }
        if (budget == 0 && pending() && drainScheduled.compareAndSet(false, true)) {
            loop.execute(drain);
        }
    }

    private boolean pending() {
        for (ConcurrentLinkedQueue<Runnable> rank : byRank) {
            if (!rank.isEmpty()) {
                return true;
            }
        }
        return false;
    }
}
