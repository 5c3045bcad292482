package dev.tollgate.proxy.lanes;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a lane's priority means on one event loop: pending resumptions run lower number first, a few per task. */
class ResumptionsTest {
    /** An event loop's task queue, run by hand. */
    private static final class Loop implements java.util.concurrent.Executor {
        final ArrayDeque<Runnable> tasks = new ArrayDeque<>();

        @Override
        public void execute(Runnable task) {
            tasks.add(task);
        }

        /** Runs one task; false when there is none. */
        boolean runOne() {
            Runnable task = tasks.poll();
            if (task == null) {
                return false;
            }
            task.run();
            return true;
        }
    }

    @Test
    void pendingResumptionsRunLowerPriorityNumberFirstInArrivalOrderWithinOne() {
        Loop loop = new Loop();
        Resumptions resumptions = new Resumptions(loop, 2);
        List<String> ran = new ArrayList<>();
        resumptions.submit(1, () -> ran.add("batch-1"));
        resumptions.submit(1, () -> ran.add("batch-2"));
        resumptions.submit(0, () -> ran.add("interactive-1"));
        resumptions.submit(0, () -> ran.add("interactive-2"));
        assertThat(loop.tasks).as("one drain task for them all").hasSize(1);
        loop.runOne();
        assertThat(ran).containsExactly("interactive-1", "interactive-2", "batch-1", "batch-2");
        assertThat(loop.tasks).isEmpty();
    }

    @Test
    void aBurstYieldsTheLoopEveryFewResumptionsAndWorkArrivingMeanwhileRunsBetween() {
        Loop loop = new Loop();
        Resumptions resumptions = new Resumptions(loop, 2);
        List<String> ran = new ArrayList<>();
        for (int i = 0; i < 3 * Resumptions.PER_TURN; i++) {
            int n = i;
            resumptions.submit(1, () -> ran.add("batch-" + n));
        }
        loop.execute(() -> ran.add("io")); // an interactive request's I/O, arriving while the first run of resumptions goes on
        loop.runOne();
        assertThat(ran).hasSize(Resumptions.PER_TURN);
        loop.runOne();
        assertThat(ran.get(Resumptions.PER_TURN)).as("the drain went behind the I/O queued meanwhile").isEqualTo("io");
        resumptions.submit(0, () -> ran.add("interactive"));
        loop.runOne();
        assertThat(ran.get(Resumptions.PER_TURN + 1)).as("the interactive resumption goes before the batch ones left").isEqualTo("interactive");
        while (loop.runOne()) {
            // the rest
        }
        assertThat(ran).hasSize(3 * Resumptions.PER_TURN + 2);
        assertThat(ran.getLast()).isEqualTo("batch-" + (3 * Resumptions.PER_TURN - 1));
    }

    @Test
    void aFailingResumptionDoesNotStopTheOthers() {
        Loop loop = new Loop();
        Resumptions resumptions = new Resumptions(loop, 1);
        List<String> ran = new ArrayList<>();
        resumptions.submit(0, () -> {
            throw new IllegalStateException("a bug in one exchange");
        });
        resumptions.submit(0, () -> ran.add("next"));
        loop.runOne();
        assertThat(ran).containsExactly("next");
    }
}
