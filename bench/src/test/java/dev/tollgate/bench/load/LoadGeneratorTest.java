package dev.tollgate.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.bench.load.LoadGenerator.Counts;
import dev.tollgate.bench.load.LoadGenerator.Result;
import dev.tollgate.bench.load.LoadGenerator.Spec;
import dev.tollgate.bench.load.RequestTemplate.Surface;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The generator's schedule and its coordinated-omission correction, against {@link FakeServer}: a
 * server that serves one request at a time, so its queueing time is known exactly. The assertions are
 * lower bounds that follow from the schedule and the server's service time, not timings of this machine.
 */
class LoadGeneratorTest {

    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);
    private static LoadGenerator generator;

    @BeforeAll
    static void startGenerator() {
        generator = new LoadGenerator(1);
    }

    @AfterAll
    static void stopGenerator() {
        generator.close();
    }

    private static Spec spec(FakeServer server, double rate, long warmupNs, long measureNs, int connections, int maxPending,
                             long responseTimeoutNs) {
        return spec(server, rate, warmupNs, measureNs, connections, maxPending, responseTimeoutNs, 500 * MS);
    }

    private static Spec spec(FakeServer server, double rate, long warmupNs, long measureNs, int connections, int maxPending,
                             long responseTimeoutNs, long drainNs) {
        String host = "127.0.0.1:" + server.address().getPort();
        return new Spec("test", server.address(), List.of(RequestTemplate.chat(Surface.OPENAI, false, 3, 0, host, "k")), rate, warmupNs,
                measureNs, connections, maxPending, responseTimeoutNs, drainNs, List.of());
    }

    @Test
    void sendsEveryRequestOfTheScheduleNeverBeforeItsIntendedTime() throws Exception {
        try (FakeServer server = new FakeServer(0, FakeServer.Behaviour.GOOD_JSON)) {
            Spec spec = spec(server, 200, 250 * MS, 750 * MS, 16, 1024, 5_000 * MS);
            long start = System.nanoTime() + 50 * MS;
            Result result = generator.run(spec, start);

            assertThat(result.warmup().scheduled()).isEqualTo(50);
            assertThat(result.measured().scheduled()).isEqualTo(150);
            assertThat(result.all().completed()).isEqualTo(200);
            assertThat(result.clean()).as(result.problems().toString()).isTrue();
            // Only the measured requests are in the histograms.
            assertThat(result.latencyUs().getTotalCount()).isEqualTo(150);
            assertThat(result.sendLagUs().getTotalCount()).isEqualTo(150);

            List<Long> arrivals = server.arrivalsNs();
            assertThat(arrivals).hasSize(200);
            for (int i = 0; i < arrivals.size(); i++) {
                assertThat(arrivals.get(i)).as("request %d arrived before its intended time", i)
                        .isGreaterThanOrEqualTo(LoadGenerator.intendedNs(start, 200, i));
            }
        }
    }

    @Test
    void latencyIncludesTheTimeARequestQueuedBehindASlowServer() throws Exception {
        // One connection, a request due every 10 ms, a server that takes 50 ms each: request k cannot be
        // answered before (k + 1) * 50 ms, though it was due at k * 10 ms, so its latency is at least
        // 50 + 40k ms. A closed-loop client timing from its actual send would see about 50 ms for every one.
        try (FakeServer server = new FakeServer(50 * MS, FakeServer.Behaviour.GOOD_JSON)) {
            // Queued requests may wait up to 10 s after the schedule ends before they count as unsent.
            Spec spec = spec(server, 100, 0, 500 * MS, 1, 1024, 10_000 * MS, 10_000 * MS);
            Result result = generator.run(spec, System.nanoTime() + 50 * MS);

            assertThat(result.clean()).as(result.problems().toString()).isTrue();
            assertThat(result.measured().completed()).isEqualTo(50);
            assertThat(result.latencyUs().getTotalCount()).isEqualTo(50);
            long lastDueLatencyUs = TimeUnit.MILLISECONDS.toMicros(50 + 40 * 49);
            // HdrHistogram keeps 3 significant digits: allow its 0.1%.
            assertThat(result.latencyUs().getMaxValue()).isGreaterThanOrEqualTo(lastDueLatencyUs * 999 / 1000);
            assertThat(result.latencyUs().getMean()).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toMicros(50 + 40 * 24) * 0.999);
            assertThat(result.latencyUs().getMinValue()).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toMicros(50) * 999 / 1000);
            // The service time (from the actual send) has no queueing in it: each is one 50 ms service.
            assertThat(result.serviceUs().getMinValue()).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toMicros(50) * 999 / 1000);
            assertThat(result.serviceUs().getMaxValue()).isLessThan(result.latencyUs().getMaxValue() / 4);
            // And the lateness of the sends shows where the queue was: in front of the one connection.
            assertThat(result.sendLagUs().getMaxValue()).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toMicros(40 * 49) * 999 / 1000);
        }
    }

    @Test
    void withEnoughConnectionsTheScheduleDoesNotWaitForResponses() throws Exception {
        // The same slow server, 64 connections: the requests leave on schedule while the server still
        // works through the queue, so the last one arrives long before the server could have answered
        // the first 49 (2.45 s), which is when a client waiting for each answer would send it.
        try (FakeServer server = new FakeServer(50 * MS, FakeServer.Behaviour.GOOD_JSON)) {
            Spec spec = spec(server, 100, 0, 500 * MS, 64, 1024, 10_000 * MS);
            long start = System.nanoTime() + 50 * MS;
            Result result = generator.run(spec, start);

            assertThat(result.clean()).as(result.problems().toString()).isTrue();
            List<Long> arrivals = server.arrivalsNs();
            assertThat(arrivals).hasSize(50);
            assertThat(arrivals.get(49) - start).isLessThan(1_500 * MS);
            assertThat(result.latencyUs().getMaxValue()).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toMicros(50 + 40 * 49) * 999 / 1000);
        }
    }

    @Test
    void errorStatusesAndBrokenResponsesAreCountedNotCompleted() throws Exception {
        try (FakeServer server = new FakeServer(0, FakeServer.Behaviour.STATUS_500)) {
            Result result = generator.run(spec(server, 20, 0, 250 * MS, 4, 1024, 5_000 * MS), System.nanoTime() + 20 * MS);
            assertThat(result.all()).isEqualTo(new Counts(5, 5, 0, 5, 0, 0));
            assertThat(result.clean()).isFalse();
            assertThat(result.problems()).anyMatch(problem -> problem.contains("status 500"));
        }
        try (FakeServer server = new FakeServer(0, FakeServer.Behaviour.CUT_JSON)) {
            Result result = generator.run(spec(server, 20, 0, 250 * MS, 4, 1024, 5_000 * MS), System.nanoTime() + 20 * MS);
            assertThat(result.all()).isEqualTo(new Counts(5, 5, 0, 0, 5, 0));
        }
        try (FakeServer server = new FakeServer(0, FakeServer.Behaviour.SILENT)) {
            Result result = generator.run(spec(server, 20, 0, 250 * MS, 8, 1024, 200 * MS), System.nanoTime() + 20 * MS);
            assertThat(result.all()).isEqualTo(new Counts(5, 5, 0, 0, 5, 0));
            assertThat(result.problems()).anyMatch(problem -> problem.contains("no whole response within 200 ms"));
        }
    }

    @Test
    void requestsBeyondTheQueueBoundAreUnsentAndAccountedFor() throws Exception {
        try (FakeServer server = new FakeServer(0, FakeServer.Behaviour.SILENT)) {
            Result result = generator.run(spec(server, 100, 0, 200 * MS, 1, 2, 300 * MS), System.nanoTime() + 20 * MS);
            Counts all = result.all();
            assertThat(all.scheduled()).isEqualTo(20);
            assertThat(all.sent() + all.unsent()).isEqualTo(20);
            assertThat(all.unsent()).isGreaterThanOrEqualTo(10);
            assertThat(all.unaccounted()).isZero();
            assertThat(all.completed()).isZero();
        }
    }

    @Test
    void intendedTimesAreComputedFromTheIndexWithoutDrift() {
        long start = 1_000;
        // 7 requests per second for 10 million requests: no accumulated rounding.
        assertThat(LoadGenerator.intendedNs(start, 7, 7_000_000)).isBetween(start + 1_000_000_000_000_000L - 1_000,
                start + 1_000_000_000_000_000L + 1_000);
        long previous = Long.MIN_VALUE;
        for (long i = 0; i < 10_000; i++) {
            long intended = LoadGenerator.intendedNs(start, 3_333.3, i);
            assertThat(intended).isGreaterThan(previous);
            previous = intended;
        }
        assertThat(LoadGenerator.shareOf(10, 0, 3) + LoadGenerator.shareOf(10, 1, 3) + LoadGenerator.shareOf(10, 2, 3)).isEqualTo(10);
        assertThat(LoadGenerator.shareOf(10, 0, 3)).isEqualTo(4);
        assertThat(LoadGenerator.shareOf(10, 2, 3)).isEqualTo(3);
    }

    @Test
    void theRingIsAFifoWithABound() {
        LoadGenerator.LongRing ring = new LoadGenerator.LongRing(3);
        assertThat(ring.capacity()).isEqualTo(4);
        for (int round = 0; round < 5; round++) {
            ring.add(round * 10L);
            ring.add(round * 10L + 1);
            assertThat(ring.size()).isEqualTo(2);
            assertThat(ring.poll()).isEqualTo(round * 10L);
            assertThat(ring.poll()).isEqualTo(round * 10L + 1);
            assertThat(ring.isEmpty()).isTrue();
        }
    }
}
